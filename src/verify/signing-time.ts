import type { X509Certificate } from 'node:crypto';
import type { SignatureVerdict } from '../dsse/verify.js';
import { VerificationError } from '../errors.js';
import type { RootKeySource } from '../trust/source.js';
import { parseCertificates, verifyTimestamp } from '../tsa/verify.js';

/**
 * Trusted time: an RFC 3161 timestamp over the signature proves when it existed, and a key from
 * the trusted root is accepted only if that time lies in the key's observed window. A key that
 * leaked after it was retired cannot sign backdated tokens that verify: their timestamp is late.
 */
export interface SigningTimePolicy {
  /** Trusted TSA certificates (leaf or issuing CA). Empty: timestamps cannot be checked. */
  tsaCerts: readonly X509Certificate[];
  /** Allowed slack on both ends of a key's observed window (root updates are periodic). */
  graceSeconds: number;
  root?: RootKeySource;
}

/** Slack around a key's observed window when none is given: root updates run about daily. */
export const DEFAULT_KEY_GRACE_SECONDS = 24 * 3600;

/**
 * What signing-time checks run: with TSA certificates, timestamps are verified and (for keys from
 * a trusted root) must fall in the key's observed window; with a root but no TSA certificate, the
 * report says signing time is unproven. Neither: undefined, verification exactly as before.
 * TSA_CERT_INVALID for a certificate file that holds no parseable PEM certificate.
 */
export function signingTimePolicy(o: {
  /** PEM files (leaf or CA), each named in errors by `name`. */
  tsaCerts?: readonly { pem: string; name: string }[];
  graceSeconds?: number;
  root?: RootKeySource;
}): SigningTimePolicy | undefined {
  const tsaCerts = (o.tsaCerts ?? []).flatMap((c) => parseCertificates(c.pem, c.name));
  if (tsaCerts.length === 0 && !o.root) return undefined;
  return {
    tsaCerts,
    graceSeconds: o.graceSeconds ?? DEFAULT_KEY_GRACE_SECONDS,
    ...(o.root ? { root: o.root } : {}),
  };
}

/** The report's `timestamp` of an attestation whose signing time was proven. */
export interface TimestampInfo {
  /** Subject of the TSA certificate that signed the timestamp. */
  authority: string;
  /** genTime, ISO 8601. */
  time: string;
  serialNumber: string;
  policy: string;
}

/** What verifySigningTime established (report.ts words it). */
export type SigningTimeVerdict =
  | { proven: false; why: 'no-timestamp' | 'no-tsa-cert' }
  | {
      proven: true;
      timestamp: TimestampInfo;
      /** The rooted key's observed window the time fell in (ISO 8601), when the key is rooted. */
      window?: { from: string; to: string };
    };

/**
 * verifySigningTime, on the chosen signature: throws TIMESTAMP_* for a timestamp that does not
 * verify, OP_KEY_OUTSIDE_WINDOW for one outside the key's window. No timestamp is no error
 * (compatibility with every signature made so far): the verdict says the time is unproven.
 */
export function verifySigningTime(chosen: SignatureVerdict, p: SigningTimePolicy): SigningTimeVerdict {
  const v = chosen.result!;
  const sig = v.envelope.signatures[chosen.index]!;
  if (!sig.timestamp) return { proven: false, why: 'no-timestamp' };
  if (p.tsaCerts.length === 0) return { proven: false, why: 'no-tsa-cert' };
  const ts = verifyTimestamp(sig.timestamp, sig.sig, p.tsaCerts);
  const time = new Date(ts.timeMs).toISOString();
  const timestamp = { authority: ts.tsa, time, serialNumber: ts.serialNumber, policy: ts.policy };
  const entry = p.root?.entry(String(v.token.claims.iss), v.token.opKey.thumbprint);
  if (!entry) return { proven: true, timestamp };
  const grace = p.graceSeconds * 1000;
  const window = { from: entry.entry.firstSeen, to: entry.entry.removedAt ?? entry.entry.lastSeen };
  if (ts.timeMs < entry.firstSeenMs - grace || ts.timeMs > entry.endMs + grace) {
    const kid = v.token.opKey.kid !== undefined ? ` ${JSON.stringify(v.token.opKey.kid)}` : '';
    throw new VerificationError(
      'OP_KEY_OUTSIDE_WINDOW',
      `signed at ${time} (timestamp by ${ts.tsa}), outside the observed window of OP key${kid} (${window.from} to ${window.to}, grace ${p.graceSeconds}s)`,
    );
  }
  return { proven: true, timestamp, window };
}

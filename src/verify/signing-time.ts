import type { X509Certificate } from 'node:crypto';
import type { EnvelopeSignature } from '../dsse/envelope.js';
import type { VerifiedEnvelope } from '../dsse/verify.js';
import { VerificationError } from '../errors.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { RootKeySource } from '../trust/source.js';
import { verifyTimestamp } from '../tsa/verify.js';

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

export interface TimestampInfo {
  /** Subject of the TSA certificate that signed the timestamp. */
  authority: string;
  /** genTime, ISO 8601. */
  time: string;
  serialNumber: string;
  policy: string;
}

export interface SigningTimeOutcome {
  check: { check: 'signing-time'; ok: true; message: string; code?: 'SIGNING_TIME_UNPROVEN' };
  signingTime?: string;
  timestamp?: TimestampInfo;
}

/** The envelope signature whose PK Token verified (its timestamp is the one that counts). */
function verifiedSignature(v: VerifiedEnvelope): EnvelopeSignature | undefined {
  return v.envelope.signatures.find((s) => {
    try {
      const p = parsePkToken(s.sig);
      return p.op.signature === v.pkToken.op.signature && p.cic.signature === v.pkToken.cic.signature;
    } catch {
      return false;
    }
  });
}

const unproven = (why: string): SigningTimeOutcome => ({
  check: {
    check: 'signing-time',
    ok: true,
    code: 'SIGNING_TIME_UNPROVEN',
    message: `Signing time unproven: ${why}`,
  },
});

/**
 * Throws TIMESTAMP_* for a timestamp that does not verify, OP_KEY_OUTSIDE_WINDOW for one outside
 * the key's window; otherwise says what was proven. No timestamp is not an error (compatibility
 * with every signature made so far): the outcome says the signing time is unproven.
 */
export function checkSigningTime(v: VerifiedEnvelope, p: SigningTimePolicy): SigningTimeOutcome {
  const sig = verifiedSignature(v);
  if (!sig?.timestamp) return unproven('the signature carries no RFC 3161 timestamp');
  if (p.tsaCerts.length === 0)
    return unproven('the signature is timestamped, but no --tsa-cert was given to check it');
  const ts = verifyTimestamp(sig.timestamp, sig.sig, p.tsaCerts);
  const time = new Date(ts.timeMs).toISOString();
  const timestamp = { authority: ts.tsa, time, serialNumber: ts.serialNumber, policy: ts.policy };
  const iss = String(v.token.claims.iss);
  const entry = p.root?.entry(iss, v.token.opKey.thumbprint);
  if (!entry) {
    return {
      signingTime: time,
      timestamp,
      check: {
        check: 'signing-time',
        ok: true,
        message: `Verified signing time ${time} (timestamp by ${ts.tsa})`,
      },
    };
  }
  const grace = p.graceSeconds * 1000;
  const end = entry.entry.removedAt ?? entry.entry.lastSeen;
  if (ts.timeMs < entry.firstSeenMs - grace || ts.timeMs > entry.endMs + grace) {
    const kid = v.token.opKey.kid !== undefined ? ` ${JSON.stringify(v.token.opKey.kid)}` : '';
    throw new VerificationError(
      'OP_KEY_OUTSIDE_WINDOW',
      `signed at ${time} (timestamp by ${ts.tsa}), outside the observed window of OP key${kid} (${entry.entry.firstSeen} to ${end}, grace ${p.graceSeconds}s)`,
    );
  }
  return {
    signingTime: time,
    timestamp,
    check: {
      check: 'signing-time',
      ok: true,
      message: `Verified signing time ${time} (timestamp by ${ts.tsa}) is within the observed window of the OP key (${entry.entry.firstSeen} to ${end})`,
    },
  };
}

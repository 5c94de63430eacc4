import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { decodeBase64Url } from '../encoding/base64url.js';
import { canonicalJson, type JsonObject } from '../encoding/json.js';
import { OpkError, VerificationError } from '../errors.js';
import { verifyOpSignature, type OpSignatureKind, type VerifiedOpSignature } from '../gq/jwt.js';
import type { KeySource, OpKeySource } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { importUserKey, verifyUserSignature, type UserPublicKey } from '../jws/algorithms.js';
import { decodeClaims, signingInput } from '../jws/compact.js';
import { checkNotFromFuture, formatNumericDate } from './time-claims.js';
import { checkCicClaims, commitment, type CicClaims, type CommitmentLocation } from './cic.js';
import type { PkToken, PkTokenFormat } from './types.js';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';
/** GitLab-style tokens carry the commitment in the GQ header; their fixed aud has this prefix. */
export const GQ_COMMITMENT_AUD_PREFIX = 'OPENPUBKEY-PKTOKEN:';

/** Where the ID token commits to the CIC. `auto` decides from the issuer and the token. */
export type CommitType = CommitmentLocation | 'auto';

export type ExpirationPolicy = 'never' | 'exp' | { maxAgeSeconds: number };

export interface CosignerKey {
  /** Cosigner issuer (`iss` of the COS header); the key is used only for that issuer. */
  iss: string;
  jwk: JsonWebKey;
}

export interface PkTokenVerifyOptions {
  keys: OpKeySource;
  /** When set, an `iss` outside this list fails whatever its signature. */
  trustedIssuers?: readonly string[];
  commitType?: CommitType;
  /** Default `never`: attestations are verified long after the five-minute token expired. */
  expiration?: ExpirationPolicy;
  /** Seconds since the epoch; injected so checks are reproducible. */
  now?: number;
  cosignerKeys?: readonly CosignerKey[];
}

export interface VerifiedPkToken {
  claims: JsonObject;
  cic: CicClaims;
  upk: UserPublicKey;
  format: PkTokenFormat;
  opSignature: OpSignatureKind;
  opKey: RsaPublicKey;
  /** Where the OP key came from (live JWKS, pinned file, archive), when the key source says. */
  keySource?: KeySource;
  /** The OP's own RS256 header (recovered from `kid` for GQ256 tokens). */
  opHeader: JsonObject;
  commitType: Exclude<CommitType, 'auto'>;
  cosigner: { present: false } | { present: true; iss?: string; verified: boolean };
}

/** Every check of a PK Token, in order; each throws a VerificationError with its own code. */
export function verifyPkToken(pkt: PkToken, opts: PkTokenVerifyOptions): VerifiedPkToken {
  const claims = checkIssuer(pkt, opts.trustedIssuers);
  const { op, upk } = verifySignatures(pkt, opts.keys);
  const cic = checkCicClaims(pkt.cic.headerJson, pkt.format);
  if (upk.alg !== cic.alg)
    throw new VerificationError('CIC_CLAIMS_INVALID', `CIC alg ${cic.alg} does not match its key type`);
  const commitType = verifyCommitment(pkt, op, claims, opts.commitType ?? 'auto');
  checkExpiration(claims, opts.expiration ?? 'never', opts.now);
  const cosigner = verifyCosigner(pkt, opts.cosignerKeys);
  const keySource = opts.keys.sourceOf?.(claims.iss as string, op.key);
  return {
    claims,
    cic,
    upk,
    format: pkt.format,
    opSignature: op.kind,
    opKey: op.key,
    ...(keySource ? { keySource } : {}),
    opHeader: op.originalHeader,
    commitType,
    cosigner,
  };
}

function checkIssuer(pkt: PkToken, trusted: readonly string[] | undefined): JsonObject {
  const claims = decodeClaims(pkt.payload, 'PK Token payload');
  const iss = claims.iss;
  if (typeof iss !== 'string')
    throw new VerificationError('CLAIMS_INVALID', 'PK Token payload has no string "iss"');
  if (trusted && !trusted.includes(iss)) {
    throw new VerificationError(
      'OP_ISSUER_UNTRUSTED',
      `issuer ${iss} is not trusted (trusted: ${trusted.join(', ') || 'none'}); to trust it, pass --issuer ${iss}`,
    );
  }
  return claims;
}

const SIGNATURE_FAILURES = new Set(['GQ_PROOF_INVALID', 'OP_SIGNATURE_INVALID']);

/**
 * Both signatures cover the payload, but only the CIC signature covers the CIC header, so
 * running both tells a tampered payload (both fail) from a tampered CIC or OP signature.
 */
function verifySignatures(pkt: PkToken, keys: OpKeySource): { op: VerifiedOpSignature; upk: UserPublicKey } {
  let op: VerifiedOpSignature | undefined;
  let opError: unknown;
  try {
    const sigType = pkt.op.header?.sig_type;
    op = verifyOpSignature(
      {
        protected: pkt.op.protected,
        payload: pkt.payload,
        signature: pkt.op.signature,
        ...(typeof sigType === 'string' ? { sigType } : {}),
      },
      keys,
    );
  } catch (e) {
    if (!(e instanceof OpkError)) throw e;
    opError = e;
  }
  const upk = importUserKey(pkt.cic.headerJson.upk);
  const cicOk = verifyUserSignature(
    upk,
    signingInput(pkt.cic.protected, pkt.payload),
    decodeBase64Url(pkt.cic.signature, 'CIC signature'),
  );
  if (opError) {
    if (!cicOk && SIGNATURE_FAILURES.has((opError as OpkError).code)) {
      throw new VerificationError(
        'PKT_PAYLOAD_MISMATCH',
        'the ID token payload verifies under neither the OP nor the CIC signature',
      );
    }
    throw opError;
  }
  if (!cicOk)
    throw new VerificationError('CIC_SIGNATURE_INVALID', 'CIC signature does not verify with the CIC upk');
  return { op: op!, upk };
}

/**
 * GitHub lets any workflow choose its token's audience, so a GitHub token is only ever bound by
 * `aud`: accepting a GQ-header commitment there would let whoever holds any
 * `OPENPUBKEY-PKTOKEN:` GitHub token sign as that repository, forever.
 */
function resolveCommitType(
  op: VerifiedOpSignature,
  claims: JsonObject,
  requested: CommitType,
): Exclude<CommitType, 'auto'> {
  if (claims.iss === GITHUB_ACTIONS_ISSUER) {
    if (requested !== 'auto' && requested !== 'aud') {
      throw new VerificationError(
        'COMMITMENT_MISMATCH',
        `GitHub Actions tokens commit to the CIC in aud only, not ${requested}`,
      );
    }
    return 'aud';
  }
  if (requested !== 'auto') return requested;
  if (op.gqHeader?.cic !== undefined) return 'gq-cic';
  return typeof claims.nonce === 'string' ? 'nonce' : 'aud';
}

function verifyCommitment(
  pkt: PkToken,
  op: VerifiedOpSignature,
  claims: JsonObject,
  requested: CommitType,
): Exclude<CommitType, 'auto'> {
  const type = resolveCommitType(op, claims, requested);
  let committed: unknown;
  if (type === 'gq-cic') {
    if (op.kind !== 'gq256')
      throw new VerificationError('COMMITMENT_MISMATCH', 'a GQ-header commitment needs a GQ256 OP signature');
    const aud = claims.aud;
    if (typeof aud !== 'string' || !aud.startsWith(GQ_COMMITMENT_AUD_PREFIX)) {
      throw new VerificationError(
        'COMMITMENT_MISMATCH',
        `GQ-committed tokens need an aud starting ${GQ_COMMITMENT_AUD_PREFIX}`,
      );
    }
    committed = op.gqHeader?.cic;
  } else if (type === 'aud') {
    const aud = claims.aud;
    committed = Array.isArray(aud) && aud.length === 1 ? aud[0] : aud;
  } else {
    committed = claims.nonce;
  }
  if (typeof committed !== 'string')
    throw new VerificationError('COMMITMENT_MISMATCH', `ID token has no ${type} commitment`);
  const raw = decodeBase64Url(pkt.cic.protected, 'CIC protected header');
  // 2023 verifiers hash the header bytes as received; current openpubkey hashes its Go
  // re-serialisation. Our own tokens satisfy both; accepting either admits both families.
  if (committed === commitment(raw)) return type;
  let canonical: string | undefined;
  try {
    canonical = canonicalJson(pkt.cic.headerJson);
  } catch {
    /* not canonicalisable (e.g. a fractional number): only the raw bytes could have matched */
  }
  if (canonical !== undefined && committed === commitment(Buffer.from(canonical, 'utf8'))) return type;
  throw new VerificationError('COMMITMENT_MISMATCH', `ID token ${type} does not commit to this CIC`);
}

function checkExpiration(
  claims: JsonObject,
  policy: ExpirationPolicy,
  now = Math.floor(Date.now() / 1000),
): void {
  checkNotFromFuture(claims, now);
  if (policy === 'never') return;
  if (policy === 'exp') {
    if (typeof claims.exp !== 'number') throw new VerificationError('TOKEN_EXPIRED', 'ID token has no exp');
    if (now >= claims.exp)
      throw new VerificationError('TOKEN_EXPIRED', `ID token expired at ${formatNumericDate(claims.exp)}`);
    return;
  }
  if (typeof claims.iat !== 'number') throw new VerificationError('TOKEN_EXPIRED', 'ID token has no iat');
  if (now > claims.iat + policy.maxAgeSeconds)
    throw new VerificationError('TOKEN_EXPIRED', 'ID token is older than the allowed age');
}

function verifyCosigner(pkt: PkToken, keys: readonly CosignerKey[] | undefined): VerifiedPkToken['cosigner'] {
  if (!pkt.cos) return { present: false };
  const h = pkt.cos.headerJson;
  const iss = typeof h.iss === 'string' ? h.iss : undefined;
  if (!keys || keys.length === 0) return { present: true, ...(iss ? { iss } : {}), verified: false };
  const candidates = keys.filter(
    (k) => k.iss === iss && (h.kid === undefined || k.jwk.kid === undefined || k.jwk.kid === h.kid),
  );
  if (candidates.length === 0)
    throw new VerificationError(
      'COSIGNER_KEY_NOT_FOUND',
      `no cosigner key for ${iss ?? 'a cosigner without iss'}`,
    );
  const data = signingInput(pkt.cos.protected, pkt.payload);
  const sig = decodeBase64Url(pkt.cos.signature, 'cosigner signature');
  const ok = candidates.some((k) => {
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({ key: k.jwk, format: 'jwk' });
    } catch {
      return false;
    }
    const alg =
      keyObject.asymmetricKeyType === 'ec'
        ? 'ES256'
        : keyObject.asymmetricKeyType === 'rsa'
          ? 'RS256'
          : 'EdDSA';
    if (h.alg !== alg) return false;
    return verifyUserSignature({ alg, keyObject }, data, sig);
  });
  if (!ok) throw new VerificationError('COSIGNER_SIGNATURE_INVALID', 'cosigner signature does not verify');
  return { present: true, ...(iss ? { iss } : {}), verified: true };
}

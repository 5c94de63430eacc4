import { parseEnvelope } from '../dsse/envelope.js';
import { verifyEnvelope, type VerifiedEnvelope } from '../dsse/verify.js';
import { UsageError, VerificationError } from '../errors.js';
import { gqSignJwt, gqVerifyJwt, type GqFormat, type VerifiedOpSignature } from '../gq/jwt.js';
import type { KeySource, OpKeyQuery } from '../jwk/set.js';
import { decodeClaims, parseCompactJws } from '../jws/compact.js';
import { jwsKeyQuery, opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import { checkNotFromFuture } from '../pktoken/time-claims.js';
import type { PkToken } from '../pktoken/types.js';
import { verifyPkToken, type VerifiedPkToken } from '../pktoken/verify.js';
import type { Trust } from './create.js';

/**
 * Verifiers over a `Trust`: the one async step (fetching a key live trust may lack, e.g. an
 * unknown kid after a rotation) runs first, then the pure, synchronous crypto.
 */

/** Lets live trust fetch the key a PK Token names before verifying. */
export async function prefetchFor(trust: Trust, pkTokenBytes: Uint8Array | string): Promise<void> {
  if (!trust.prefetch) return;
  let query: OpKeyQuery;
  try {
    query = opKeyQuery(parsePkToken(pkTokenBytes));
  } catch {
    return; // the verification step reports the malformed token with its own code
  }
  await trust.prefetch(query);
}

/** A PK Token in any openpubkey serialisation, verified against `trust`. */
export async function verifyPkTokenBytes(
  bytes: Uint8Array | string,
  trust: Trust,
): Promise<{ token: PkToken; verified: VerifiedPkToken }> {
  await prefetchFor(trust, bytes);
  const token = parsePkToken(bytes);
  return { token, verified: verifyPkToken(token, trust) };
}

/** A DSSE envelope whose signatures are PK Tokens, verified against `trust`. */
export async function verifyEnvelopeBytes(bytes: Uint8Array, trust: Trust): Promise<VerifiedEnvelope> {
  let sigs: { sig: Uint8Array }[] = [];
  try {
    sigs = parseEnvelope(bytes).signatures;
  } catch {
    // verifyEnvelope reports it with its own code
  }
  for (const s of sigs) await prefetchFor(trust, s.sig);
  return verifyEnvelope(bytes, trust);
}

/** A verified GQ token, and the trust material that vouched for its OP key. */
export interface VerifiedGqToken extends VerifiedOpSignature {
  keySource?: KeySource;
}

/**
 * A GQ-signed ID token, verified against `trust`. The issuer is checked first: a pinned key of
 * one OP must not vouch for a token that claims another `iss`. Its time claims get the PK Token
 * rule (NumericDate types, no `iat`/`nbf` from the future); like attestations, it is not expired
 * by `exp`.
 */
export async function verifyGqToken(
  token: string,
  trust: Trust,
  opts: { now?: number } = {},
): Promise<VerifiedGqToken> {
  const jws = parseCompactJws(token, 'GQ token');
  const iss = decodeClaims(jws.payload, 'GQ token payload').iss;
  if (trust.trustedIssuers && !trust.trustedIssuers.includes(String(iss)))
    throw new VerificationError(
      'OP_ISSUER_UNTRUSTED',
      `issuer ${String(iss)} is not trusted (trusted: ${trust.trustedIssuers.join(', ')}); to trust it, pass --issuer ${String(iss)}`,
    );
  await trust.prefetch?.(jwsKeyQuery(jws.headerJson, jws.payload));
  const v = gqVerifyJwt(token, trust.keys);
  checkNotFromFuture(v.claims, opts.now ?? Math.floor(Date.now() / 1000));
  const keySource = trust.keys.sourceOf?.(String(v.claims.iss), v.key);
  return { ...v, ...(keySource ? { keySource } : {}) };
}

/**
 * Replaces an RS256 ID token's signature with a GQ proof under the OP key `trust` holds for it.
 * The key must be known: a proof under a guessed key would be a proof of nothing.
 */
export function gqSignToken(token: string, trust: Trust, opts: { format: GqFormat }): string {
  const jws = parseCompactJws(token, 'ID token');
  const claims = decodeClaims(jws.payload, 'ID token payload');
  const kid = typeof jws.headerJson.kid === 'string' ? jws.headerJson.kid : undefined;
  const [key] = trust.keys.find({ iss: String(claims.iss ?? ''), ...(kid !== undefined ? { kid } : {}) });
  if (!key) throw new UsageError('GQ_KEY_NOT_FOUND', `no key in the JWKS for kid ${kid ?? '(none)'}`);
  return gqSignJwt(token, key, opts);
}

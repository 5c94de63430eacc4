import type { JsonObject } from '../encoding/json.js';
import { OpkError } from '../errors.js';
import { selectKeys } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { verifyRs256 } from '../jws/algorithms.js';
import { decodeClaims, parseCompactJws, signingInput, type CompactJws } from '../jws/compact.js';
import { decodeBase64Url } from '../encoding/base64url.js';
import type { IssuedIdToken } from '../pktoken/mint.js';
import { checkTimeClaimTypes } from '../pktoken/time-claims.js';
import { OpError } from './errors.js';
import type { JwksCache } from './jwks-cache.js';

export interface IdTokenExpectations {
  issuer: string;
  /** The ID token's `aud` must be (or, as an array, contain exactly) this. */
  aud?: string;
  /** `aud` must start with this (GitLab-style fixed audiences). */
  audPrefix?: string;
  nonce?: string;
  /** Seconds since the epoch. */
  now: number;
  /** Tolerated clock difference with the OP, seconds. */
  skew?: number;
}

export interface CheckedIdToken {
  claims: JsonObject;
  key: RsaPublicKey;
  kid?: string;
}

function parseIdToken(idToken: string) {
  try {
    return parseCompactJws(idToken, 'ID token');
  } catch (e) {
    throw new OpError(
      'OP_BAD_RESPONSE',
      `the OP returned something that is not a JWT (${(e as OpkError).code})`,
    );
  }
}

/**
 * The signer checks its fresh token before building anything on it: a token we would sign
 * with must verify under the OP's published key and say what we asked for. Pure: keys in.
 */
export function checkIdToken(
  idToken: string | CompactJws,
  keys: readonly RsaPublicKey[],
  exp: IdTokenExpectations,
): CheckedIdToken {
  const jws = typeof idToken === 'string' ? parseIdToken(idToken) : idToken;
  const bad = (msg: string) => new OpError('OP_TOKEN_INVALID', msg);
  if (jws.headerJson.alg !== 'RS256')
    throw bad(`ID token alg ${JSON.stringify(jws.headerJson.alg ?? null)} is not RS256`);
  const kid = typeof jws.headerJson.kid === 'string' ? jws.headerJson.kid : undefined;
  const candidates = selectKeys(keys, { iss: exp.issuer, ...(kid !== undefined ? { kid } : {}) });
  if (candidates.length === 0)
    throw bad(`the OP's JWKS has no key${kid ? ` with kid "${kid}"` : ''} for this ID token`);
  const sig = decodeBase64Url(jws.signature, 'ID token signature');
  const input = signingInput(jws.header, jws.payload);
  const key = candidates.find((k) => verifyRs256(k, input, sig));
  if (!key) throw bad(`ID token RS256 signature does not verify under the OP key${kid ? ` "${kid}"` : ''}`);
  const claims = decodeClaims(jws.payload, 'ID token payload');
  if (claims.iss !== exp.issuer)
    throw bad(`ID token iss ${JSON.stringify(claims.iss ?? null)} is not ${exp.issuer}`);
  const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
  const badAud = (msg: string) => new OpError('OP_TOKEN_AUDIENCE', msg);
  if (exp.aud !== undefined && aud !== exp.aud) {
    throw badAud(
      Array.isArray(aud) ? 'ID token has several audiences' : 'ID token aud is not the requested audience',
    );
  }
  if (exp.audPrefix !== undefined && (typeof aud !== 'string' || !aud.startsWith(exp.audPrefix))) {
    throw badAud(`ID token aud does not start with ${exp.audPrefix}`);
  }
  if (exp.nonce !== undefined && claims.nonce !== exp.nonce)
    throw bad('ID token nonce is not the one we sent');
  checkTimeTypes(claims);
  const skew = exp.skew ?? 60;
  if (typeof claims.exp !== 'number' || exp.now - skew >= claims.exp)
    throw bad('ID token is expired (or has no exp); check the clock');
  if (typeof claims.nbf === 'number' && exp.now + skew < claims.nbf)
    throw bad('ID token is not valid yet; check the clock');
  if (typeof claims.iat === 'number' && exp.now + skew < claims.iat)
    throw bad('ID token was issued in the future; check the clock');
  return { claims, key, ...(kid !== undefined ? { kid } : {}) };
}

/**
 * The verifiers' NumericDate rule, as the signer's: a token every verifier would refuse with
 * CLAIM_TYPE_INVALID is one the OP issued and we cannot use, so nothing is built on it.
 */
function checkTimeTypes(claims: JsonObject): void {
  try {
    checkTimeClaimTypes(claims);
  } catch (e) {
    if (!(e instanceof OpkError)) throw e;
    throw new OpError('OP_TOKEN_INVALID', `${e.message} (${e.code})`);
  }
}

/**
 * Told the OP's key set after a fresh ID token verified under it (e.g. to archive it). A hook
 * the caller wires: fetching a token never writes anything by itself.
 */
export type OnIssuerKeys = (issuer: string, jwks: { keys: Record<string, unknown>[] }) => Promise<void>;

export interface FreshTokenCheck {
  /** Where the OP's keys come from (discovery, cached, with a cool-down). */
  keys: JwksCache;
  expect: Omit<IdTokenExpectations, 'now'>;
  now?: () => number;
  signal?: AbortSignal;
  onKeys?: OnIssuerKeys;
}

/**
 * The one path every provider takes with a token the OP just handed out: fetch the key its kid
 * names, check signature and claims, then tell `onKeys`. Nobody builds on an unchecked token.
 */
export async function checkFreshIdToken(idToken: string, o: FreshTokenCheck): Promise<IssuedIdToken> {
  // Parsed once: only the header's kid is read before the keys are there to check it.
  const jws = parseIdToken(idToken);
  const kid = typeof jws.headerJson.kid === 'string' ? jws.headerJson.kid : undefined;
  const issuer = o.expect.issuer;
  const keys = await o.keys.ensure(issuer, kid !== undefined ? { kid } : {}, o.signal);
  const now = Math.floor((o.now ?? Date.now)() / 1000);
  const checked = checkIdToken(jws, keys, { ...o.expect, now });
  const jwks = o.onKeys ? o.keys.snapshot(issuer) : undefined;
  if (jwks) await o.onKeys!(issuer, jwks);
  return { idToken, opKey: checked.key };
}

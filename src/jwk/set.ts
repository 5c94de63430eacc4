import { parseJsonObject } from '../encoding/json.js';
import { FormatError } from '../errors.js';
import { rsaKeyFromJwk, type RsaPublicKey } from './rsa.js';

/** What a verifier knows about the OP key it is looking for. */
export interface OpKeyQuery {
  iss: string;
  kid?: string;
  /** RFC 7638 thumbprint pinned by a GQ256 header (`jkt`). */
  jkt?: string;
}

/**
 * Trust material is injected: the verifier asks a source for candidate keys and never fetches.
 * Live discovery, pinned files and archives all implement this.
 */
export interface OpKeySource {
  find(query: OpKeyQuery): RsaPublicKey[];
}

/** Keys of a JWKS document. RSA signing keys only; other keys are skipped, not fatal. */
export function parseJwks(text: string, what = 'JWKS'): RsaPublicKey[] {
  const doc = parseJsonObject(text, what);
  if (!Array.isArray(doc.keys)) throw new FormatError('JWKS_INVALID', `${what} has no "keys" array`);
  const keys: RsaPublicKey[] = [];
  for (const jwk of doc.keys) {
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) continue;
    if (jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    if (jwk.alg !== undefined && jwk.alg !== 'RS256') continue;
    keys.push(rsaKeyFromJwk(jwk));
  }
  return keys;
}

/** Selects by kid, then narrows by jkt; with neither, only an unambiguous single key is returned. */
export function selectKeys(keys: readonly RsaPublicKey[], query: OpKeyQuery): RsaPublicKey[] {
  let found = keys.slice();
  if (query.kid !== undefined) found = found.filter((k) => k.kid === query.kid);
  if (query.jkt !== undefined) found = found.filter((k) => k.thumbprint === query.jkt);
  if (query.kid === undefined && query.jkt === undefined && found.length !== 1) return [];
  return found;
}

/** A fixed key set: a pinned JWKS file, or a test's keys. Optionally bound to one issuer. */
export class StaticKeySource implements OpKeySource {
  constructor(
    private readonly keys: readonly RsaPublicKey[],
    private readonly issuer?: string,
  ) {}
  find(query: OpKeyQuery): RsaPublicKey[] {
    if (this.issuer !== undefined && query.iss !== this.issuer) return [];
    return selectKeys(this.keys, query);
  }
}

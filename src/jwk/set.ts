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

/**
 * The one rule for which JWKS members can verify an OP signature, whether the set came from a
 * pinned file, live discovery or an archive: RSA, `use` sig or absent, `alg` RS256 or absent.
 */
export function isRsaSigningJwk(jwk: unknown): jwk is Record<string, unknown> {
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return false;
  const j = jwk as Record<string, unknown>;
  return (
    j.kty === 'RSA' && (j.use === undefined || j.use === 'sig') && (j.alg === undefined || j.alg === 'RS256')
  );
}

/** Keys of a parsed JWKS document; other members are skipped, not fatal. */
export function jwksKeys(doc: unknown, what = 'JWKS'): RsaPublicKey[] {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new FormatError('JWKS_INVALID', `${what} has no "keys" array`);
  return keys.filter(isRsaSigningJwk).map((jwk) => rsaKeyFromJwk(jwk));
}

/** Keys of a JWKS document given as text. */
export function parseJwks(text: string, what = 'JWKS'): RsaPublicKey[] {
  return jwksKeys(parseJsonObject(text, what), what);
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

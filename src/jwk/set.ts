import { parseJsonObject } from '../encoding/json.js';
import { printable } from '../encoding/printable.js';
import { FormatError } from '../errors.js';
import { rsaKeyFromJwk, type RsaPublicKey } from './rsa.js';

/** What a verifier knows about the OP key it is looking for. */
export interface OpKeyQuery {
  iss: string;
  kid?: string;
  /** RFC 7638 thumbprint pinned by a GQ256 header (`jkt`). */
  jkt?: string;
}

/** Where a verifying key came from, so a report can say which trust material vouched. */
export interface KeySource {
  kind: 'live' | 'pinned' | 'archive' | 'root';
  /** The JWKS URL, the pinned file's path, the archive snapshot file, or the trusted root file. */
  location: string;
}

/** A JWKS member left out because it cannot verify anything; kid, thumbprint and reason, never key material. */
export interface SkippedKey {
  /** The member's kid in full: lookups compare it whole (print it with `printableKid`). */
  kid?: string;
  /** RFC 7638 thumbprint, when the member parsed as an RSA key (so a `jkt`-only token finds it). */
  jkt?: string;
  /** Stable reason code: JWK_UNSUPPORTED, JWK_WEAK, JWK_EXPONENT, JWK_INVALID. */
  code: string;
  reason: string;
}

/**
 * Trust material is injected: the verifier asks a source for candidate keys and never fetches.
 * Live discovery, pinned files and archives all implement this.
 */
export interface OpKeySource {
  find(query: OpKeyQuery): RsaPublicKey[];
  /** Where `key`, found for issuer `iss`, came from (for reports). */
  sourceOf?(iss: string, key: RsaPublicKey): KeySource | undefined;
  /** Skipped members this query names, so its failure can say why rather than "not found". */
  unusable?(query: OpKeyQuery): SkippedKey[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Members that are not signing keys at all (`use: enc`): not ours to look at, nothing to warn about. */
function isForSigning(jwk: Record<string, unknown>): boolean {
  return jwk.use === undefined || jwk.use === 'sig';
}

/**
 * The one rule for which JWKS members can verify an OP signature, whether the set came from a
 * pinned file, live discovery or an archive: RSA, `use` sig or absent, `alg` RS256 or absent.
 */
export function isRsaSigningJwk(jwk: unknown): jwk is Record<string, unknown> {
  return (
    isObject(jwk) && jwk.kty === 'RSA' && isForSigning(jwk) && (jwk.alg === undefined || jwk.alg === 'RS256')
  );
}

/** Longest kid a message quotes: the OP chooses kids, a message must stay readable. */
const PRINTED_KID_CHARS = 200;

/** A kid for a message: quoted, escaped, and bounded (matching always uses the whole kid). */
export function printableKid(kid: string): string {
  const short = kid.length > PRINTED_KID_CHARS ? `${kid.slice(0, PRINTED_KID_CHARS)}...` : kid;
  return printable(JSON.stringify(short));
}

/** A member value quoted in a warning: escaped, and short whatever the OP published. */
function shortJson(v: unknown): string {
  const text = JSON.stringify(v ?? null) ?? 'null';
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** GQ256 is defined for e = 65537 only (openpubkey #230); a key no token can use is skipped. */
const GQ_EXPONENT = 65537n;

/** The thumbprint of an RSA member we will not use, when it parses at all. */
function thumbprintOf(jwk: Record<string, unknown>): string | undefined {
  try {
    return rsaKeyFromJwk(jwk).thumbprint;
  } catch (e) {
    if (e instanceof FormatError) return undefined;
    throw e;
  }
}

/** One member: a usable key, a skip with its reason, or undefined for members that are not signing keys. */
export function jwkMember(jwk: unknown): { key: RsaPublicKey } | { skipped: SkippedKey } | undefined {
  if (isObject(jwk) && !isForSigning(jwk)) return undefined;
  const kid = isObject(jwk) && typeof jwk.kid === 'string' ? jwk.kid : undefined;
  const skip = (code: string, reason: string, jkt?: string) => ({
    skipped: { ...(kid !== undefined ? { kid } : {}), ...(jkt !== undefined ? { jkt } : {}), code, reason },
  });
  if (!isObject(jwk)) return skip('JWK_INVALID', 'member is not a JSON object');
  if (jwk.kty !== 'RSA') return skip('JWK_UNSUPPORTED', `kty ${shortJson(jwk.kty)} is not RSA`);
  if (jwk.alg !== undefined && jwk.alg !== 'RS256')
    return skip('JWK_UNSUPPORTED', `alg ${shortJson(jwk.alg)} is not RS256`, thumbprintOf(jwk));
  let key: RsaPublicKey;
  try {
    key = rsaKeyFromJwk(jwk);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return skip(e.code, e.message);
  }
  if (key.e !== GQ_EXPONENT)
    return skip('JWK_EXPONENT', `RSA exponent ${key.e} is not 65537`, key.thumbprint);
  return { key };
}

/** Usable keys of a parsed JWKS document, and the members skipped as unusable (one stray key must not cost the set). */
export function readJwks(doc: unknown, what = 'JWKS'): { keys: RsaPublicKey[]; skipped: SkippedKey[] } {
  const members = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(members)) throw new FormatError('JWKS_INVALID', `${what} has no "keys" array`);
  const keys: RsaPublicKey[] = [];
  const skipped: SkippedKey[] = [];
  for (const m of members) {
    const r = jwkMember(m);
    if (r && 'key' in r) keys.push(r.key);
    else if (r) skipped.push(r.skipped);
  }
  return { keys, skipped };
}

/** Usable keys of a parsed JWKS document; unusable members are skipped (see `readJwks` for which). */
export function jwksKeys(doc: unknown, what = 'JWKS'): RsaPublicKey[] {
  return readJwks(doc, what).keys;
}

/** Keys of a JWKS document given as text. */
export function parseJwks(text: string, what = 'JWKS'): RsaPublicKey[] {
  return jwksKeys(parseJsonObject(text, what), what);
}

/** A trust-material warning: the verification goes on, but someone should look. */
export interface KeyWarning {
  code: 'JWKS_KEY_SKIPPED';
  message: string;
}

/** The one warning for a skipped member, wherever the set came from. */
export function skippedKeyWarning(what: string, s: SkippedKey): KeyWarning {
  const kid = s.kid !== undefined ? printableKid(s.kid) : '(no kid)';
  return {
    code: 'JWKS_KEY_SKIPPED',
    message: `${printable(what)}: skipped key ${kid}: ${printable(s.reason)} (${s.code})`,
  };
}

/**
 * Skipped members a query names, by the rule `selectKeys` uses: the kid must match when the
 * query has one, the thumbprint when the query has a `jkt` and the member's is known. A member
 * whose thumbprint is unknown (it did not parse) is named by kid alone; a query with neither
 * names none. Members the `jkt` confirms come first.
 */
export function skippedFor(skipped: readonly SkippedKey[], query: OpKeyQuery): SkippedKey[] {
  const { kid, jkt } = query;
  if (kid === undefined && jkt === undefined) return [];
  const named = skipped.filter(
    (s) =>
      (kid === undefined || s.kid === kid) &&
      (jkt === undefined || s.jkt === jkt || (kid !== undefined && s.jkt === undefined)),
  );
  return jkt === undefined
    ? named
    : [...named.filter((s) => s.jkt === jkt), ...named.filter((s) => s.jkt !== jkt)];
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
    private readonly source?: KeySource,
  ) {}
  find(query: OpKeyQuery): RsaPublicKey[] {
    if (this.issuer !== undefined && query.iss !== this.issuer) return [];
    return selectKeys(this.keys, query);
  }
  sourceOf(_iss: string, key: RsaPublicKey): KeySource | undefined {
    return this.source && this.keys.includes(key) ? this.source : undefined;
  }
}

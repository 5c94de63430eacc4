import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { decodeBase64UrlLenient, encodeBase64Url } from '../encoding/base64url.js';
import { canonicalJson } from '../encoding/json.js';
import { FormatError } from '../errors.js';
import { bitLength, bytesToBigInt } from '../encoding/bigint.js';

/** An OP's RSA signing key, as the verifier and the GQ signer both need it. */
export interface RsaPublicKey {
  readonly kid?: string;
  readonly alg?: string;
  readonly x5t?: string;
  readonly n: bigint;
  readonly e: bigint;
  readonly nBytes: number;
  readonly keyObject: KeyObject;
  /** RFC 7638 thumbprint, base64url(SHA-256) — what OpenPubkey calls `jkt`. */
  readonly thumbprint: string;
  /** The public members only, safe to print or archive. */
  readonly jwk: Readonly<Record<string, unknown>>;
}

const MIN_RSA_BITS = 2048;

export function rsaKeyFromJwk(input: unknown): RsaPublicKey {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new FormatError('JWK_INVALID', 'JWK is not an object');
  }
  const jwk = input as Record<string, unknown>;
  if (jwk.kty !== 'RSA') throw new FormatError('JWK_UNSUPPORTED', `JWK kty ${String(jwk.kty)} is not RSA`);
  if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new FormatError('JWK_INVALID', 'RSA JWK needs string members n and e');
  }
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string')
    throw new FormatError('JWK_INVALID', 'JWK alg must be a string');
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string')
    throw new FormatError('JWK_INVALID', 'JWK kid must be a string');
  // Published keys are re-encoded canonically below, so padded spellings are harmless here.
  const nRaw = decodeBase64UrlLenient(jwk.n, 'JWK n');
  const eRaw = decodeBase64UrlLenient(jwk.e, 'JWK e');
  const n = bytesToBigInt(nRaw);
  const e = bytesToBigInt(eRaw);
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS)
    throw new FormatError('JWK_WEAK', `RSA modulus of ${bits} bits is below ${MIN_RSA_BITS}`);
  if (e < 3n || (e & 1n) === 0n)
    throw new FormatError('JWK_INVALID', 'RSA exponent must be odd and at least 3');
  // Canonical (minimal) encodings, so thumbprints and key objects agree with every other tool.
  const nB64 = encodeBase64Url(nRaw[0] === 0 ? nRaw.subarray(1) : nRaw);
  const eB64 = encodeBase64Url(eRaw[0] === 0 ? eRaw.subarray(1) : eRaw);
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: { kty: 'RSA', n: nB64, e: eB64 }, format: 'jwk' });
  } catch {
    throw new FormatError('JWK_INVALID', 'RSA JWK could not be imported');
  }
  const thumbprint = encodeBase64Url(
    createHash('sha256')
      .update(canonicalJson({ e: eB64, kty: 'RSA', n: nB64 }))
      .digest(),
  );
  const pub: Record<string, unknown> = { kty: 'RSA', n: nB64, e: eB64 };
  for (const k of ['kid', 'alg', 'use', 'x5t'] as const) if (typeof jwk[k] === 'string') pub[k] = jwk[k];
  return {
    kid: jwk.kid as string | undefined,
    alg: jwk.alg as string | undefined,
    x5t: typeof jwk.x5t === 'string' ? jwk.x5t : undefined,
    n,
    e,
    nBytes: Math.ceil(bits / 8),
    keyObject,
    thumbprint,
    jwk: pub,
  };
}

import {
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type ECKeyPairKeyObjectOptions,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { decodeBase64Url } from '../encoding/base64url.js';
import { FormatError } from '../errors.js';
import type { RsaPublicKey } from '../jwk/rsa.js';

export function verifyRs256(key: RsaPublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== key.nBytes) return false;
  return verify('sha256', data, key.keyObject, signature);
}

/** A user key as the CIC `upk` describes it, imported for verification. */
export interface UserPublicKey {
  alg: 'ES256' | 'RS256' | 'EdDSA';
  keyObject: KeyObject;
}

function importJwk(jwk: Record<string, string>): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw new FormatError('UPK_INVALID', 'CIC upk is not a valid public key');
  }
}

/** Imports `upk`; only the algorithms OpenPubkey clients produce (ES256, RS256, EdDSA). */
export function importUserKey(upk: unknown): UserPublicKey {
  if (upk === null || typeof upk !== 'object' || Array.isArray(upk))
    throw new FormatError('UPK_INVALID', 'CIC upk is not a JWK object');
  const j = upk as Record<string, unknown>;
  const str = (k: string) => {
    if (typeof j[k] !== 'string')
      throw new FormatError('UPK_INVALID', `CIC upk member ${k} must be a string`);
    return j[k] as string;
  };
  switch (j.kty) {
    case 'EC': {
      if (str('crv') !== 'P-256') throw new FormatError('UPK_UNSUPPORTED', 'CIC upk curve must be P-256');
      for (const c of ['x', 'y']) {
        if (decodeBase64Url(str(c), `upk ${c}`).length !== 32)
          throw new FormatError('UPK_INVALID', `CIC upk ${c} must be 32 bytes`);
      }
      return { alg: 'ES256', keyObject: importJwk({ kty: 'EC', crv: 'P-256', x: str('x'), y: str('y') }) };
    }
    case 'RSA':
      return { alg: 'RS256', keyObject: importJwk({ kty: 'RSA', n: str('n'), e: str('e') }) };
    case 'OKP':
      if (str('crv') !== 'Ed25519')
        throw new FormatError('UPK_UNSUPPORTED', 'CIC upk OKP curve must be Ed25519');
      return { alg: 'EdDSA', keyObject: importJwk({ kty: 'OKP', crv: 'Ed25519', x: str('x') }) };
    default:
      throw new FormatError('UPK_UNSUPPORTED', `CIC upk kty ${String(j.kty)} is not supported`);
  }
}

export function verifyUserSignature(key: UserPublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  switch (key.alg) {
    case 'ES256':
      // JWS ES256 is raw r‖s; high-S values are valid (WebCrypto and Go produce both).
      if (signature.length !== 64) return false;
      return verify('sha256', data, { key: key.keyObject, dsaEncoding: 'ieee-p1363' }, signature);
    case 'RS256':
      return verify('sha256', data, key.keyObject, signature);
    case 'EdDSA':
      return verify(null, data, key.keyObject, signature);
  }
}

/** An ephemeral ES256 signer: the private key lives only in this closure and is never exported. */
export interface EphemeralSigner {
  alg: 'ES256';
  publicJwk: { alg: 'ES256'; crv: 'P-256'; kty: 'EC'; x: string; y: string };
  sign(data: Uint8Array): Uint8Array;
}

export function generateEs256Signer(): EphemeralSigner {
  // The JWK comes out of the key-generation job itself. Never `publicKey.export({format:'jwk'})`
  // on a fresh key: on Node 20 a GC during that export runs the finished job's destructor, which
  // takes the lock the export holds, and the thread deadlocks (within ~5,000 keys in a loop).
  // @types/node lacks the documented `format: 'jwk'` encoding for key generation.
  const { privateKey, publicKey: pub } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { format: 'jwk' },
  } as unknown as ECKeyPairKeyObjectOptions) as unknown as { privateKey: KeyObject; publicKey: JsonWebKey };
  return {
    alg: 'ES256',
    publicJwk: { alg: 'ES256', crv: 'P-256', kty: 'EC', x: pub.x as string, y: pub.y as string },
    sign: (data) => sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

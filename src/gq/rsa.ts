import { constants, createHash, publicEncrypt } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { bitLength, bytesToBigInt } from '../encoding/bigint.js';
import { createEngine, gqSign, gqVerify, shake256, type GqEngine, type GqParams } from './core.js';

/** GQ256 security parameter: 256 bits of challenge. */
const SECURITY_BITS = 256;

/**
 * GQ parameters for an RSA key (v = e). t = ceil(256 / floor(log2 v)) as in current openpubkey,
 * which equals the 2023 formula for e = 65537. Other exponents are refused: with a challenge
 * chunk wider than log2(v) the proof is unsound (openpubkey #230), and no OP we know uses one.
 */
export function rsaGqParams(key: RsaPublicKey): GqParams {
  if (key.e !== 65537n) {
    throw new UsageError('GQ_UNSUPPORTED_KEY', `GQ256 needs an RSA exponent of 65537, this key has ${key.e}`);
  }
  const vBits = bitLength(key.e);
  const vBytes = Math.ceil((vBits - 1) / 8);
  const t = Math.ceil(SECURITY_BITS / (vBits - 1));
  return { n: key.n, v: key.e, nBytes: key.nBytes, vBytes, t };
}

const engines = new WeakMap<RsaPublicKey, GqEngine>();

/** One engine per key, so the native key object and parameters are derived once. */
export function rsaEngine(key: RsaPublicKey): GqEngine {
  let engine = engines.get(key);
  if (!engine) {
    const params = rsaGqParams(key);
    // x^e mod n is the RSA public operation; OpenSSL does it several times faster than BigInt.
    const powV = (x: Uint8Array) =>
      bytesToBigInt(publicEncrypt({ key: key.keyObject, padding: constants.RSA_NO_PADDING }, x));
    engine = createEngine(params, shake256, powV);
    engines.set(key, engine);
  }
  return engine;
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** EMSA-PKCS1-v1_5 encoding of SHA-256(identity): the value an RS256 signature is a v-th root of. */
export function pkcs1v15Sha256(identity: Uint8Array, nBytes: number): bigint {
  const digest = createHash('sha256').update(identity).digest();
  const tLen = SHA256_DIGEST_INFO.length + digest.length;
  if (nBytes < tLen + 11)
    throw new UsageError('GQ_UNSUPPORTED_KEY', 'RSA modulus too short for PKCS#1 v1.5 SHA-256');
  const em = Buffer.alloc(nBytes, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[nBytes - tLen - 1] = 0x00;
  SHA256_DIGEST_INFO.copy(em, nBytes - tLen);
  digest.copy(em, nBytes - digest.length);
  return bytesToBigInt(em);
}

/**
 * Proves knowledge of the RS256 signature `rsaSignature` over `identity` without revealing it,
 * binding the proof to `message`. The caller must have checked the RSA signature first.
 */
export function gqSignWithRsaSignature(
  key: RsaPublicKey,
  rsaSignature: Uint8Array,
  message: Uint8Array,
  random?: (i: number) => bigint,
): Uint8Array {
  const engine = rsaEngine(key);
  const sigma = bytesToBigInt(rsaSignature);
  if (sigma === 0n || sigma >= key.n)
    throw new UsageError('GQ_TOKEN_SIGNATURE', 'RSA signature is out of range for this key');
  return gqSign(engine, { root: sigma }, message, random ? { random } : {});
}

export function gqVerifyWithRsaKey(
  key: RsaPublicKey,
  identity: Uint8Array,
  message: Uint8Array,
  proof: Uint8Array,
): void {
  const engine = rsaEngine(key);
  gqVerify(engine, pkcs1v15Sha256(identity, key.nBytes), message, proof);
}

export function gqProofLength(key: RsaPublicKey): number {
  const p = rsaGqParams(key);
  return p.t * p.vBytes + p.t * p.nBytes;
}

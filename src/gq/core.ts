import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { ModN, bigIntToBytes, bytesToBigInt, fixedBasePow } from './bigint.js';

/**
 * GQ1 (ISO/IEC 14888-2) identity-based signatures, generic over the modulus, exponent, security
 * parameter and challenge hash so that the ISO known-answer vector (SHA-1, t = 1) and
 * OpenPubkey's GQ256 (SHAKE256, t = 16) run through the same code.
 */
export interface GqParams {
  n: bigint;
  v: bigint;
  nBytes: number;
  vBytes: number;
  t: number;
}

/** Returns `outLen` bytes of H(data). */
export type ChallengeHash = (data: Uint8Array, outLen: number) => Uint8Array;

export const shake256: ChallengeHash = (data, outLen) =>
  createHash('shake256', { outputLength: outLen }).update(data).digest();

export interface GqEngine {
  params: GqParams;
  mod: ModN;
  hash: ChallengeHash;
  /** x^v mod n; RSA keys route this through OpenSSL (see rsa.ts). */
  powV(x: bigint): bigint;
}

export function createEngine(
  params: GqParams,
  hash: ChallengeHash = shake256,
  powV?: (x: bigint) => bigint,
): GqEngine {
  const mod = new ModN(params.n);
  return { params, mod, hash, powV: powV ?? ((x) => mod.pow(x, params.v)) };
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

function challenge(engine: GqEngine, w: bigint[], message: Uint8Array): Uint8Array {
  const { nBytes, vBytes, t } = engine.params;
  const wBytes = w.map((x) => bigIntToBytes(x, nBytes));
  return engine.hash(concat([...wBytes, message]), t * vBytes);
}

function splitChallenge(r: Uint8Array, params: GqParams): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < params.t; i++)
    out.push(bytesToBigInt(r.subarray(i * params.vBytes, (i + 1) * params.vBytes)));
  return out;
}

export function randomBelow(n: bigint, nBytes: number): bigint {
  // 64 extra bits make the modulo bias negligible (< 2^-64).
  for (;;) {
    const x = bytesToBigInt(randomBytes(nBytes + 8)) % n;
    if (x !== 0n) return x;
  }
}

export interface SignOptions {
  /** Injected randomness, for known-answer tests only. */
  random?: (i: number) => bigint;
}

/** Proof = R ‖ S_1 … S_t where Q is the private number (Q^v·G ≡ 1 mod n). */
export function gqSign(engine: GqEngine, q: bigint, message: Uint8Array, opts: SignOptions = {}): Uint8Array {
  const { n, nBytes, vBytes, t } = engine.params;
  const rs: bigint[] = [];
  for (let i = 0; i < t; i++) rs.push(opts.random ? opts.random(i) : randomBelow(n, nBytes));
  const w = rs.map((r) => engine.powV(r));
  const R = challenge(engine, w, message);
  const qPows = fixedBasePow(engine.mod, q, splitChallenge(R, engine.params), vBytes * 8);
  const S = rs.map((r, i) => bigIntToBytes(engine.mod.mul(r % n, qPows[i]!), nBytes));
  return concat([R, ...S]);
}

/**
 * Throws GQ_PROOF_MALFORMED for a proof of the wrong length or an S_i outside [1, n), and
 * GQ_PROOF_INVALID when the challenge does not recompute. G is the public identity number.
 */
export function gqVerify(engine: GqEngine, g: bigint, message: Uint8Array, proof: Uint8Array): void {
  const { n, nBytes, vBytes, t } = engine.params;
  const rLen = t * vBytes;
  if (proof.length !== rLen + t * nBytes) {
    throw new VerificationError(
      'GQ_PROOF_MALFORMED',
      `GQ proof is ${proof.length} bytes, expected ${rLen + t * nBytes} for this key`,
    );
  }
  const R = proof.subarray(0, rLen);
  const S: bigint[] = [];
  for (let i = 0; i < t; i++) {
    const s = bytesToBigInt(proof.subarray(rLen + i * nBytes, rLen + (i + 1) * nBytes));
    if (s === 0n || s >= n)
      throw new VerificationError('GQ_PROOF_MALFORMED', `GQ proof component S_${i + 1} is out of range`);
    S.push(s);
  }
  const gPows = fixedBasePow(engine.mod, g, splitChallenge(R, engine.params), vBytes * 8);
  const w = S.map((s, i) => engine.mod.mul(engine.powV(s), gPows[i]!));
  const expected = challenge(engine, w, message);
  if (!timingSafeEqual(expected, R)) {
    throw new VerificationError('GQ_PROOF_INVALID', 'GQ proof does not verify for this message and key');
  }
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { bigIntToBytes, bytesToBigInt } from '../encoding/bigint.js';
import { ModN, fixedBasePow } from './bigint.js';

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
  /**
   * x^v mod n for x given as nBytes big-endian bytes (x < n). Bytes in, because proof components
   * arrive as bytes and OpenSSL takes bytes: RSA keys route this through it (see rsa.ts).
   */
  powV(x: Uint8Array): bigint;
}

export function createEngine(
  params: GqParams,
  hash: ChallengeHash = shake256,
  powV?: (x: Uint8Array) => bigint,
): GqEngine {
  const mod = new ModN(params.n);
  return { params, mod, hash, powV: powV ?? ((x) => mod.pow(bytesToBigInt(x), params.v)) };
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

/**
 * `count` uniform values in [1, n) from one draw of the system RNG (each of the t commitments
 * of a signature needs one; one draw is one syscall and one buffer instead of t).
 */
export function randomsBelow(n: bigint, nBytes: number, count: number): bigint[] {
  // 64 extra bits make the modulo bias negligible (< 2^-64).
  const width = nBytes + 8;
  const pool = randomBytes(width * count);
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    let x = bytesToBigInt(pool.subarray(i * width, (i + 1) * width)) % n;
    // Zero has probability < 2^-2000: redraw alone rather than give up the single draw.
    while (x === 0n) x = bytesToBigInt(randomBytes(width)) % n;
    out.push(x);
  }
  return out;
}

export interface SignOptions {
  /** Injected randomness, for known-answer tests only. */
  random?: (i: number) => bigint;
}

/** The prover's secret: Q with Q^v·G ≡ 1 (ISO form), or the RSA signature σ itself (σ^v ≡ G). */
export type GqSecret = { q: bigint } | { root: bigint };

/**
 * Proof = R ‖ S_1 … S_t. With Q: S_i = r_i·Q^{R_i}. With σ, no inverse is needed: take
 * r_i = ρ_i·σ^c with c = 2^(8·vBytes) > every R_i, so S_i = r_i·σ^{-R_i} = ρ_i·σ^{c-R_i}; r_i is
 * as uniform as ρ_i because σ is a unit mod n. (A 2048-bit inverse costs as much as the proof.)
 */
export function gqSign(
  engine: GqEngine,
  secret: GqSecret,
  message: Uint8Array,
  opts: SignOptions = {},
): Uint8Array {
  const { n, nBytes, vBytes, t } = engine.params;
  const mod = engine.mod;
  const rhos = opts.random
    ? Array.from({ length: t }, (_, i) => opts.random!(i) % n)
    : randomsBelow(n, nBytes, t);
  const cBits = 8 * vBytes;
  const c = 1n << BigInt(cBits);
  const shift = 'root' in secret ? mod.pow(secret.root, c) : 1n;
  const rs = 'root' in secret ? rhos.map((rho) => mod.mul(rho, shift)) : rhos;
  const w = rs.map((r) => engine.powV(bigIntToBytes(r, nBytes)));
  const R = challenge(engine, w, message);
  const challenges = splitChallenge(R, engine.params);
  const S =
    'root' in secret
      ? fixedBasePow(
          mod,
          secret.root,
          challenges.map((x) => c - x),
          cBits + 1,
        ).map((p, i) => mod.mul(rhos[i]!, p))
      : fixedBasePow(mod, secret.q, challenges, cBits).map((p, i) => mod.mul(rhos[i]!, p));
  return concat([R, ...S.map((x) => bigIntToBytes(x, nBytes))]);
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
  const nBuf = bigIntToBytes(n, nBytes);
  const S: Uint8Array[] = [];
  for (let i = 0; i < t; i++) {
    const s = proof.subarray(rLen + i * nBytes, rLen + (i + 1) * nBytes);
    if (s.every((b) => b === 0) || Buffer.compare(s, nBuf) >= 0)
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

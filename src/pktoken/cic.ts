import { createHash, randomBytes } from 'node:crypto';
import { encodeBase64Url } from '../encoding/base64url.js';
import { canonicalJson, type JsonObject, type JsonValue } from '../encoding/json.js';
import { UsageError, VerificationError } from '../errors.js';
import type { PkTokenFormat } from './types.js';

/** Client Instance Claims: the CIC signature's protected header, committed to by the ID token. */
export interface CicClaims {
  alg: string;
  rz: string;
  upk: JsonObject;
  typ?: 'CIC';
  att?: string;
  [extra: string]: JsonValue | undefined;
}

const RESERVED = new Set(['alg', 'upk', 'rz', 'typ']);
const HEX64 = /^[0-9a-f]{64}$/;

export interface BuildCicOptions {
  upk: JsonObject & { alg: string };
  /** Gen B/C adds `typ: "CIC"`; the 2023 format has none. */
  withTyp: boolean;
  att?: string;
  extra?: JsonObject;
  rz?: string;
}

/**
 * Returns the CIC and its Go-canonical bytes. The same bytes are hashed for the commitment and
 * used as the JWS protected header, so a raw-bytes verifier (2023) and a re-serialising one
 * (current openpubkey) compute the same commitment.
 */
export function buildCic(opts: BuildCicOptions): { claims: CicClaims; bytes: Buffer } {
  for (const k of Object.keys(opts.extra ?? {})) {
    if (RESERVED.has(k)) throw new UsageError('CIC_RESERVED_CLAIM', `CIC claim ${k} is reserved`);
  }
  const rz = opts.rz ?? randomBytes(32).toString('hex');
  if (!HEX64.test(rz)) throw new UsageError('CIC_INVALID', 'rz must be 64 lowercase hex characters');
  if (opts.att !== undefined && !HEX64.test(opts.att))
    throw new UsageError('CIC_INVALID', 'att must be 64 lowercase hex characters');
  const claims: CicClaims = {
    ...opts.extra,
    ...(opts.att !== undefined ? { att: opts.att } : {}),
    alg: opts.upk.alg,
    rz,
    upk: opts.upk,
    ...(opts.withTyp ? { typ: 'CIC' as const } : {}),
  };
  return { claims, bytes: Buffer.from(canonicalJson(claims), 'utf8') };
}

/** Where an ID token carries the commitment: `aud` (GitHub Actions), `nonce` (logins), the GQ header's `cic` (GitLab). */
export type CommitmentLocation = 'aud' | 'nonce' | 'gq-cic';

/** commitment = base64url(SHA3-256(bytes)), 43 characters. */
export function commitment(cicBytes: Uint8Array): string {
  return encodeBase64Url(createHash('sha3-256').update(cicBytes).digest());
}

/** Checks the CIC members every format requires; the signature is checked elsewhere. */
export function checkCicClaims(cic: JsonObject, format: PkTokenFormat): CicClaims {
  if (format === 'current' && cic.typ !== 'CIC')
    throw new VerificationError('CIC_CLAIMS_INVALID', 'CIC header typ must be "CIC"');
  if (typeof cic.alg !== 'string') throw new VerificationError('CIC_CLAIMS_INVALID', 'CIC header has no alg');
  if (typeof cic.rz !== 'string' || cic.rz.length === 0)
    throw new VerificationError('CIC_CLAIMS_INVALID', 'CIC header has no rz');
  const upk = cic.upk;
  if (upk === null || typeof upk !== 'object' || Array.isArray(upk)) {
    throw new VerificationError('CIC_CLAIMS_INVALID', 'CIC header has no upk');
  }
  if (upk.alg !== undefined && upk.alg !== cic.alg) {
    throw new VerificationError(
      'CIC_CLAIMS_INVALID',
      `CIC alg ${cic.alg} differs from upk alg ${String(upk.alg)}`,
    );
  }
  return cic as CicClaims;
}

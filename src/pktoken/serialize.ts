import { UsageError } from '../errors.js';
import type { PkSignature, PkToken } from './types.js';

// Hand-written so member order is fixed and no segment is ever re-encoded.
const q = JSON.stringify;

function sig2023(sig: PkSignature, sigType: string): string {
  return `{"protected":${q(sig.protected)},"header":{"sig_type":${q(sigType)}},"signature":${q(sig.signature)}}`;
}

function sigCurrent(sig: PkSignature): string {
  return `{"protected":${q(sig.protected)},"signature":${q(sig.signature)}}`;
}

/**
 * The 2023 JSON of openpubkey dfa56788 `ToJSON` (Go struct order: payload, signatures; per
 * signature protected, header, signature; CIC first, then OP, then COS), as the BuildKit fork
 * embeds in DSSE `sig`.
 */
export function toJson2023(pkt: PkToken, opSigType: 'oidc' | 'oidc_gq'): string {
  const sigs = [sig2023(pkt.cic, 'cic'), sig2023(pkt.op, opSigType)];
  if (pkt.cos) sigs.push(sig2023(pkt.cos, 'cos'));
  return `{"payload":${q(pkt.payload)},"signatures":[${sigs.join(',')}]}`;
}

/** Current openpubkey JSON: OP, CIC, COS; no unprotected headers. */
export function toJsonCurrent(pkt: PkToken): string {
  const sigs = [sigCurrent(pkt.op), sigCurrent(pkt.cic)];
  if (pkt.cos) sigs.push(sigCurrent(pkt.cos));
  return `{"payload":${q(pkt.payload)},"signatures":[${sigs.join(',')}]}`;
}

/** Compact form exists only for typ-tagged (2024+) tokens: a 2023 CIC has no typ to find it by. */
export function toCompact(pkt: PkToken): string {
  if (pkt.format === '2023')
    throw new UsageError('PKT_FORMAT', 'the 2023 format has no compact serialisation');
  const parts = [pkt.payload, pkt.op.protected, pkt.op.signature, pkt.cic.protected, pkt.cic.signature];
  if (pkt.cos) parts.push(pkt.cos.protected, pkt.cos.signature);
  return parts.join(':') + (pkt.freshIdToken ? `.${pkt.freshIdToken}` : '');
}

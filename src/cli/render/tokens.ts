import { identityClaims, type VerifiedEnvelope } from '../../dsse/verify.js';
import { printable } from '../../encoding/printable.js';
import type { PkToken } from '../../pktoken/types.js';
import type { VerifiedPkToken } from '../../pktoken/verify.js';
import type { VerifiedGqToken } from '../../trust/tokens.js';
import { keySourceText } from '../../verify/key-source.js';

/** Output of `envelope verify`, `pktoken verify` and `gq verify`: JSON views and their text lines. */

export function envelopeView(v: VerifiedEnvelope) {
  return {
    valid: true,
    payloadType: v.envelope.payloadType,
    statementType: v.statement.type,
    predicateType: v.statement.predicateType,
    subjects: v.statement.subjects.map((s) => ({ name: s.name, digest: s.digest })),
    identity: identityClaims(v.token.claims),
    pkToken: {
      generation: v.token.format,
      opSignature: v.token.opSignature,
      opKeyJkt: v.token.opKey.thumbprint,
      ...(v.token.keySource ? { keySource: v.token.keySource } : {}),
    },
  };
}

export function envelopeText(v: VerifiedEnvelope): string {
  const r = envelopeView(v);
  const out = [
    `✓ Verified DSSE envelope signed by ${r.identity.iss ?? '?'}${keySourceText(v.token.keySource, v.token.opKey.kid)}`,
    `  predicate type: ${r.predicateType}`,
  ];
  for (const s of r.subjects) {
    for (const [alg, d] of Object.entries(s.digest)) out.push(`  subject: ${s.name} ${alg}:${d}`);
  }
  for (const [k, val] of Object.entries(r.identity)) out.push(`  ${k}: ${val}`);
  return out.join('\n') + '\n';
}

export function pkTokenView(pkt: PkToken, v: VerifiedPkToken) {
  return {
    valid: true,
    generation: v.format,
    serialization: pkt.serialization,
    opSignature: v.opSignature,
    opKey: { kid: v.opKey.kid ?? null, jkt: v.opKey.thumbprint },
    ...(v.keySource ? { keySource: v.keySource } : {}),
    commitment: v.commitType,
    upk: v.cic.upk,
    cosigner: v.cosigner,
    claims: identityClaims(v.claims),
  };
}

export function pkTokenText(pkt: PkToken, v: VerifiedPkToken): string {
  const r = pkTokenView(pkt, v);
  let out = `✓ PK Token valid (${r.generation} ${pkt.serialization}, OP signature ${v.opSignature}, commitment in ${v.commitType})\n`;
  out += `  signed by ${String(v.claims.iss)}${keySourceText(v.keySource, v.opKey.kid)}\n`;
  for (const [k, val] of Object.entries(r.claims)) out += `  ${k}: ${val}\n`;
  if (v.cosigner.present)
    out += `  cosigner: ${v.cosigner.iss ?? '?'} (${v.cosigner.verified ? 'verified' : 'not checked: no cosigner key'})\n`;
  return out;
}

export function gqView(v: VerifiedGqToken) {
  return {
    valid: true,
    format: v.kind === 'gq256' ? 'gq256' : '2023',
    kid: v.key.kid ?? null,
    ...(v.keySource ? { keySource: v.keySource } : {}),
    claims: identityClaims(v.claims),
  };
}

export function gqText(v: VerifiedGqToken): string {
  const r = gqView(v);
  return `✓ GQ signature valid (${r.format}, OP key ${printable(r.kid ?? v.key.thumbprint)}, issuer ${printable(String(v.claims.iss))})${keySourceText(v.keySource, v.key.kid)}\n`;
}

/** Pretty JSON with a trailing newline, as every `--output json` prints. */
export const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

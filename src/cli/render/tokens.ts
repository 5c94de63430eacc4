import { classify, OpkError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { identityClaims, type VerifiedEnvelope } from '../../dsse/verify.js';
import { printable } from '../../encoding/printable.js';
import type { PkToken } from '../../pktoken/types.js';
import type { VerifiedPkToken } from '../../pktoken/verify.js';
import type { VerifiedGqToken } from '../../trust/tokens.js';
import { keySourceText } from '../../verify/key-source.js';

/** Output of `envelope verify`, `pktoken verify` and `gq verify`: JSON views and their text lines. */

/**
 * Versioned like every other document (docs/json-output.md), with the verify report's names:
 * `verified`, `identity`, `opKey {kid, jkt}`, `keySource`, and `format` for the PK Token format.
 */
export const TOKEN_SCHEMAS = {
  envelope: 'https://opk-signer.dev/schemas/envelope-verify/v1',
  pktoken: 'https://opk-signer.dev/schemas/pktoken-verify/v1',
  gq: 'https://opk-signer.dev/schemas/gq-verify/v1',
} as const;

/** The OP key as the verify report names it: kid only when the token has one. */
function opKeyOf(key: { kid?: unknown; thumbprint: string }) {
  return { ...(typeof key.kid === 'string' ? { kid: key.kid } : {}), jkt: key.thumbprint };
}

export function envelopeView(v: VerifiedEnvelope) {
  return {
    schema: TOKEN_SCHEMAS.envelope,
    verified: true,
    payloadType: v.envelope.payloadType,
    statementType: v.statement.type,
    predicateType: v.statement.predicateType,
    subjects: v.statement.subjects.map((s) => ({ name: s.name, digest: s.digest })),
    identity: identityClaims(v.token.claims),
    format: v.token.format,
    opSignature: v.token.opSignature,
    opKey: opKeyOf(v.token.opKey),
    ...(v.token.keySource ? { keySource: v.token.keySource } : {}),
  };
}

/**
 * `-o json` when the verification fails: the same document a consumer reads on success, with
 * `verified: false` and the reason, as `verify -o json` prints a report with its errors.
 */
export function failureView(command: keyof typeof TOKEN_SCHEMAS, e: { code: string; message: string }) {
  return { schema: TOKEN_SCHEMAS[command], verified: false, errors: [{ code: e.code, message: e.message }] };
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
    schema: TOKEN_SCHEMAS.pktoken,
    verified: true,
    identity: identityClaims(v.claims),
    format: v.format,
    serialization: pkt.serialization,
    opSignature: v.opSignature,
    opKey: opKeyOf(v.opKey),
    ...(v.keySource ? { keySource: v.keySource } : {}),
    commitment: v.commitType,
    upk: v.cic.upk,
    cosigner: v.cosigner,
  };
}

export function pkTokenText(pkt: PkToken, v: VerifiedPkToken): string {
  const r = pkTokenView(pkt, v);
  let out = `✓ PK Token valid (${r.format} ${pkt.serialization}, OP signature ${v.opSignature}, commitment in ${v.commitType})\n`;
  out += `  signed by ${String(v.claims.iss)}${keySourceText(v.keySource, v.opKey.kid)}\n`;
  for (const [k, val] of Object.entries(r.identity)) out += `  ${k}: ${val}\n`;
  if (v.cosigner.present)
    out += `  cosigner: ${v.cosigner.iss ?? '?'} (${v.cosigner.verified ? 'verified' : 'not checked: no cosigner key'})\n`;
  return out;
}

export function gqView(v: VerifiedGqToken) {
  return {
    schema: TOKEN_SCHEMAS.gq,
    verified: true,
    identity: identityClaims(v.claims),
    format: v.kind === 'gq256' ? 'gq256' : '2023',
    opKey: opKeyOf(v.key),
    ...(v.keySource ? { keySource: v.keySource } : {}),
  };
}

export function gqText(v: VerifiedGqToken): string {
  const r = gqView(v);
  return `✓ GQ signature valid (${r.format}, OP key ${printable(r.opKey.kid ?? v.key.thumbprint)}, issuer ${printable(String(v.claims.iss))})${keySourceText(v.keySource, v.key.kid)}\n`;
}

/** Pretty JSON with a trailing newline, as every `--output json` prints. */
export const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

/**
 * Runs one single-object verification and prints its result. With `-o json` a failed
 * verification (a verdict, exit 1) is a document on stdout too; input and I/O errors stay one
 * line on stderr with nothing on stdout, as for `verify`.
 */
export async function printVerification(
  io: CliIo,
  format: 'text' | 'json',
  command: keyof typeof TOKEN_SCHEMAS,
  verify: () => Promise<{ view: unknown; text: string }>,
): Promise<number> {
  try {
    const r = await verify();
    io.stdout.write(format === 'json' ? json(r.view) : r.text);
    return 0;
  } catch (e) {
    const c = classify(e);
    if (format !== 'json' || !(e instanceof OpkError) || c.kind !== 'verdict') throw e;
    io.stdout.write(json(failureView(command, e)));
    return c.exit;
  }
}

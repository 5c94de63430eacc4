import type { ClaimedSigner, InspectedAttestation, InspectReport } from '../../inspect/inspect.js';
import { printable } from '../../encoding/printable.js';

/** `inspect`'s renderings: text for people, JSON (docs/inspect-output.md) for machines. */

export const NOT_VERIFIED =
  'NOT VERIFIED: signer fields are what each PK Token claims; anyone can write them. `opk-signer verify` checks them.';

function when(iat: number | undefined): string {
  if (iat === undefined) return '?';
  const d = new Date(iat * 1000);
  return Number.isNaN(d.getTime()) ? String(iat) : d.toISOString().replace('.000Z', 'Z');
}

function signerLine(s: ClaimedSigner): string {
  if (s.error) return `claimed signer unreadable: ${s.error}`;
  const parts = [
    `iss ${s.iss ?? '?'}`,
    `repository ${s.repository ?? '?'}`,
    `sha ${s.sha ?? '?'}`,
    `run_id ${s.run_id ?? '?'}`,
    `workflow_ref ${s.workflow_ref ?? s.job_workflow_ref ?? '?'}`,
    `iat ${when(s.iat)}`,
  ];
  return `claimed signer (not verified): ${parts.join(', ')}${s.signatures > 1 ? ` (first of ${s.signatures} signatures)` : ''}`;
}

function attestationLines(a: InspectedAttestation): string[] {
  const state =
    a.kind === 'unrecognised' ? 'not an attestation opk-signer knows' : a.signed ? 'signed' : 'unsigned';
  const lines = [
    `  ${a.signed ? '✎' : '·'} ${a.predicateType || '(no predicate type)'}  ${a.mediaType}  ${a.size} bytes  ${state} (${a.source})`,
  ];
  if (a.signer) lines.push(`      ${signerLine(a.signer)}`);
  if (a.error) lines.push(`      unreadable: ${a.error.code}: ${a.error.message}`);
  return lines;
}

export function renderInspectText(r: InspectReport): string {
  const lines = [
    `Image ${r.image.reference} (${r.image.source} ${r.image.location})`,
    `  index ${r.image.digest} (${r.image.mediaType})`,
    NOT_VERIFIED,
  ];
  for (const p of r.platforms) {
    lines.push('', `${p.platform}  ${p.digest}`);
    if (p.attestationManifests.length === 0 && !p.error) lines.push('  no attestation manifest');
    for (const m of p.attestationManifests) lines.push(`  attestation manifest ${m.digest} (${m.form})`);
    if (p.error) lines.push(`  unreadable: ${p.error.code}: ${p.error.message}`);
    for (const a of p.attestations) lines.push(...attestationLines(a));
  }
  if (r.others.length) lines.push('', 'Other index entries:');
  for (const o of r.others)
    lines.push(
      `  ${o.digest} (${o.mediaType}${o.platform ? `, ${o.platform}` : ''}${o.refersTo ? `, refers to ${o.refersTo}` : ''})`,
    );
  for (const n of r.notes) lines.push(`note ${n.code}: ${n.message}`);
  return lines.map(printable).join('\n') + '\n';
}

/** JSON escapes control characters itself; a terminal shows them as `\u001b`, never acts on them. */
export function renderInspectJson(r: InspectReport): string {
  return JSON.stringify(r, null, 2) + '\n';
}

import type { AttestResult } from '../../attest/attest.js';
import { tagOutcome } from '../../attest/errors.js';

export const ATTEST_RESULT_SCHEMA = 'https://opk-signer.dev/schemas/attest-result/v1';

/** `attest --output json` (docs/json-output.md): the library's result, versioned. */
export function renderAttestJson(r: AttestResult): string {
  // Whole milliseconds: sub-millisecond float noise (2.3885239999999897) tells nobody anything.
  const timings = Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v)]));
  return JSON.stringify({ schema: ATTEST_RESULT_SCHEMA, ...r, timings }, null, 2) + '\n';
}

/** What `attest` prints on stderr after signing: what changed, where, in how long. */
export function describeAttest(r: AttestResult, location: string, ms: number): string {
  const lines: string[] = [];
  if (r.noop) {
    lines.push(
      `already signed: ${r.alreadySigned} attestation(s) of ${r.platforms.length} platform(s) in ${location}` +
        (r.digest !== r.originalDigest ? ` (${r.originalDigest} signed as ${r.digest})` : '') +
        '; nothing to sign (--resign replaces signatures)',
    );
  } else if (r.mode === 'inline' && r.signed + r.resigned === 0) {
    lines.push(
      `already signed: ${r.originalDigest} was signed as ${r.digest} in ${location}; tagged ${r.tags.join(', ')}`,
    );
  } else if (r.mode === 'inline') {
    lines.push(
      `signed ${r.signed + r.resigned} attestation(s) of ${r.platforms.length} platform(s) (${r.platforms.join(', ')}) in ${Math.round(ms)} ms`,
    );
    for (const a of r.attestationManifests)
      if (a.from !== a.to)
        lines.push(`  ${a.platform}: attestation manifest ${a.from} → ${a.to} (${a.form})`);
    lines.push(
      `index ${r.originalDigest} → ${r.digest}${r.tags.length ? ` tagged ${r.tags.join(', ')}` : ' (by digest, no tag moved)'}`,
      `signatures are in the new index ${r.signaturesIn}: deploy and verify that digest (inline mode; ${r.originalDigest} stays unsigned)`,
    );
  } else {
    lines.push(
      `signed ${r.signed + r.resigned} attestation(s) as ${r.referrers.length} referrer(s); index ${r.digest} unchanged`,
    );
    for (const x of r.referrers) lines.push(`  ${x.subject} ← ${x.digest}`);
  }
  if (r.filledSubjects.length)
    lines.push(
      `filled ${r.filledSubjects.length} empty subject(s) (an export without an image name) with the platform manifest digest${r.filledSubjects.some((f) => f.subject.name) ? ' and image purl' : ''}`,
    );
  return lines.join('\n') + '\n';
}

/** After a failure: exactly which tags moved (a failure part-way through several) and which not. */
export function describeTags(e: unknown, location: string, expectTags: readonly string[]): string {
  const t = tagOutcome(e);
  let out = '';
  if (t) {
    if (t.moved.length) out += `opk-signer: ${location}:${t.moved.join(',')} moved to the new index\n`;
    if (t.untouched.length) out += `opk-signer: ${location}:${t.untouched.join(',')} left as it was\n`;
  } else if (expectTags.length) {
    out += `opk-signer: ${location}:${expectTags.join(',')} left as it was\n`;
  }
  return out;
}

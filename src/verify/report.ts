import { opaInput, type CheckResult, type VerifyReport } from './image.js';

export interface RenderOptions {
  /** `✓`/`✗` (default) or `v`/`x` as the plugin prints on Windows. */
  ascii?: boolean;
}

/**
 * Text in the `docker verify` plugin's shape: per platform `Verifying N attestations for <purl>`,
 * a block per attestation with one ✓/✗ line per check, then the required-attestations line.
 */
/**
 * Messages quote annotations, purls and claims that an attacker may have written: control
 * characters (newlines, ANSI escapes) are shown escaped so no value can forge or hide a line.
 */
export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function renderText(report: VerifyReport, opts: RenderOptions = {}): string {
  const ok = opts.ascii ? 'v' : '✓';
  const bad = opts.ascii ? 'x' : '✗';
  const line = (c: CheckResult, indent = '  ') => `${indent}${c.ok ? ok : bad} ${printable(c.message)}`;
  const out: string[] = [];
  for (const p of report.platforms) {
    const signed = p.attestations.filter((a) => a.signed).length;
    out.push(`Verifying ${signed} attestations for ${printable(p.purl)}`);
    for (const c of p.checks) if (c.check === 'attestation-manifest') out.push(line(c));
    for (const a of p.attestations) {
      out.push('');
      out.push(
        `Verifying ${printable(a.predicateType || a.layer.mediaType)} attestation${a.signed ? '' : ' (unsigned)'}`,
      );
      for (const c of a.checks) {
        if (c.ok && (!a.signed || c.code === 'SIGNING_TIME_UNPROVEN'))
          out.push(`  ! ${printable(c.message)}`);
        else out.push(line(c));
      }
    }
    out.push('');
    // The plugin's closing line is a verdict: a platform with any ✗ above does not get it.
    for (const c of p.checks)
      if (c.check !== 'attestation-manifest' && !(c.ok && !p.verified))
        out.push(c.ok ? printable(c.message) : `${bad} ${printable(c.message)}`);
    if (!p.verified) out.push(`${bad} ${printable(p.platform)} is not verified`);
    out.push('');
  }
  for (const w of report.warnings) if (!w.layer) out.push(`warning: ${w.code}: ${printable(w.message)}`);
  out.push(
    report.verified
      ? `Verified ${printable(report.image.reference)} (${report.image.digest})`
      : `${bad} Verification failed for ${printable(report.image.reference)}: ${report.errors.length} error(s)`,
  );
  return out.join('\n') + '\n';
}

/** The JSON document of docs/verify-output.md: the report (without raw statements/claims) plus `input` for OPA. */
export function renderJson(report: VerifyReport): string {
  const platforms = report.platforms.map((p) => ({
    ...p,
    attestations: p.attestations.map(({ statement: _s, claims: _c, ...a }) => a),
  }));
  return JSON.stringify({ ...report, platforms, input: opaInput(report) }, null, 2) + '\n';
}

/** The job summary and the annotations, from a verify report (docs/verify-output.md). */
import { annotate, type RunnerIo } from './runner.js';

interface Problem {
  code: string;
  message: string;
  platform?: string;
}

export interface ReportView {
  verified: boolean;
  image?: { digest?: string };
  platforms?: {
    platform: string;
    verified: boolean;
    attestations?: { predicateType?: string; signed: boolean; verified: boolean; error?: Problem }[];
  }[];
  warnings?: Problem[];
  errors?: Problem[];
}

/** Report values are attacker-written (predicate types, messages): no markup, no table breaks. */
function md(s: string): string {
  return s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[&<>|`*_[\]\\]/g, (c) => `&#${c.charCodeAt(0)};`)
    .slice(0, 300);
}

export function annotateReport(io: RunnerIo, r: ReportView): void {
  for (const p of r.errors ?? [])
    annotate(io, 'error', `${p.platform ? `${p.platform}: ` : ''}${p.message}`, `opk-signer ${p.code}`);
  for (const p of r.warnings ?? [])
    annotate(io, 'warning', `${p.platform ? `${p.platform}: ` : ''}${p.message}`, `opk-signer ${p.code}`);
}

export function summaryMarkdown(image: string, mode: string, r: ReportView): string {
  const lines = [
    `### opk-signer: ${r.verified ? '✅ verified' : '❌ not verified'}`,
    '',
    `${md(image)} (mode ${md(mode)}), index ${md(r.image?.digest ?? 'unknown')}`,
    '',
    '| platform | predicate type | signed | verified |',
    '|---|---|---|---|',
  ];
  for (const p of r.platforms ?? []) {
    for (const a of p.attestations ?? []) {
      lines.push(
        `| ${md(p.platform)} | ${md(a.predicateType ?? '?')} | ${a.signed ? 'yes' : 'no'} | ${a.verified ? '✅' : `❌ ${md(a.error?.code ?? '')}`} |`,
      );
    }
  }
  for (const p of r.errors ?? []) lines.push(`- ❌ ${md(p.code)}: ${md(p.message)}`);
  for (const p of r.warnings ?? []) lines.push(`- ⚠️ ${md(p.code)}: ${md(p.message)}`);
  return lines.join('\n') + '\n\n';
}

import { UsageError } from '../errors.js';

/**
 * "did you mean --repo?" for an unknown flag: the known flag at the smallest edit distance, a
 * prefix counting as close (`--repo-owner` → `--repo-owner-id`). Nothing is suggested when no
 * flag is near: a wrong guess is worse than none.
 */
export function closestFlag(typed: string, known: readonly string[]): string | undefined {
  let best: { flag: string; d: number } | undefined;
  for (const flag of known) {
    // A completion (`--repo-owner` → `--repo-owner-id`) beats a truncation (→ `--repo`).
    const d = flag.startsWith(typed) ? 0.5 : typed.startsWith(flag) ? 1 : distance(typed, flag);
    if (!best || d < best.d) best = { flag, d };
  }
  return best && best.d <= Math.max(2, Math.floor(typed.length / 3)) ? best.flag : undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The one-line error for an unknown flag (exit 2), naming the closest known flag when there is one. */
export function unknownFlag(typed: string, options: Record<string, { short?: string }>): UsageError {
  const known = [
    ...Object.keys(options).map((k) => `--${k}`),
    ...Object.values(options).flatMap((o) => (o.short ? [`-${o.short}`] : [])),
    '--help',
  ];
  const near = closestFlag(typed, known);
  return new UsageError(
    'UNKNOWN_FLAG',
    `unknown flag ${typed}${near ? ` (did you mean ${near}?)` : ''}; see --help`,
  );
}

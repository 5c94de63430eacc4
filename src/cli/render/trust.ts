import type { RootUpdateResult } from '../../trust/update.js';

export const TRUST_UPDATE_SCHEMA = 'https://opk-signer.dev/schemas/trust-update/v1';

/** What `trust update` prints: the counts and each key added or marked removed, or the JSON. */
export function describeRootUpdate(
  root: string,
  issuers: string[],
  r: RootUpdateResult,
  format: 'text' | 'json',
): string {
  if (format === 'json')
    return JSON.stringify({ schema: TRUST_UPDATE_SCHEMA, root, issuers, ...r }, null, 2) + '\n';
  return (
    `updated trusted root ${root} for ${issuers.join(', ')}: ${r.added.length} added, ${r.extended.length} window(s) extended, ${r.removed.length} marked removed\n` +
    [...r.added.map((k) => `  + ${k}\n`), ...r.removed.map((k) => `  - ${k} (no longer published)\n`)].join(
      '',
    )
  );
}

/** The recipes people copy: none runs the unpublished package name, workflows pin the Action. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/action.js';

const DOCS = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

function codeBlocks(file: string): { lang: string; body: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

describe('README and docs recipes', () => {
  it('never fetch opk-signer by name from the npm registry (npx, npm install/exec)', () => {
    const byName =
      /\bnpx\b[^\n]*\bopk-signer\b|\bnpm (?:i|install|exec|x)\b[^\n]*(?<![./\w-])opk-signer(?:@[\w.^~-]+)?(?=\s|$)/;
    const offenders = DOCS.flatMap((f) =>
      codeBlocks(f).flatMap((b) =>
        b.body
          .split('\n')
          .filter((l) => byName.test(l))
          .map((l) => `${f}: ${l.trim()}`),
      ),
    );
    expect(offenders).toEqual([]);
  });

  it('GitHub workflows use the Action, pinned to a commit SHA (or the placeholder for one)', () => {
    const blocks = codeBlocks('README.md').filter(
      (b) => b.lang === 'yaml' && b.body.includes('opk-signer/action@'),
    );
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const b of blocks) {
      expect(() => parse(b.body)).not.toThrow();
      for (const [, ref] of b.body.matchAll(/opk-signer\/action@(\S+)/g))
        expect(ref).toMatch(/^(<full-commit-sha>|[0-9a-f]{40})$/);
    }
  });
});

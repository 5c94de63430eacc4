/** The demo prints commands that re-run the very binary it is, whichever way it was installed. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { selfCommand, shellQuote } from '../../../src/cli/self.js';

const tmp = mkdtempSync(join(tmpdir(), 'opk-self-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('selfCommand', () => {
  const main = join(tmp, 'pkg dir', 'main.js');
  mkdirSync(join(tmp, 'pkg dir'));
  writeFileSync(main, '');
  const mine = join(tmp, 'mine');
  const other = join(tmp, 'other');
  mkdirSync(mine);
  mkdirSync(other);
  symlinkSync(main, join(mine, 'opk-signer'));
  writeFileSync(join(other, 'opk-signer'), '');

  it('is `opk-signer` when that name on PATH is this script', () => {
    expect(selfCommand({ PATH: `/nonexistent:${mine}` }, main)).toBe('opk-signer');
  });

  it('is `node /abs/main.js`, quoted, when PATH has no opk-signer or another one first', () => {
    const expected = `node '${main}'`;
    expect(selfCommand({ PATH: '/nonexistent' }, main)).toBe(expected);
    expect(selfCommand({ PATH: `${other}:${mine}` }, main)).toBe(expected);
  });

  it('quotes only what the shell would split or expand', () => {
    expect(shellQuote('oci:/tmp/x:buildkit-v0.12')).toBe('oci:/tmp/x:buildkit-v0.12');
    expect(shellQuote("/tmp/it's here")).toBe(`'/tmp/it'\\''s here'`);
    expect(shellQuote('$(id)')).toBe(`'$(id)'`);
  });
});

/**
 * A bare name that is a local OCI layout (`verify stock-prov` beside ./stock-prov) is refused
 * before anything goes to Docker Hub, naming the `oci:` spelling that was meant; the same in
 * verify, inspect, attest and bundle (the built CLI, run from the layout's parent directory).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

const REAL = '/work/shared/fixtures/buildkit-real';
let work: string;
// Any network attempt fails fast and differently (no Docker Hub, no GitHub keys).
const env = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '' };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'opk-hint-'));
  cpSync(join(REAL, 'stock-prov'), join(work, 'stock-prov'), { recursive: true });
  mkdirSync(join(work, 'plain'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a bare name that is a local layout', () => {
  const cases: [string, string[]][] = [
    ['verify', ['verify', 'stock-prov', '--issuer', 'http://127.0.0.1:9']],
    ['inspect', ['inspect', 'stock-prov:stock']],
    ['attest', ['attest', './stock-prov', '--push']],
    ['bundle', ['bundle', 'stock-prov', '-o', 'b.json', '--issuer', 'http://127.0.0.1:9']],
  ];
  for (const [name, args] of cases)
    it(`${name}: IMAGE_REF_IS_LAYOUT with "did you mean oci:…", exit 2`, () => {
      const r = runCli(args, { cwd: work, env });
      expect(r.code).toBe(2);
      const ref = args[1]!;
      expect(r.stderr).toContain(`IMAGE_REF_IS_LAYOUT: ${ref} is a registry reference`);
      expect(r.stderr).toContain(`did you mean oci:${ref}?`);
    });

  it('a directory that is no layout, or a name with a registry host, is left to the registry', () => {
    const r = runCli(['inspect', 'plain'], { cwd: work, env });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('IMAGE_REF_IS_LAYOUT');
    const h = runCli(['inspect', 'localhost/stock-prov'], { cwd: work, env });
    expect(h.stderr).not.toContain('IMAGE_REF_IS_LAYOUT');
  });
});

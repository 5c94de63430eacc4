/** The Action's runner conventions, its action.yml, and the committed bundle's freshness. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  attestArgs,
  INPUT_NAMES,
  MODES,
  readInputs,
  verifyArgs,
  verifyTarget,
} from '../../../action/src/inputs.js';
import { inputVariable, mask, setOutput, workflowCommand } from '../../../action/src/runner.js';
import { BUNDLE, parseOutputFile, ROOT } from '../../helpers/action.js';

const run = promisify(execFile);

function capture() {
  const chunks: string[] = [];
  return {
    stdout: { write: (s: string) => chunks.push(s) } as unknown as NodeJS.WritableStream,
    text: () => chunks.join(''),
  };
}

describe('runner conventions', () => {
  it('escapes messages and properties as the toolkit does: a newline cannot start another command', () => {
    expect(workflowCommand('error', 'a%b\r\n::add-mask::x', { title: 'k:v,w' })).toBe(
      '::error title=k%3Av%2Cw::a%25b%0D%0A::add-mask::x\n',
    );
    expect(workflowCommand('warning', 'plain')).toBe('::warning::plain\n');
  });

  it('masks a multi-line secret line by line', () => {
    const c = capture();
    mask({ env: {}, stdout: c.stdout }, 'line-one\nline-two\n');
    expect(c.text()).toBe('::add-mask::line-one\n::add-mask::line-two\n');
  });

  it('reads INPUT_* as the runner names them and writes outputs in the delimiter form', () => {
    expect(inputVariable('registry-password')).toBe('INPUT_REGISTRY-PASSWORD');
    expect(inputVariable('my input')).toBe('INPUT_MY_INPUT');
    const dir = mkdtempSync(join(tmpdir(), 'opk-out-'));
    const file = join(dir, 'out');
    writeFileSync(file, '');
    const c = capture();
    setOutput({ env: { GITHUB_OUTPUT: file }, stdout: c.stdout }, 'report', '{\n  "a": 1\n}');
    expect(parseOutputFile(readFileSync(file, 'utf8'))).toEqual({ report: '{\n  "a": 1\n}' });
    rmSync(dir, { recursive: true });
  });
});

describe('inputs → CLI arguments (one mapping)', () => {
  const env = (o: Record<string, string>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [inputVariable(k), v]));

  it('signs as referrers unless told otherwise, pushes registry images, verifies the signed digest', () => {
    const i = readInputs(env({ image: 'ghcr.io/acme/widget:v1', repository: 'acme/widget', issuer: 'a\nb' }));
    expect(attestArgs(i)).toEqual(['ghcr.io/acme/widget:v1', '--mode', 'referrers', '--push', '--json']);
    const target = verifyTarget(i.image, `sha256:${'a'.repeat(64)}`);
    expect(target).toBe(`ghcr.io/acme/widget:v1@sha256:${'a'.repeat(64)}`);
    expect(verifyArgs(i, target)).toEqual([
      target,
      '--output',
      'json',
      '--repository',
      'acme/widget',
      '--issuer',
      'a',
      '--issuer',
      'b',
    ]);
    expect(attestArgs(readInputs(env({ image: 'x/y@sha256:' + 'b'.repeat(64), mode: 'verify-only' })))).toBe(
      undefined,
    );
  });

  it('passes a password on stdin only, never as an argument', () => {
    const i = readInputs(
      env({ image: 'ghcr.io/a/b:v', 'registry-username': 'u', 'registry-password': 'pw-canary' }),
    );
    expect([...attestArgs(i)!, ...verifyArgs(i, i.image)].join(' ')).not.toContain('pw-canary');
    expect(attestArgs(i)).toContain('--password-stdin');
    expect(() => readInputs(env({ image: 'ghcr.io/a/b:v', 'registry-password': 'p' }))).toThrow(
      /go together/,
    );
  });
});

describe('action.yml', () => {
  const yml = parse(readFileSync(join(ROOT, 'action/action.yml'), 'utf8'));

  it('runs the committed bundle on node20 and declares exactly the inputs the entry point reads', () => {
    expect(yml.runs).toEqual({ using: 'node20', main: 'dist/index.js' });
    expect(Object.keys(yml.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    expect(yml.inputs.image.required).toBe(true);
    expect(yml.inputs.mode.default).toBe('referrers');
    for (const mode of Object.keys(MODES)) expect(yml.inputs.mode.description).toContain(`${mode}:`);
    expect(Object.keys(yml.outputs).sort()).toEqual(['digest', 'report', 'report-file', 'verified']);
  });
});

describe('action/dist/index.js', () => {
  it('is what `npm run build:action` makes from the current sources (rebuild and compare)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opk-bundle-'));
    try {
      const out = join(dir, 'index.js');
      await run(process.execPath, [join(ROOT, 'action/build.mjs'), out], { cwd: ROOT, timeout: 60_000 });
      const fresh = readFileSync(out);
      const committed = readFileSync(BUNDLE);
      expect(
        fresh.equals(committed),
        'action/dist/index.js is stale: run `npm run build:action` and commit it',
      ).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

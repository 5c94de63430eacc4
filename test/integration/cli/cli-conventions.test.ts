import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMain } from '../../helpers/cli.js';

/** What every command shares at the entry point: help, the usage rule, unknown commands. */

const dir = mkdtempSync(join(tmpdir(), 'opk-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const layout = join(dir, 'stock-prov');
cpSync('/work/shared/fixtures/buildkit-real/stock-prov', layout, { recursive: true });
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const usageCount = (stderr: string, cmd: string) => stderr.split(`usage: opk-signer ${cmd}`).length - 1;

describe('usage is printed after argument errors only, and once', () => {
  it('verify with no IMAGE: the reason, then the usage once', async () => {
    const r = await runMain(['verify']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('opk-signer: expected one IMAGE');
    expect(usageCount(r.stderr, 'verify')).toBe(1);
  });

  it('a flag without its value, or a missing FILE: usage once', async () => {
    const v = await runMain(['verify', `oci:${layout}:stock`, '--issuer']);
    expect(v.code).toBe(2);
    expect(usageCount(v.stderr, 'verify')).toBe(1);
    const p = await runMain(['pktoken', 'verify']);
    expect(p.code).toBe(2);
    expect(usageCount(p.stderr, 'pktoken verify')).toBe(1);
  });

  for (const [what, args] of [
    ['a garbled --jwks file', ['--jwks', file('bad-jwks.json', '{"keys":')]],
    ['a missing --policy file', ['--policy', join(dir, 'nope.yaml')]],
    ['-o yaml', ['-o', 'yaml']],
    ['--identity-regexp (', ['--identity-regexp', '(']],
    ['--max-bytes 10Q', ['--max-bytes', '10Q']],
    [
      '--trusted-root with --jwks',
      ['--trusted-root', file('r.json', '{}'), '--jwks', file('j.json', '{"keys":[]}')],
    ],
  ] as const)
    it(`${what}: one line naming it, no usage`, async () => {
      const r = await runMain(['verify', `oci:${layout}:stock`, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^opk-signer: /);
    });
});

describe('help', () => {
  it('`help COMMAND` is `COMMAND --help`: the description first, then the usage', async () => {
    const a = await runMain(['help', 'verify']);
    const b = await runMain(['verify', '--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const lines = a.stdout.split('\n');
    expect(lines[0]).toBe('verify signed build attestations of an image (registry ref or oci:DIR[:TAG])');
    expect(lines[2]).toBe('usage: opk-signer verify IMAGE [flags]');
    expect((await runMain(['help', 'envelope', 'verify'])).stdout).toMatch(/^verify an OpenPubkey-signed/);
    expect((await runMain(['help'])).stderr).toContain('usage: opk-signer <command>');
  });

  it('an unknown command is one line with the nearest command', async () => {
    const r = await runMain(['verfy', 'oci:x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'opk-signer: unknown command "verfy" (did you mean verify?); see opk-signer --help\n',
    );
    const e = await runMain(['envelope', 'verfy', 'x.json']);
    expect(e.stderr).toContain('usage: opk-signer envelope <verify>');
    const f = await runMain(['frobnicate']);
    expect(f.stderr).toBe('opk-signer: unknown command "frobnicate"; see opk-signer --help\n');
  });

  it('each help lists the flags that apply: --trusted-root where it works, --max-verifications on verify only', async () => {
    for (const cmd of [
      ['envelope', 'verify'],
      ['pktoken', 'verify'],
      ['gq', 'verify'],
      ['verify'],
      ['bundle'],
    ]) {
      const h = await runMain([...cmd, '--help']);
      expect(h.stdout, cmd.join(' ')).toContain('--trusted-root ROOT.json');
    }
    for (const cmd of ['inspect', 'attest'])
      expect((await runMain([cmd, '--help'])).stdout).not.toContain('--max-verifications');
    const v = (await runMain(['verify', '--help'])).stdout;
    expect(v).toContain('--max-verifications N');
    expect(v).toContain('(default 1G)');
    expect((await runMain(['trust', 'update', '--help'])).stdout).toContain('-o, --output text|json');
    expect((await runMain(['jwks', 'snapshot', '--help'])).stdout).toContain('-o, --output text|json');
    expect((await runMain(['dev-issuer', '--help'])).stdout).toContain('set -a; . ./dev.env; set +a');
  });
});

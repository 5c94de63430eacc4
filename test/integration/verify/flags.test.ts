import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as attest } from '../../../src/cli/commands/attest.js';
import { run as envelopeVerify } from '../../../src/cli/commands/envelope-verify.js';
import { run as inspect } from '../../../src/cli/commands/inspect.js';
import { run as sign } from '../../../src/cli/commands/sign.js';
import { run } from '../../../src/cli/commands/verify.js';
import { closestFlag } from '../../../src/cli/suggest.js';
import { runCli, runInProcess } from '../../helpers/cli.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

/** The flags `gh attestation verify` and cosign users type, each with a passing and a failing case. */

const WORKFLOW = 'acme/ci/.github/workflows/build.yml@refs/heads/main';
let work: { dir: string; cleanup: () => Promise<void> };
let ref: string;
let jwks: string;

beforeAll(async () => {
  work = await tempDir('opk-flags-');
  const op = createTestOp();
  jwks = join(work.dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify(op.jwks));
  // A reusable workflow of acme/ci signed for acme/widget, as GitHub issues it.
  const img = await signedImage(
    op,
    { sbom: true },
    { job_workflow_ref: WORKFLOW, workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/heads/main' },
  );
  await writeLayout(img, join(work.dir, 'layout'));
  ref = `oci:${join(work.dir, 'layout')}:v1`;
});
afterAll(() => work?.cleanup());

async function verify(...flags: string[]) {
  const r = await runInProcess(run, [
    ref,
    '--jwks',
    jwks,
    '--subject-name',
    'example.test/acme/widget',
    '-o',
    'json',
    ...flags,
  ]);
  const report =
    r.code === 2 ? undefined : (JSON.parse(r.stdout) as { verified: boolean; errors: { code: string }[] });
  return { ...r, codes: report?.errors.map((e) => e.code) ?? [] };
}

const CASES: [flag: string, pass: string[], fail: string[], code: string][] = [
  ['--owner NAME', ['--owner', 'acme'], ['--owner', 'evil'], 'REPOSITORY_OWNER_MISMATCH'],
  ['--owner ID', ['--owner', '145685596'], ['--owner', '1'], 'REPOSITORY_OWNER_MISMATCH'],
  ['--repo', ['--repo', 'acme/widget'], ['--repo', 'acme/gadget'], 'REPOSITORY_MISMATCH'],
  [
    '--signer-workflow PATH',
    ['--signer-workflow', 'acme/ci/.github/workflows/build.yml'],
    ['--signer-workflow', 'acme/widget/.github/workflows/release.yml'],
    'SIGNER_WORKFLOW_MISMATCH',
  ],
  [
    '--signer-workflow host/PATH@REF',
    ['--signer-workflow', `github.com/${WORKFLOW}`],
    ['--signer-workflow', 'acme/ci/.github/workflows/build.yml@refs/heads/dev'],
    'SIGNER_WORKFLOW_MISMATCH',
  ],
  [
    '--signer-repo',
    ['--signer-repo', 'acme/ci'],
    ['--signer-repo', 'acme/widget'],
    'SIGNER_REPOSITORY_MISMATCH',
  ],
  ['--source-ref', ['--source-ref', 'refs/heads/main'], ['--source-ref', 'refs/heads/dev'], 'REF_MISMATCH'],
  [
    '--identity',
    ['--identity', 'repo:acme/widget:ref:refs/heads/main'],
    ['--identity', 'repo:acme/widget'],
    'IDENTITY_MISMATCH',
  ],
  [
    '--identity-regexp (anchored)',
    ['--identity-regexp', 'repo:acme/widget:ref:refs/heads/.*'],
    ['--identity-regexp', 'acme/widget'],
    'IDENTITY_MISMATCH',
  ],
  [
    '--predicate-type',
    ['--predicate-type', 'https://spdx.dev/Document', '--predicate-type', 'https://slsa.dev/provenance/v0.2'],
    ['--predicate-type', 'https://cyclonedx.org/bom'],
    'REQUIRED_ATTESTATION_MISSING',
  ],
];

describe('verify: flags people know from gh attestation verify and cosign', () => {
  for (const [flag, pass, fail, code] of CASES)
    it(`${flag}: passes when it matches, fails (exit 1, ${code}) when not`, async () => {
      const ok = await verify(...pass);
      expect(ok.stderr).toBe('');
      expect(ok.codes).toEqual([]);
      expect(ok.code).toBe(0);
      const bad = await verify(...fail);
      expect(bad.code).toBe(1);
      expect(bad.codes).toContain(code);
    });

  it('the passing checks are named in the report', async () => {
    const r = await runInProcess(run, [
      ref,
      '--jwks',
      jwks,
      '--subject-name',
      'example.test/acme/widget',
      '--owner',
      'acme',
      '--signer-repo',
      'acme/ci',
    ]);
    expect(r.stdout).toContain('✓ Verified repository owner acme');
    expect(r.stdout).toContain('✓ Verified signer repository acme/ci');
  });

  it('usage errors exit 2 with a hint: an invalid regexp, a non-numeric --repo-owner-id, disagreeing spellings', async () => {
    const bad = await verify('--identity-regexp', '(');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--identity-regexp: invalid regular expression');
    const owner = await verify('--repo-owner-id', 'acme');
    expect(owner.code).toBe(2);
    expect(owner.stderr).toContain("--repo-owner-id wants the owner's numeric id");
    expect(owner.stderr).toContain('--owner acme');
    expect((await verify('--repo', 'acme/a', '--repository', 'acme/b')).code).toBe(2);
    expect((await verify('--predicate-type', 'spdx')).code).toBe(2);
  });

  it('-o json is --output json', async () => {
    const r = await verify('--repo', 'acme/widget');
    expect(JSON.parse(r.stdout).schema).toBe('https://opk-signer.dev/schemas/verify-report/v1');
  });
});

describe('an unknown flag: one line naming the closest known flag, exit 2, on every command', () => {
  it('suggests by edit distance and prefix, and nothing when nothing is near', () => {
    expect(closestFlag('--repos', ['--repo', '--ref', '--owner'])).toBe('--repo');
    expect(closestFlag('--repo-owner', ['--repo-owner-id', '--repo'])).toBe('--repo-owner-id');
    expect(closestFlag('--zzzzzzzz', ['--repo', '--ref'])).toBeUndefined();
  });

  for (const [name, cmd, args, typo, near] of [
    ['verify', run, [], '--ownr', '--owner'],
    ['inspect', inspect, [], '--plain-htp', '--plain-http'],
    ['attest', attest, [], '--pusj', '--push'],
    ['sign', sign, ['x.json'], '--signr', '--signer'],
    ['envelope verify', envelopeVerify, ['x.json'], '--jwsk', '--jwks'],
  ] as const)
    it(name, async () => {
      const r = await runInProcess(cmd, [...args, typo, 'x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `opk-signer: UNKNOWN_FLAG: unknown flag ${typo} (did you mean ${near}?); see --help\n`,
      );
    });

  it('through the real entry point: one line, no usage dump', () => {
    const r = runCli(['verify', 'oci:/nowhere', '--repo-owner', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'opk-signer: UNKNOWN_FLAG: unknown flag --repo-owner (did you mean --repo-owner-id?); see --help\n',
    );
    const serve = runCli(['serve', '--lisen', 'unix:///tmp/x.sock']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('did you mean --listen?');
  });
});

describe('--threads', () => {
  it('the built CLI prints the same report on two threads as on none', () => {
    const args = ['verify', ref, '--jwks', jwks, '--subject-name', 'example.test/acme/widget', '-o', 'json'];
    const none = runCli([...args, '--threads', '0']);
    const two = runCli([...args, '--threads', '2']);
    expect(none.code).toBe(0);
    expect(two).toEqual(none);
  });

  it('wants auto or a count', async () => {
    for (const bad of ['x', '1.5', '65']) {
      const r = await verify('--threads', bad);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--threads must be');
    }
    expect((await verify('--threads', 'auto')).code).toBe(0);
  });
});

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import { buildxMetadata } from '../../helpers/buildkit.js';
import { attestCli, unsignedImage } from '../../helpers/attest.js';
import { runInProcess } from '../../helpers/cli.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

// Exit 1 only when what was verified was read and failed a check; the caller's own inputs
// (flags, --metadata-file, key set, policy, a --platform the image lacks) exit 2.

let work: { dir: string; cleanup: () => Promise<void> };
let layoutRef: string;
let jwks: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await tempDir('opk-exit-');
  const op = createTestOp();
  jwks = join(work.dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify(op.jwks));
  await writeLayout(await signedImage(op), join(work.dir, 'layout'), 'v1');
  layoutRef = `oci:${join(work.dir, 'layout')}:v1`;
  env = { DOCKER_CONFIG: join(work.dir, 'docker') };
  await mkdir(env.DOCKER_CONFIG!);
});

afterAll(async () => {
  await work?.cleanup();
});

const verify = (args: string[]) => runInProcess(verifyRun, args, { env });

async function file(name: string, text: string): Promise<string> {
  const path = join(work.dir, name);
  await writeFile(path, text);
  return path;
}

describe('verify exit codes', () => {
  it('exit 0 for an image that verifies (the baseline the cases below break one thing of)', async () => {
    const r = await verify([layoutRef, '--jwks', jwks]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('exit 1 for a verdict: a claim that differs from the expected one', async () => {
    const r = await verify([layoutRef, '--jwks', jwks, '--repo-owner-id', '999']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ failed to verify repository owner');
  });

  it('exit 2 for an unknown flag', async () => {
    const r = await verify([layoutRef, '--jwks', jwks, '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-such-flag/);
  });

  it('exit 2 for a --platform the image lacks (PLATFORM_NOT_FOUND), naming what it has', async () => {
    const r = await verify([layoutRef, '--jwks', jwks, '--platform', 'linux/s390x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^opk-signer: PLATFORM_NOT_FOUND: platform linux\/s390x not in index \(has linux\/amd64/,
    );
    expect(r.stdout).toBe('');
  });

  it.each([
    ['not JSON', '{"keys": ['],
    ['not a JWKS', '{"keys": 5}'],
    ['a key that is not a valid RSA JWK', '{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}'],
  ])('exit 2 for a bad key set file (%s)', async (_what, text) => {
    const r = await verify([layoutRef, '--jwks', await file(`jwks-${text.length}.json`, text)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--jwks /);
  });

  it('exit 2 for an unreadable key set file', async () => {
    const r = await verify([layoutRef, '--jwks', join(work.dir, 'missing.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read JWKS .*missing\.json: ENOENT/);
  });

  it.each([
    ['garbled YAML', 'claims: [unclosed\n'],
    ['an unknown key', 'requireSBOM: true\n'],
    ['a CEL expression that does not compile', 'cel: ["claims.("]\n'],
  ])('exit 2 for a bad policy file (%s)', async (_what, text) => {
    const r = await verify([
      layoutRef,
      '--jwks',
      jwks,
      '--policy',
      await file(`policy-${text.length}.yaml`, text),
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('attest exit codes for the --metadata-file', () => {
  it('exit 2 for an unreadable --metadata-file', async () => {
    const r = await attestCli([layoutRef, '--metadata-file', join(work.dir, 'no-metadata.json')], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-metadata\.json: ENOENT/);
  });

  it.each([
    ['not JSON', '{"containerimage.digest": '],
    ['no digest', '{"image.name": "example.test/acme/widget:v1"}'],
  ])('exit 2 for a garbled --metadata-file (%s), METADATA_INVALID', async (_what, text) => {
    const r = await attestCli([layoutRef, '--metadata-file', await file(`meta-${text.length}.json`, text)], {
      env,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/METADATA_INVALID/);
  });

  it('a well-formed --metadata-file gets past parsing (here to NO_PROVIDER: no identity provider in env)', async () => {
    const img = await unsignedImage({ form: 'oci-artifact' });
    const dir = join(work.dir, 'unsigned');
    await writeLayout(img, dir);
    const meta = await file(
      'meta-ok.json',
      JSON.stringify(buildxMetadata(img, ['example.test/acme/widget:v1'])),
    );
    const r = await attestCli([`oci:${dir}:v1`, '--metadata-file', meta], { env });
    expect(r.stderr).not.toMatch(/METADATA_INVALID/);
    expect(r.stderr).toMatch(/no identity provider is configured/);
    expect(r.code).toBe(2);
  });
});

import { runInProcess } from '../../helpers/cli.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/commands/verify.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { appendSnapshot } from '../../../src/oidc/archive.js';
import type { TestOp } from '../../helpers/op.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], o: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return runInProcess(run, args, { ...o, env: o.env ?? { DOCKER_CONFIG: emptyDockerConfig } });
}

let reg: RegistryFixture;
let op: TestOp;
let img: BuiltImage;
let noSbom: BuiltImage;
let work: { dir: string; cleanup: () => Promise<void> };
let jwks: string;
let emptyDockerConfig: string;
let ref: string;
const results: Result[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  work = await tempDir('opk-cli-');
  op = createTestOp();
  jwks = join(work.dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify(op.jwks));
  emptyDockerConfig = join(work.dir, 'empty-docker');
  await mkdir(emptyDockerConfig);
  img = await signedImage(op, { name: `${reg.host}/acme/widget` });
  await writeLayout(img, join(work.dir, 'layout'), 'v1');
  await reg.pushLayout(join(work.dir, 'layout'), 'v1', 'acme/widget');
  noSbom = await signedImage(op, {
    name: `${reg.host}/acme/widget`,
    tag: 'nosbom',
    sbom: false,
    form: 'oci-artifact',
  });
  await writeLayout(noSbom, join(work.dir, 'layout'), 'nosbom');
  await reg.pushLayout(join(work.dir, 'layout'), 'nosbom', 'acme/widget');
  ref = `${reg.host}/acme/widget:v1`;
});

afterAll(async () => {
  await reg?.stop();
  await work?.cleanup();
});

async function withCreds(args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  const r = await cli([...args, '--username', reg.username, '--password-stdin'], {
    stdin: `${reg.password}\n`,
    ...(env ? { env } : {}),
  });
  results.push(r);
  return r;
}

describe('opk-signer verify against docker-registry with Bearer-token auth', () => {
  it('verifies every platform by tag (exit 0), in the plugin wording', async () => {
    const r = await withCreds([
      ref,
      '--jwks',
      jwks,
      '--repo-owner-id',
      '145685596',
      '--repository',
      'acme/widget',
      '--ref',
      'refs/heads/main',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      // The registry's port escaped as BuildKit writes it (`127.0.0.1%3A5055`).
      `Verifying 2 attestations for pkg:docker/${reg.host.replace(':', '%3A')}/acme/widget@v1?platform=linux%2Famd64\n`,
    );
    expect(r.stdout).toContain(
      `Verifying 2 attestations for pkg:docker/${reg.host.replace(':', '%3A')}/acme/widget@v1?platform=linux%2Farm64%2Fv8\n`,
    );
    expect(r.stdout).toContain(`  ✓ Verified attestation refers to tag ${reg.host}/acme/widget:v1\n`);
    expect(r.stdout).toContain('  ✓ Verified repository owner 145685596 (acme)\n');
    expect(r.stdout).toContain('  ✓ Verified ref refs/heads/main\n');
    expect(r.stdout).toContain('\nVerified all required attestations are present\n');
  });

  it('verifies by digest and for one --platform', async () => {
    const r = await withCreds([
      `${reg.host}/acme/widget@${img.index.digest}`,
      '--jwks',
      jwks,
      '--platform',
      'linux/arm64',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^Verifying 2 attestations/gm)).toHaveLength(1);
    expect(r.stdout).not.toContain('refers to tag');
  });

  it('exit 1 with a ✗ line for a wrong owner id', async () => {
    const r = await withCreds([ref, '--jwks', jwks, '--repo-owner-id', '999']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  ✗ failed to verify repository owner, expected 999, got 145685596 (acme)\n');
  });

  it('exit 1 when the policy requires an SBOM the image lacks', async () => {
    const policy = join(work.dir, 'policy.yaml');
    await writeFile(policy, 'requireSbom: true\nclaims:\n  repository_owner_id: "145685596"\n');
    const r = await withCreds([`${reg.host}/acme/widget:nosbom`, '--jwks', jwks, '--policy', policy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ missing required attestation https://spdx.dev/Document\n');
  });

  it('JSON output follows the documented schema', async () => {
    const r = await withCreds([ref, '--jwks', jwks, '--output', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual([
      'schema',
      'verified',
      'image',
      'trust',
      'policy',
      'platforms',
      'warnings',
      'errors',
      'input',
    ]);
    expect(doc.image).toMatchObject({
      source: 'registry',
      location: `${reg.host}/acme/widget`,
      digest: img.index.digest,
      tag: 'v1',
    });
    expect(doc.platforms).toHaveLength(2);
    expect(doc.input.platforms[0].attestations[0].claims.repository_owner_id).toBe('145685596');
  });

  it('reads credentials from DOCKER_CONFIG; without any it is an I/O error (exit 2)', async () => {
    const dir = join(work.dir, 'docker-cfg');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [reg.host]: { username: reg.username, password: reg.password } } }),
    );
    const ok = await cli([ref, '--jwks', jwks], { env: { DOCKER_CONFIG: dir } });
    results.push(ok);
    expect(ok.code).toBe(0);
    const anon = await cli([ref, '--jwks', jwks]);
    results.push(anon);
    expect(anon.code).toBe(2);
    expect(anon.stderr).toContain('REGISTRY_AUTH');
  });

  it('never prints the password or a registry token (canary)', () => {
    expect(results.length).toBeGreaterThan(4);
    expect(reg.issuedTokens.length).toBeGreaterThan(0);
    const secrets = [
      reg.password,
      Buffer.from(`${reg.username}:${reg.password}`).toString('base64'),
      ...reg.issuedTokens,
    ];
    for (const r of results) {
      for (const s of secrets) {
        expect(r.stdout).not.toContain(s);
        expect(r.stderr).not.toContain(s);
      }
    }
  });
});

describe('opk-signer verify on OCI layouts', () => {
  it('verifies oci:DIR:TAG', async () => {
    const r = await cli([
      `oci:${join(work.dir, 'layout')}:v1`,
      '--jwks',
      jwks,
      '--subject-name',
      `${reg.host}/acme/widget`,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`✓ Verified attestation refers to tag ${reg.host}/acme/widget:v1`);
  });

  it('a key only in an archive that was not supplied fails; supplying the archive verifies', async () => {
    const rotated = createTestOp({ kid: 'rotated-key' });
    const old = await signedImage(rotated);
    const layout = join(work.dir, 'rotated');
    await writeLayout(old, layout, 'v1');
    const otherArchive = join(work.dir, 'archive-other');
    await appendSnapshot(otherArchive, { issuer: op.issuer, jwks: op.jwks });
    const missing = await cli([`oci:${layout}:v1`, '--jwks-archive', otherArchive, '--offline']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(
      '✗ no trusted key for issuer https://token.actions.githubusercontent.com with kid "rotated-key"',
    );
    const archive = join(work.dir, 'archive');
    await appendSnapshot(archive, { issuer: rotated.issuer, jwks: rotated.jwks });
    const found = await cli([`oci:${layout}:v1`, '--jwks-archive', archive, '--offline']);
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
  });

  it('usage errors exit 2', async () => {
    const layoutRef = `oci:${join(work.dir, 'layout')}:v1`;
    const bad = join(work.dir, 'bad-policy.yaml');
    await writeFile(bad, 'cel: ["claims.("]\n');
    for (const args of [
      [layoutRef, '--jwks', jwks, '--platform', 'linux'],
      [ref, '--jwks', jwks, '--username', 'alice'],
      [layoutRef, '--jwks', jwks, '--output', 'yaml'],
      [layoutRef, '--jwks', jwks, '--policy', bad],
      [`oci:${join(work.dir, 'nowhere')}:v1`, '--jwks', jwks],
      ['UPPER/Case:tag', '--jwks', jwks],
      [],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});

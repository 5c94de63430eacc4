/**
 * Every layout an unmodified BuildKit wrote (/work/shared/fixtures/buildkit-real/) signs with
 * `attest` and verifies with `verify`, both in-process CLI doors, signed by the embedded dev
 * issuer (its default claims match the fixtures' provenance): as a layout (inline, the layout
 * default) and pushed to the Debian registry (referrers, the registry default: digest unchanged).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as attestRun } from '../../../src/cli/commands/attest.js';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { runInProcess } from '../../helpers/cli.js';
import { REAL, writableCopy } from '../../helpers/real-builds.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';

const exec = promisify(execFile);
const LAYOUTS = ['stock-prov', 'stock-sbom', 'stock-noname', 'stock-dir'] as const;
const UNNAMED = new Set(['stock-noname', 'stock-dir']);

let issuer: DevIssuer;
let registry: RegistryFixture;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  issuer = await startDevIssuer();
  registry = await startRegistry({ auth: false });
  work = mkdtempSync(join(tmpdir(), 'opk-real-'));
  env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
  };
});
afterAll(async () => {
  await issuer?.close();
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A writable copy of the fixture `name`, under a fresh name. */
function copy(name: string): string {
  const dst = join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  writableCopy(join(REAL, name), dst);
  return dst;
}

const indexDigest = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] })
    .manifests[0]!.digest;

const attest = (args: string[]) => runInProcess(attestRun, args, { env });
const verify = (args: string[]) =>
  runInProcess(verifyRun, [
    ...args,
    '--issuer',
    issuer.issuer,
    '--repository',
    'acme/widget',
    '--output',
    'json',
  ]);

interface Report {
  verified: boolean;
  image: { digest: string };
  platforms: {
    purl: string;
    attestations: { signed: boolean; verified: boolean; subjects?: { name: string }[] }[];
  }[];
}

function expectAllVerified(r: { code: number; stdout: string; stderr: string }, statements: number): Report {
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const report = JSON.parse(r.stdout) as Report;
  const atts = report.platforms.flatMap((p) => p.attestations);
  expect(atts).toHaveLength(statements);
  for (const a of atts) expect(a).toMatchObject({ signed: true, verified: true });
  return report;
}

async function registryDigest(repo: string, ref: string): Promise<string> {
  const { stdout } = await exec('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${registry.host}/${repo}:${ref}`,
  ]);
  const { createHash } = await import('node:crypto');
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

describe('real BuildKit output signs and verifies', () => {
  for (const name of LAYOUTS) {
    const statements = name === 'stock-sbom' ? 4 : 2;

    it(`${name} as an OCI layout: attest (inline, the layout default) then verify`, async () => {
      const dir = copy(name);
      const before = indexDigest(dir);
      const a = await attest([`oci:${dir}`]);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout.trim()).not.toBe(before);
      expect(a.stderr).toContain(`signatures are in the new index ${a.stdout.trim()}`);
      if (name === 'stock-dir') {
        expect(a.stderr).toContain('OCI_LAYOUT_MARKER_MISSING');
        expect(existsSync(join(dir, 'oci-layout'))).toBe(true); // what we wrote is a whole layout
      }
      if (UNNAMED.has(name))
        expect(a.stderr).toMatch(/had an empty subject; filled with sha256:[0-9a-f]{64}/);
      else expect(a.stderr).not.toContain('empty subject');
      const report = expectAllVerified(await verify([`oci:${dir}`]), statements);
      expect(report.image.digest).toBe(a.stdout.trim());
      // The purl names the image BuildKit recorded, at the layout's ref name (not an invented
      // `latest`); an export without a name has no purl, never one made from the directory.
      const refName = { 'stock-prov': 'stock', 'stock-sbom': 'stock-sbom' }[name as string];
      for (const p of report.platforms)
        if (refName)
          expect(p.purl).toMatch(new RegExp(`^pkg:docker/127\\.0\\.0\\.1%3A5055/hello@${refName}\\?`));
        else expect(p.purl).toBe('');
    });

    it(`${name} pushed to a registry: attest IMAGE@DIGEST --push (referrers), digest unchanged, verify by digest`, async () => {
      const dir = copy(name);
      if (!existsSync(join(dir, 'oci-layout')))
        writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}'); // for skopeo
      const repo = `real/${name}`;
      await exec('skopeo', [
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${dir}`,
        `docker://${registry.host}/${repo}:built`,
      ]);
      const digest = indexDigest(dir);
      expect(await registryDigest(repo, 'built')).toBe(digest);
      const a = await attest([`${registry.host}/${repo}@${digest}`, '--push']);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout.trim()).toBe(digest);
      expect(await registryDigest(repo, 'built')).toBe(digest); // the tag still names the build's index
      const report = expectAllVerified(await verify([`${registry.host}/${repo}@${digest}`]), statements);
      expect(report.image.digest).toBe(digest);
      if (UNNAMED.has(name))
        for (const p of report.platforms)
          for (const x of p.attestations)
            // Filled as BuildKit writes purls: the port escaped, the version the digest signed.
            expect(x.subjects?.[0]?.name).toMatch(
              new RegExp(
                `^pkg:docker/127\\.0\\.0\\.1%3A\\d+/real/${name}@sha256%3A${digest.slice(7)}\\?platform=linux%2F`,
              ),
            );
      // Signed again: nothing to do, still the same digest.
      const again = await attest([`${registry.host}/${repo}@${digest}`, '--push']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('already signed');
    });
  }

  it('a statement whose subject is not empty is never altered: a mismatch is still refused', async () => {
    const dir = copy('stock-prov');
    // Swap the two platforms' attestation manifests in the index: each statement now names the other platform.
    const idxPath = join(dir, 'blobs/sha256', indexDigest(dir).slice(7));
    const idx = JSON.parse(readFileSync(idxPath, 'utf8')) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    const [a, b] = idx.manifests.filter((m) => m.annotations?.['vnd.docker.reference.type']);
    const ref = 'vnd.docker.reference.digest';
    [a!.annotations![ref], b!.annotations![ref]] = [b!.annotations![ref]!, a!.annotations![ref]!];
    const bytes = JSON.stringify(idx);
    const { createHash } = await import('node:crypto');
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir, 'blobs/sha256', hex), bytes);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: `sha256:${hex}`,
            size: bytes.length,
            annotations: { 'org.opencontainers.image.ref.name': 'stock' },
          },
        ],
      }),
    );
    const r = await attest([`oci:${dir}:stock`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ATTEST_SUBJECT_MISMATCH');
    expect(r.stderr).not.toContain('empty subject');
  });
});

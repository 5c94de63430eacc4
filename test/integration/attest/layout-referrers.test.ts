/**
 * `attest oci:DIR --mode referrers` on every layout an unmodified BuildKit wrote: the layout's
 * index.json stays as BuildKit wrote it (the referrers are blobs only), so `verify oci:DIR`,
 * `inspect oci:DIR` and `skopeo copy oci:DIR` keep naming the one image; and a layout where
 * referrers ARE listed in index.json (oras, older opk-signer) still opens as `oci:DIR`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as attestRun } from '../../../src/cli/commands/attest.js';
import { run as inspectRun } from '../../../src/cli/commands/inspect.js';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { ARTIFACT_TYPE_OPK_SIGNATURES } from '../../../src/oci/types.js';
import { runInProcess } from '../../helpers/cli.js';

const exec = promisify(execFile);
const REAL = '/work/shared/fixtures/buildkit-real';
const LAYOUTS = ['stock-prov', 'stock-sbom', 'stock-noname', 'stock-dir'] as const;

let issuer: DevIssuer;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  issuer = await startDevIssuer();
  work = mkdtempSync(join(tmpdir(), 'opk-lref-'));
  env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
  };
});
afterAll(async () => {
  await issuer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A writable copy: the fixtures are read-only and must stay as BuildKit wrote them. */
function copy(name: string): string {
  const dst = join(work, `${name}-${Math.random().toString(36).slice(2, 8)}`);
  cpSync(join(REAL, name), dst, { recursive: true });
  const chmod = (p: string) => {
    chmodSync(p, 0o755);
    for (const e of readdirSync(p, { withFileTypes: true }))
      if (e.isDirectory()) chmod(join(p, e.name));
      else chmodSync(join(p, e.name), 0o644);
  };
  chmod(dst);
  return dst;
}

const attest = (args: string[]) => runInProcess(attestRun, args, { env });
const inspect = (args: string[]) => runInProcess(inspectRun, args);
const verify = (args: string[]) =>
  runInProcess(verifyRun, [...args, '--issuer', issuer.issuer, '--repository', 'acme/widget', '-o', 'json']);

interface Report {
  image: { digest: string };
  platforms: { attestations: { signed: boolean; verified: boolean }[] }[];
}

function expectVerified(
  r: { code: number; stdout: string; stderr: string },
  digest: string,
  statements: number,
) {
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const report = JSON.parse(r.stdout) as Report;
  expect(report.image.digest).toBe(digest);
  const atts = report.platforms.flatMap((p) => p.attestations);
  expect(atts).toHaveLength(statements);
  for (const a of atts) expect(a).toMatchObject({ signed: true, verified: true });
}

const indexJson = (dir: string) => readFileSync(join(dir, 'index.json'), 'utf8');
const onlyEntry = (dir: string) =>
  (JSON.parse(indexJson(dir)) as { manifests: { digest: string }[] }).manifests[0]!.digest;

describe('attest oci:DIR --mode referrers on real BuildKit layouts', () => {
  for (const name of LAYOUTS) {
    const statements = name === 'stock-sbom' ? 4 : 2;

    it(`${name}: index.json unchanged; verify, inspect and skopeo copy still take oci:DIR`, async () => {
      const dir = copy(name);
      const before = indexJson(dir);
      const digest = onlyEntry(dir);
      const a = await attest([`oci:${dir}`, '--mode', 'referrers']);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout.trim()).toBe(digest);
      expect(indexJson(dir)).toBe(before);
      expectVerified(await verify([`oci:${dir}`]), digest, statements);
      const i = await inspect([`oci:${dir}`, '-o', 'json']);
      expect(i.code, i.stderr).toBe(0);
      const out = join(work, `${name}-copy-${Math.random().toString(36).slice(2, 8)}`);
      await exec('skopeo', ['copy', '--all', '--preserve-digests', `oci:${dir}`, `oci:${out}:copied`]);
      expect(onlyEntry(out)).toBe(digest);
    });
  }

  it('--resign replaces the referrer blobs: one signature artifact per attestation manifest', async () => {
    const dir = copy('stock-prov');
    const digest = onlyEntry(dir);
    expect((await attest([`oci:${dir}`, '--mode', 'referrers'])).code).toBe(0);
    const layout = await OciLayout.open(dir);
    const firstSet = await referrerDigests(layout);
    expect(firstSet).toHaveLength(2);
    const again = await attest([`oci:${dir}`, '--mode', 'referrers', '--resign']);
    expect(again.code, again.stderr).toBe(0);
    const secondSet = await referrerDigests(await OciLayout.open(dir));
    expect(secondSet).toHaveLength(2);
    for (const d of firstSet) expect(secondSet).not.toContain(d);
    expectVerified(await verify([`oci:${dir}`]), digest, 2);
  });

  it('referrers listed in index.json (as oras and older versions write them) are never "the image"', async () => {
    const dir = copy('stock-noname');
    const digest = onlyEntry(dir);
    expect((await attest([`oci:${dir}`, '--mode', 'referrers'])).code).toBe(0);
    const refs = await referrerDigests(await OciLayout.open(dir));
    const idx = JSON.parse(indexJson(dir)) as { manifests: object[] };
    for (const r of refs) {
      const size = readFileSync(join(dir, 'blobs/sha256', r.slice(7))).length;
      // One entry with our artifactType, one without (only its manifest's subject says what it is).
      const extra = idx.manifests.length === 1 ? { artifactType: ARTIFACT_TYPE_OPK_SIGNATURES } : {};
      idx.manifests.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: r,
        size,
        ...extra,
      });
    }
    writeFileSync(join(dir, 'index.json'), JSON.stringify(idx));
    expectVerified(await verify([`oci:${dir}`]), digest, 2);
    expect((await inspect([`oci:${dir}`])).code).toBe(0);
    expect((await attest([`oci:${dir}`, '--mode', 'referrers'])).stderr).toContain('already signed');
  });

  it('two images: the error names each as oci:DIR:TAG or oci:DIR@sha256:…', async () => {
    const dir = copy('stock-prov');
    const idx = JSON.parse(indexJson(dir)) as { manifests: { annotations?: object }[] };
    const second = { ...idx.manifests[0]!, annotations: {} };
    idx.manifests.push(second);
    const other = JSON.parse(indexJson(copy('stock-noname'))) as { manifests: object[] };
    idx.manifests[1] = other.manifests[0]!;
    writeFileSync(join(dir, 'index.json'), JSON.stringify(idx));
    const r = await verify([`oci:${dir}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`holds 2 images; name one: oci:${dir}:stock, oci:${dir}@sha256:`);
  });
});

async function referrerDigests(layout: OciLayout): Promise<string[]> {
  const index = await layout.resolve('');
  const att = (
    JSON.parse(Buffer.from(index.bytes).toString('utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    }
  ).manifests.filter((m) => m.annotations?.['vnd.docker.reference.type']);
  const out: string[] = [];
  for (const m of att) for (const r of await layout.referrers(m.digest)) out.push(r.digest);
  return out;
}

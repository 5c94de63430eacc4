import { spawnSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as attestRun } from '../../../src/cli/commands/attest.js';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  unsignedLayer,
} from '../../helpers/buildkit.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { CLI, runInProcess } from '../../helpers/cli.js';
import { createTestOp, PLATFORMS, tempDir } from '../../helpers/verify.js';

let work: { dir: string; cleanup: () => Promise<void> };
let layersLayout: string;
let entriesLayout: string;
let jwks: string;

beforeAll(async () => {
  work = await tempDir('opk-limits-');
  jwks = join(work.dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify(createTestOp().jwks));
  // 10,000 layers in one attestation manifest (one blob, listed 10,000 times).
  const a = new BlobStore();
  const m = putImageManifest(a, PLATFORMS[0]!);
  const layer = unsignedLayer(Buffer.from('{}'), 'https://example.test/x');
  const att = putAttestationManifest(
    a,
    'legacy',
    m,
    Array.from({ length: 10_000 }, () => layer),
  );
  layersLayout = join(work.dir, 'layers');
  await a.writeToLayout(await OciLayout.create(layersLayout), putIndex(a, [m, att]), 'v1');
  // 10,000 index entries, each a platform image whose manifest is not even in the layout.
  const b = new BlobStore();
  const entries = Array.from({ length: 10_000 }, (_, i) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    size: 100,
    platform: { os: 'linux', architecture: `a${i}` },
  }));
  entriesLayout = join(work.dir, 'entries');
  await b.writeToLayout(await OciLayout.create(entriesLayout), putIndex(b, entries), 'v1');
});

afterAll(async () => {
  await work?.cleanup();
});

describe('limits through the CLI: exit 2 with a typed code, never "not found"', () => {
  it('verify: 10,000 layers → OCI_LIMIT_LAYERS; 10,000 entries → OCI_LIMIT_INDEX_ENTRIES', async () => {
    const l = await runInProcess(verifyRun, [`oci:${layersLayout}:v1`, '--jwks', jwks]);
    expect(l.code).toBe(2);
    expect(l.stderr).toContain('OCI_LIMIT_LAYERS');
    expect(l.stderr).toContain('--max-layers');
    const e = await runInProcess(verifyRun, [`oci:${entriesLayout}:v1`, '--jwks', jwks]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('OCI_LIMIT_INDEX_ENTRIES');
    expect(e.stderr + l.stderr).not.toMatch(/not found|OCI_NOT_FOUND|EMFILE/);
  });

  it('attest reads within the same limits', async () => {
    const l = await runInProcess(attestRun, [`oci:${layersLayout}:v1`, '--provider', 'dev']);
    expect(l.code).toBe(2);
    expect(l.stderr).toContain('OCI_LIMIT_LAYERS');
    const e = await runInProcess(attestRun, [`oci:${entriesLayout}:v1`, '--max-index-entries', '100']);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('OCI_LIMIT_INDEX_ENTRIES');
  });

  it('raised limits are honoured; bad values are usage errors', async () => {
    const e = await runInProcess(verifyRun, [
      `oci:${entriesLayout}:v1`,
      '--jwks',
      jwks,
      '--max-index-entries',
      '10000',
    ]);
    // Past the entry limit, the 10,000 manifests are fetched (16 at a time) and are absent.
    expect(e.code).toBe(2);
    expect(e.stderr).toContain('OCI_NOT_FOUND');
    const b = await runInProcess(verifyRun, [`oci:${layersLayout}:v1`, '--jwks', jwks, '--max-bytes', '64K']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('OCI_LIMIT_BYTES');
    for (const bad of [
      ['--max-layers', '0'],
      ['--max-bytes', '12Q'],
      ['--max-referrers', '-1'],
    ]) {
      const r = await runInProcess(verifyRun, [`oci:${layersLayout}:v1`, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(bad[0]);
    }
  });

  it('the built CLI, as a process: exit 2 on the 10,000-layer manifest', () => {
    const r = spawnSync(process.execPath, [CLI, 'verify', `oci:${layersLayout}:v1`, '--jwks', jwks], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('OCI_LIMIT_LAYERS');
  });
});

describe('OCI layout: only a missing file is "not found"', () => {
  it('a blob that cannot be opened for another reason (ELOOP) is OCI_READ_FAILED', async () => {
    const dir = join(work.dir, 'loop');
    const layout = await OciLayout.create(dir);
    const digest = `sha256:${'e'.repeat(64)}`;
    const path = join(dir, 'blobs', 'sha256', 'e'.repeat(64));
    await symlink(path, path);
    const e = await layout.fetchBlob(digest).catch((x: unknown) => x);
    expect((e as { code: string }).code).toBe('OCI_READ_FAILED');
    const missing = await layout.fetchBlob(`sha256:${'f'.repeat(64)}`).catch((x: unknown) => x);
    expect((missing as { code: string }).code).toBe('OCI_NOT_FOUND');
  });
});

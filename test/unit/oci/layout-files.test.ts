import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout } from '../../../src/oci/layout.js';
import { verifyImage } from '../../../src/verify/image.js';
import type { TestOp } from '../../helpers/op.js';
import { createTestOp, signedImage, tempDir, trustFor, writeLayout } from '../../helpers/verify.js';

/**
 * Layout files are read bounded: `stat` sizes are not trusted (a device or FIFO says 0 and never
 * ends), so only regular files are read, never through a symlink, and never past the cap.
 */

const posix = process.platform !== 'win32';
let op: TestOp;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  op = createTestOp();
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

/** A signed image in a fresh layout; `layerPath` is one attestation layer's blob file. */
async function layoutWithLayer(): Promise<{ dir: string; layerPath: string; layerDigest: string }> {
  const img = await signedImage(op, { sbom: false });
  const { dir, cleanup } = await tempDir('opk-layout-files-');
  cleanups.push(cleanup);
  await writeLayout(img, dir);
  const att = img.store.getJson<{ layers: { digest: string }[] }>(img.platforms[0]!.attestation.digest);
  const layerDigest = att.layers[0]!.digest;
  return { dir, layerDigest, layerPath: join(dir, 'blobs', 'sha256', layerDigest.slice('sha256:'.length)) };
}

function verify(layout: OciLayout) {
  return verifyImage({
    source: layout,
    reference: { tag: 'v1' },
    displayName: 'example.test/acme/widget:v1',
    trust: trustFor(op),
    limits: { maxBytes: 1024 * 1024 },
  });
}

describe.runIf(posix)('layout files are read bounded', () => {
  it('a layer blob symlinked to /dev/zero is refused (OCI_READ_FAILED), not read without end', async () => {
    const { dir, layerPath, layerDigest } = await layoutWithLayer();
    rmSync(layerPath);
    symlinkSync('/dev/zero', layerPath);
    const layout = await OciLayout.open(dir);
    await expect(layout.fetchBlob(layerDigest, 1024)).rejects.toMatchObject({ code: 'OCI_READ_FAILED' });
    await expect(verify(layout)).rejects.toMatchObject({ code: 'OCI_READ_FAILED' });
  }, 5_000);

  it('a symlink to a regular file holding the right bytes is refused too (no reads outside the layout)', async () => {
    const { dir, layerPath, layerDigest } = await layoutWithLayer();
    renameSync(layerPath, join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), layerPath);
    const layout = await OciLayout.open(dir);
    await expect(layout.fetchBlob(layerDigest)).rejects.toMatchObject({
      code: 'OCI_READ_FAILED',
      message: expect.stringContaining('symbolic link'),
    });
  }, 5_000);

  it('a FIFO blob is refused at once (OCI_READ_FAILED), without waiting for a writer', async () => {
    const { dir, layerPath } = await layoutWithLayer();
    rmSync(layerPath);
    execFileSync('mkfifo', [layerPath]);
    const layout = await OciLayout.open(dir);
    await expect(verify(layout)).rejects.toMatchObject({
      code: 'OCI_READ_FAILED',
      message: expect.stringContaining('not a regular file'),
    });
  }, 5_000);

  it('a symlinked index.json or oci-layout is refused at open', async () => {
    const { dir } = await layoutWithLayer();
    renameSync(join(dir, 'index.json'), join(dir, 'real-index.json'));
    symlinkSync(join(dir, 'real-index.json'), join(dir, 'index.json'));
    await expect(OciLayout.open(dir)).rejects.toMatchObject({ code: 'OCI_READ_FAILED' });
    rmSync(join(dir, 'index.json'));
    symlinkSync('/dev/zero', join(dir, 'index.json'));
    await expect(OciLayout.open(dir)).rejects.toMatchObject({ code: 'OCI_READ_FAILED' });
    rmSync(join(dir, 'oci-layout'));
    symlinkSync('/dev/zero', join(dir, 'oci-layout'));
    await expect(OciLayout.open(dir)).rejects.toMatchObject({ code: 'OCI_READ_FAILED' });
  }, 5_000);

  it('an index.json over the cap is OCI_TOO_LARGE at open', async () => {
    const { dir } = await layoutWithLayer();
    writeFileSync(join(dir, 'index.json'), ' '.repeat(4 * 1024 * 1024 + 1));
    await expect(OciLayout.open(dir)).rejects.toMatchObject({ code: 'OCI_TOO_LARGE' });
  }, 5_000);

  it('a blob over the per-read cap is OCI_TOO_LARGE; one at the cap reads whole', async () => {
    const { dir, layerDigest, layerPath } = await layoutWithLayer();
    const layout = await OciLayout.open(dir);
    const size = (await layout.fetchBlob(layerDigest)).length;
    await expect(layout.fetchBlob(layerDigest, size - 1)).rejects.toMatchObject({ code: 'OCI_TOO_LARGE' });
    expect((await layout.fetchBlob(layerDigest, size)).length).toBe(size);
    expect(layerPath).toContain(layerDigest.slice(7));
  }, 5_000);
});

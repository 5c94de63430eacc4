import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestImage } from '../../../src/attest/attest.js';
import { AttestError } from '../../../src/attest/errors.js';
import { layoutTarget } from '../../../src/attest/write.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { LAYOUT_LOCK, OciLayout } from '../../../src/oci/layout.js';
import { MEDIA_TYPE_OCI_INDEX } from '../../../src/oci/types.js';
import { createTestOp } from '../../helpers/op.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import { countingSigner, unsignedImage } from '../../helpers/attest.js';

const op = createTestOp();
let work: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const dir = () => join(work.dir, `r${n++}`);
const ONE = [{ os: 'linux', architecture: 'amd64' }];

beforeAll(async () => {
  work = await tempDir('opk-layout-writes-');
});
afterAll(async () => {
  await work?.cleanup();
});

describe('layout writes are locked read-modify-writes', () => {
  it('a concurrent writer keeps its tag, and a tag moved meanwhile is caught', async () => {
    const path = dir();
    const img = await unsignedImage({ platforms: ONE });
    const other = await unsignedImage({ platforms: ONE, seed: 'x' });
    await writeLayout(img, path);
    const layout = await OciLayout.open(path);
    const inner = countingSigner(op);
    let retag = false;
    let where = path;
    const signer = {
      ...inner,
      async sign(tasks: Parameters<typeof inner.sign>[0]) {
        await other.store.writeToLayout(await OciLayout.open(where), other.index, 'v2');
        if (retag) await other.store.writeToLayout(await OciLayout.open(where), other.index, 'v1');
        return inner.sign(tasks);
      },
    };
    const r = await attestImage({
      source: layout,
      reference: { tag: 'v1' },
      target: layoutTarget(layout),
      tags: ['v1'],
      expectTags: ['v1'],
      signer,
    });
    const after = await OciLayout.open(path);
    expect(await after.tagged('v1')).toBe(r.digest);
    expect(await after.tagged('v2')).toBe(other.index.digest);

    const path2 = dir();
    await writeLayout(img, path2);
    const layout2 = await OciLayout.open(path2);
    retag = true;
    where = path2;
    const signer2 = { ...signer, sign: signer.sign };
    const e = await attestImage({
      source: layout2,
      reference: { tag: 'v1' },
      target: layoutTarget(layout2),
      tags: ['v1'],
      expectTags: ['v1'],
      signer: signer2,
    }).catch((x: unknown) => x);
    expect(e, String(e)).toBeInstanceOf(AttestError);
    expect((e as AttestError).code).toBe('ATTEST_TAG_MOVED');
    expect(await (await OciLayout.open(path2)).tagged('v1')).toBe(other.index.digest);
  });

  it('a lock held too long is reported as possibly stale', async () => {
    const path = dir();
    const layout = await OciLayout.create(path, { lockWaitMs: 100 });
    await writeFile(join(path, LAYOUT_LOCK), '12345 then');
    const e = await layout
      .writeBlob('x')
      .then((d) => layout.addManifest(d, 't'))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OciIoError);
    expect((e as OciIoError).code).toBe('OCI_LAYOUT_LOCKED');
    expect((e as OciIoError).message).toMatch(/stale/);
  });
});

describe('layout temp files', () => {
  it('planted symlinks at the old predictable temp names are not followed; corrupt blobs are rewritten', async () => {
    const path = dir();
    const layout = await OciLayout.create(path);
    const victim = join(work.dir, `victim${n++}.txt`);
    await writeFile(victim, 'precious\n');
    for (let i = 1; i < 200; i++) await symlink(victim, join(path, `index.json.tmp-${process.pid}-${i}`));
    const d = await layout.writeBlob('hello');
    await layout.addManifest({ ...d, mediaType: MEDIA_TYPE_OCI_INDEX }, 'x');
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    // A blob that is there but corrupt is rewritten, not skipped.
    const blob = join(path, 'blobs', 'sha256', d.digest.slice(7));
    await writeFile(blob, 'HELLO');
    await layout.writeBlob('hello');
    expect(await readFile(blob, 'utf8')).toBe('hello');
    // Only the planted names remain: no temp file of ours is left behind.
    expect((await readdir(path)).filter((f) => /\.tmp-[0-9a-f]{24}$/.test(f))).toEqual([]);
  });
});

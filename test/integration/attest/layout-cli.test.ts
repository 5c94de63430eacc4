import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { buildxMetadata, type BuiltImage } from '../../helpers/buildkit.js';
import { ANNOTATION_REF_NAME } from '../../../src/oci/types.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import {
  attestCli,
  attestInMemory,
  refusedWith,
  startActionsIssuer,
  unsignedImage,
  withLayers,
} from '../../helpers/attest.js';

let op: TestOp;
let dev: DevIssuer;
let env: NodeJS.ProcessEnv;
let work: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const dir = () => join(work.dir, `r${n++}`);

beforeAll(async () => {
  op = createTestOp();
  ({ dev, env } = await startActionsIssuer());
  work = await tempDir('opk-attest-layout-cli-');
});
afterAll(async () => {
  await dev?.close();
  await work?.cleanup();
});

function attest(img: BuiltImage, o: Parameters<typeof attestInMemory>[2] = {}) {
  return attestInMemory(op, img, o);
}

describe('a layer only counts as signed when its envelope really is one (through the CLI door)', () => {
  it('an attestation manifest with no in-toto layer at all: refused, never "already signed: 0"', async () => {
    const img = await withLayers((ls) => ls.map((l) => ({ ...l, mediaType: 'application/json' })));
    expect(await refusedWith(attest(img), 'ATTEST_NOTHING_TO_SIGN')).toMatch(/no in-toto layer/);
    const path = dir();
    await img.store.writeToLayout(await OciLayout.create(path), img.store.tags.get('v1')!, 'v1');
    const r = await attestCli([`oci:${path}:v1`], { env });
    expect(r.stderr).toContain('ATTEST_NOTHING_TO_SIGN');
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('already signed');
  });
});

describe('re-running with --metadata-file is a no-op', () => {
  it('the second run exits 0, prints the signed index, signs and pushes nothing', async () => {
    const path = dir();
    const img = await unsignedImage({ form: 'oci-artifact' });
    await writeLayout(img, path);
    const meta = join(work.dir, `meta${n++}.json`);
    await writeFile(meta, JSON.stringify(buildxMetadata(img, ['example.test/acme/widget:v1'])));
    const a = await attestCli([`oci:${path}:v1`, '--metadata-file', meta], { env });
    expect(a.code).toBe(0);
    const signed = a.stdout.trim();
    const blobs = (await readdir(join(path, 'blobs', 'sha256'))).length;
    const b = await attestCli([`oci:${path}:v1`, '--metadata-file', meta], { env: {} });
    expect(b.stderr).toContain('already signed');
    expect(b.code).toBe(0);
    expect(b.stdout.trim()).toBe(signed);
    expect((await readdir(join(path, 'blobs', 'sha256'))).length).toBe(blobs);
    expect(await (await OciLayout.open(path)).tagged('v1')).toBe(signed);
  });
});

describe('signing a layout by digest moves no tag', () => {
  it('the new index is listed untagged; latest keeps naming the other image', async () => {
    const path = dir();
    const img = await unsignedImage({ form: 'oci-artifact' });
    await writeLayout(img, path);
    const other = await unsignedImage({ seed: 'other' });
    await other.store.writeToLayout(await OciLayout.open(path), other.index, 'latest');
    const r = await attestCli([`oci:${path}@${img.index.digest}`], { env });
    expect(r.code).toBe(0);
    const digest = r.stdout.trim();
    const layout = await OciLayout.open(path);
    expect(await layout.tagged('latest')).toBe(other.index.digest);
    expect(await layout.tagged('v1')).toBe(img.index.digest);
    const entry = layout.entries().find((e) => e.digest === digest);
    expect(entry).toBeDefined();
    expect(entry!.annotations?.[ANNOTATION_REF_NAME]).toBeUndefined();
  });
});

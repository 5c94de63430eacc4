import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { signedLayer } from '../../helpers/buildkit.js';
import type { TestOp } from '../../helpers/op.js';
import { codes, createTestOp, reassemble, signedImage, signedImageVerifier } from '../../helpers/verify.js';

let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

describe('statements that name no subject (BuildKit exports without an image name)', () => {
  const noname = '/work/shared/fixtures/buildkit-real/stock-noname/blobs/sha256';
  const realStatement = (): Uint8Array => {
    for (const f of readdirSync(noname)) {
      const b = readFileSync(join(noname, f));
      if (b.subarray(0, 60).toString().includes('in-toto.io/Statement')) return b;
    }
    throw new Error('no statement in stock-noname');
  };

  it('are signable, and verify reports them as SUBJECT_EMPTY, not bound to the image', async () => {
    const bytes = realStatement();
    expect(JSON.parse(bytes.toString()).subject).toEqual([]);
    const img = await signedImage(op, { sbom: false });
    const layer = await signedLayer(bytes, { getIdToken: op.source('aud') });
    reassemble(img, () => [layer]);
    const r = await verify(img.store);
    expect(codes(r)).toEqual(['SUBJECT_EMPTY']);
    expect(r.verified).toBe(false);
  });
});

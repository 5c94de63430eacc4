import { describe, expect, it } from 'vitest';
import { AttestError, tagOutcome } from '../../../src/attest/errors.js';
import type { ImageTarget } from '../../../src/attest/write.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { createTestOp } from '../../helpers/op.js';
import {
  attestInMemory,
  countingSigner,
  memoryTarget,
  refusedWith,
  unsignedImage,
} from '../../helpers/attest.js';

const op = createTestOp();

function attest(img: BuiltImage, o: Parameters<typeof attestInMemory>[2] = {}) {
  return attestInMemory(op, img, o);
}

describe('a tag the caller expects is checked before signing', () => {
  it('a tag moved to an unrelated image is refused before anything is signed or pushed', async () => {
    const img = await unsignedImage();
    const other = await unsignedImage({ seed: 'unrelated' });
    const t = memoryTarget(img.store);
    const o = other.store.tags.get('v1')!;
    img.store.put(other.store.getBytes(o.digest), o.mediaType);
    img.store.tags.set('v1', o);
    const signer = countingSigner(op);
    await refusedWith(
      attest(img, { reference: { digest: img.index.digest }, target: t, signer }),
      'ATTEST_TAG_MOVED',
    );
    expect(signer.count()).toBe(0);
    expect(t.writes).toEqual([]);
  });
});

describe('several tags', () => {
  it('every expected tag is checked before any moves', async () => {
    const img = await unsignedImage();
    const other = await unsignedImage({ seed: 'o' });
    const target = memoryTarget(img.store);
    // After the pre-signing check (first tagged() round), tag b moves elsewhere.
    let calls = 0;
    const t: ImageTarget = {
      ...target,
      async tagged(tag) {
        if (++calls === 3) img.store.tags.set('b', other.index);
        return target.tagged(tag);
      },
    };
    img.store.tags.set('a', img.index);
    img.store.tags.set('b', img.index);
    const e = await attest(img, { target: t, tags: ['a', 'b'], expectTags: ['a', 'b'] }).catch(
      (x: unknown) => x,
    );
    expect((e as AttestError).code).toBe('ATTEST_TAG_MOVED');
    expect(img.store.tags.get('a')!.digest).toBe(img.index.digest);
    expect(target.writes.filter((w) => w.startsWith('tag'))).toEqual([]);
  });

  it('a failure part-way reports exactly which tags moved', async () => {
    const img = await unsignedImage();
    const target = memoryTarget(img.store);
    const t: ImageTarget = {
      ...target,
      async putManifest(b, tag, check) {
        if (tag === 'b') throw new OciIoError('REGISTRY_IO', 'PUT manifest: 500');
        return target.putManifest(b, tag, check);
      },
    };
    for (const tag of ['a', 'b', 'c']) img.store.tags.set(tag, img.index);
    const e = await attest(img, { target: t, tags: ['a', 'b', 'c'], expectTags: ['a', 'b', 'c'] }).catch(
      (x: unknown) => x,
    );
    expect(tagOutcome(e)).toEqual({ moved: ['a'], untouched: ['b', 'c'] });
    expect((e as Error).message).toMatch(/already moved to the new index: a/);
  });
});

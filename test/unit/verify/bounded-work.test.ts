import { beforeAll, describe, expect, it } from 'vitest';
import { attestInMemory } from '../../helpers/attest.js';
import { OciLimitError } from '../../../src/oci/limits.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  unsignedLayer,
} from '../../helpers/buildkit.js';
import type { ImageSource } from '../../../src/oci/source.js';
import type { TestOp } from '../../helpers/op.js';
import {
  createTestOp,
  envelopePayload,
  PLATFORMS,
  reassemble,
  signedImage,
  signedImageVerifier,
} from '../../helpers/verify.js';

const CUSTOM = 'https://example.test/attestations/custom/v1';
let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

describe('bounded work', () => {
  /** Counts what a verification fetches. */
  function counting(store: BlobStore): ImageSource & { blobs: number; manifests: number } {
    const c = {
      kind: store.kind,
      location: store.location,
      blobs: 0,
      manifests: 0,
      resolve: (t: string) => store.resolve(t),
      fetchManifest: (d: string) => (c.manifests++, store.fetchManifest(d)),
      fetchBlob: (d: string) => (c.blobs++, store.fetchBlob(d)),
      referrers: (d: string, a?: string) => store.referrers(d, a),
    };
    return c;
  }

  it('a 10,000-layer attestation manifest stops at OCI_LIMIT_LAYERS before any layer is read', async () => {
    const store = new BlobStore();
    const m = putImageManifest(store, PLATFORMS[0]!);
    const layer = unsignedLayer(Buffer.from('{}'), CUSTOM);
    const att = putAttestationManifest(
      store,
      'oci-artifact',
      m,
      Array.from({ length: 10_000 }, () => layer),
    );
    store.tags.set('v1', putIndex(store, [m, att]));
    const src = counting(store);
    const e = await verify(src).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OciLimitError);
    expect((e as OciLimitError).code).toBe('OCI_LIMIT_LAYERS');
    expect((e as Error).message).toMatch(/10000 layers.*--max-layers/);
    expect(src.blobs).toBe(0);
    // Raised by option, the same manifest is read.
    const r = await verify(store, { limits: { maxLayers: 10_000 } });
    expect(r.platforms[0]!.attestations).toHaveLength(10_000);
  });

  it('a 10,000-entry index stops at OCI_LIMIT_INDEX_ENTRIES before any manifest is fetched', async () => {
    const store = new BlobStore();
    const m = putImageManifest(store, PLATFORMS[0]!);
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      ...m,
      platform: { os: 'linux', architecture: `arch${i}` },
    }));
    store.tags.set('v1', putIndex(store, entries));
    const src = counting(store);
    const e = await verify(src).catch((x: unknown) => x);
    expect((e as OciLimitError).code).toBe('OCI_LIMIT_INDEX_ENTRIES');
    expect(src.manifests).toBe(0);
  });

  it('the byte budget covers the whole run', async () => {
    const img = await signedImage(op);
    const e = await verify(img.store, { limits: { maxBytes: 4096 } }).catch((x: unknown) => x);
    expect((e as OciLimitError).code).toBe('OCI_LIMIT_BYTES');
    expect((await verify(img.store)).verified).toBe(true);
  });

  it('too many signature referrers of one attestation manifest: OCI_LIMIT_REFERRERS', async () => {
    const img = await signedImage(op);
    const unsigned = img.platforms.map((p) =>
      p.layers.map((l) => unsignedLayer(envelopePayload(l), l.predicateType)),
    );
    reassemble(img, (_p, i) => unsigned[i]!);
    await attestInMemory(op, img, { mode: 'referrers', tags: [], expectTags: [] });
    await attestInMemory(op, img, { mode: 'referrers', tags: [], expectTags: [], resign: true });
    // The in-memory referrers API lists both artifacts (the store keeps superseded blobs).
    const e = await verify(img.store, { limits: { maxReferrers: 1 } }).catch((x: unknown) => x);
    expect((e as OciLimitError).code).toBe('OCI_LIMIT_REFERRERS');
  });
});

import { describe, expect, it } from 'vitest';
import { readImage } from '../../../src/attest/read.js';
import { DEFAULT_LIMITS } from '../../../src/oci/limits.js';
import { classifyIndexEntry, readImageRoot, readLayer } from '../../../src/oci/read-image.js';
import {
  ANNOTATION_REFERENCE_DIGEST,
  ANNOTATION_REFERENCE_TYPE,
  REFERENCE_TYPE_ATTESTATION,
  MEDIA_TYPE_OCI_MANIFEST,
} from '../../../src/oci/types.js';
import { verifyImage } from '../../../src/verify/image.js';
import {
  BlobStore,
  buildImage,
  putAttestationManifest,
  putIndex,
  singleManifestImage,
} from '../../helpers/buildkit.js';
import { FACTS, PLATFORMS, trustFor, createTestOp } from '../../helpers/verify.js';

const NAME = 'example.test/acme/widget';
const codeOf = (e: unknown) => (e as { code?: string }).code;

describe('the one BuildKit image reader', () => {
  it('attest and verify refuse a single manifest with one code (IMAGE_NOT_INDEX)', async () => {
    const store = new BlobStore();
    singleManifestImage(store, 'v1', { os: 'linux', architecture: 'amd64' });
    const a = await readImage(store, { tag: 'v1' }, { mode: 'inline' }).catch((e: unknown) => e);
    const v = await verifyImage({
      source: store,
      reference: { tag: 'v1' },
      displayName: 'x',
      trust: trustFor(createTestOp()),
    }).catch((e: unknown) => e);
    expect([codeOf(a), codeOf(v)]).toEqual(['IMAGE_NOT_INDEX', 'IMAGE_NOT_INDEX']);
    expect((v as Error).message).toMatch(/single image manifest.*--provenance=true/);
  });

  it('an attestation manifest whose subject is not the platform its annotation names: one code for both', async () => {
    const img = await buildImage({ name: NAME, tag: 'v1', platforms: PLATFORMS, facts: FACTS });
    const [a, b] = img.platforms;
    // oci-artifact form: subject = arm64, annotation rewritten to amd64.
    const att = putAttestationManifest(img.store, 'oci-artifact', b!.manifest, b!.layers);
    const relabelled = {
      ...att,
      annotations: { ...att.annotations!, [ANNOTATION_REFERENCE_DIGEST]: a!.manifest.digest },
    };
    img.store.tags.set('v1', putIndex(img.store, [a!.manifest, b!.manifest, relabelled, b!.attestation]));
    const e = await readImage(img.store, { tag: 'v1' }, { mode: 'inline' }).catch((x: unknown) => x);
    expect(codeOf(e)).toBe('ATTESTATION_SUBJECT_MISMATCH');
  });

  it('classifies each index entry by one rule', () => {
    const m = { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: `sha256:${'a'.repeat(64)}`, size: 1 };
    const att = { [ANNOTATION_REFERENCE_TYPE]: REFERENCE_TYPE_ATTESTATION };
    const unknown = { os: 'unknown', architecture: 'unknown' };
    expect(classifyIndexEntry({ ...m, platform: { os: 'linux', architecture: 'amd64' } })).toBe('platform');
    expect(classifyIndexEntry({ ...m, platform: unknown, annotations: att })).toBe('attestation');
    // Typed as an attestation but with a real platform: a runtime could pick it.
    expect(
      classifyIndexEntry({ ...m, platform: { os: 'linux', architecture: 'amd64' }, annotations: att }),
    ).toBe('other');
    expect(classifyIndexEntry({ ...m, mediaType: 'application/vnd.oci.image.index.v1+json' })).toBe('other');
  });

  it('parses a DSSE layer once; one that is not an envelope carries its parse error', async () => {
    const store = new BlobStore();
    const good = store.put(
      JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: 'e30=', signatures: [] }),
      'application/vnd.in-toto+dsse',
    );
    const bad = store.put('not json', 'application/vnd.in-toto+dsse');
    const g = await readLayer(store, good, 0, 'dsse');
    const b = await readLayer(store, bad, 1, 'dsse');
    expect(g.envelope?.payloadType).toBe('application/vnd.in-toto+json');
    expect(g.att).toMatch(/^[0-9a-f]{64}$/);
    expect(b.envelope).toBeUndefined();
    expect(b.envelopeError?.code).toBeDefined();
  });

  it('keeps the index-entry limit', async () => {
    const img = await buildImage({ name: NAME, tag: 'v1', platforms: PLATFORMS, facts: FACTS });
    const e = await readImageRoot(img.store, { tag: 'v1' }, { ...DEFAULT_LIMITS, maxIndexEntries: 3 }).catch(
      (x: unknown) => x,
    );
    expect(codeOf(e)).toMatch(/LIMIT|TOO_MANY/);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { attestInMemory } from '../../helpers/attest.js';
import { putAttestationManifest, putIndex, unsignedLayer } from '../../helpers/buildkit.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_UNCOMPRESSED,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
} from '../../../src/oci/types.js';
import { renderText } from '../../../src/verify/report.js';
import type { TestOp } from '../../helpers/op.js';
import {
  createTestOp,
  envelopePayload,
  signedImage,
  signedImageVerifier,
  warningCodes,
} from '../../helpers/verify.js';

let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

describe('rootfs.diff_ids and containerd.io/uncompressed follow the layers', () => {
  it('stale diff_ids are a warning, not a failure', async () => {
    const img = await signedImage(op, { form: 'legacy' });
    const p = img.platforms[0]!;
    const manifest = img.store.getJson<{ config: Descriptor; layers: Descriptor[] }>(p.attestation.digest);
    const config = img.store.putJson(
      {
        architecture: 'unknown',
        os: 'unknown',
        config: {},
        rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] },
      },
      MEDIA_TYPE_OCI_CONFIG,
    );
    const stale = img.store.putJson({ ...manifest, config }, MEDIA_TYPE_OCI_MANIFEST, {
      annotations: p.attestation.annotations!,
      platform: p.attestation.platform!,
    });
    img.store.tags.set(
      'v1',
      putIndex(img.store, [...img.platforms.map((x) => x.manifest), stale, img.platforms[1]!.attestation]),
    );
    const r = await verify(img.store);
    expect(r.verified).toBe(true);
    expect(warningCodes(r)).toContain('ATTESTATION_DIFF_IDS_STALE');
    expect(renderText(r)).toContain('ATTESTATION_DIFF_IDS_STALE');
  });

  it('attest keeps both consistent when it replaces layers', async () => {
    const img = await signedImage(op, { form: 'legacy' });
    const unsigned = img.platforms.map((p) =>
      p.layers.map((l) => unsignedLayer(envelopePayload(l), l.predicateType)),
    );
    // containerd-written manifests carry the uncompressed digest on each layer.
    const atts = img.platforms.map((p, i) => {
      const d = putAttestationManifest(img.store, 'legacy', p.manifest, unsigned[i]!);
      const m = img.store.getJson<{ layers: Descriptor[] }>(d.digest);
      for (const l of m.layers) l.annotations = { ...l.annotations, [ANNOTATION_UNCOMPRESSED]: l.digest };
      return img.store.putJson(m, MEDIA_TYPE_OCI_MANIFEST, {
        annotations: d.annotations!,
        platform: d.platform!,
      });
    });
    img.store.tags.set('v1', putIndex(img.store, [...img.platforms.map((p) => p.manifest), ...atts]));
    const res = await attestInMemory(op, img);
    expect(res.signed).toBe(4);
    const r = await verify(img.store);
    expect(r.verified).toBe(true);
    expect(warningCodes(r)).not.toContain('ATTESTATION_DIFF_IDS_STALE');
    for (const a of res.attestationManifests) {
      const m = img.store.getJson<{ config: Descriptor; layers: Descriptor[] }>(a.to);
      for (const l of m.layers) expect(l.annotations?.[ANNOTATION_UNCOMPRESSED]).toBe(l.digest);
      expect(img.store.getJson<{ rootfs: { diff_ids: string[] } }>(m.config.digest).rootfs.diff_ids).toEqual(
        m.layers.map((l) => l.digest),
      );
      expect(m.layers.every((l) => l.annotations?.[ANNOTATION_PREDICATE_TYPE])).toBe(true);
    }
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { AttestError } from '../../../src/attest/errors.js';
import { OpkError, VerificationError } from '../../../src/errors.js';
import { parseBuildxMetadata } from '../../../src/attest/metadata.js';
import type { AttestSigner } from '../../../src/attest/signer.js';
import { SLSA_PROVENANCE_V1, SPDX_DOCUMENT } from '../../../src/intoto/statement.js';
import {
  buildxMetadata,
  putAttestationManifest,
  putIndex,
  signedLayer,
  singleManifestImage,
  statementBytes,
  stripAttestations,
  unsignedLayer,
  BlobStore,
  type BuiltImage,
} from '../../helpers/buildkit.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  MEDIA_TYPE_INTOTO,
  parseIndex,
  parseManifest,
} from '../../../src/oci/types.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { countingSigner, memoryTarget, unsignedImage, verify, attestInMemory } from '../../helpers/attest.js';

let op: TestOp;
beforeAll(() => {
  op = createTestOp();
});

function attest(img: BuiltImage, o: Parameters<typeof attestInMemory>[2] = {}) {
  return attestInMemory(op, img, o);
}

const json = (store: BlobStore, digest: string) => store.getJson<Record<string, unknown>>(digest);

describe('attest inline: BuildKit v0.12–v0.32 layouts', () => {
  it.each([
    ['legacy', 'v0.1', 'v0.2'],
    ['legacy', 'v1', 'v1'],
    ['oci-artifact', 'v1', 'v1'],
    ['oci-artifact', 'v0.1', 'v0.2'],
  ] as const)(
    '%s manifests, Statement %s, SLSA %s + SPDX: signs, rewrites, verifies',
    async (form, statementType, provenance) => {
      const img = await unsignedImage({ form, statementType, provenance });
      const before = await verify(op, img.store);
      expect(before.verified).toBe(false);
      const original = parseIndex(img.store.getBytes(img.index.digest));
      const r = await attest(img);
      expect(r).toMatchObject({ mode: 'inline', noop: false, signed: 4, originalDigest: img.index.digest });
      expect(r.digest).not.toBe(img.index.digest);
      expect(img.store.tags.get('v1')!.digest).toBe(r.digest);

      const index = parseIndex(img.store.getBytes(r.digest));
      const raw = json(img.store, r.digest) as { manifests: unknown[] };
      const rawOrig = json(img.store, img.index.digest) as { manifests: unknown[] };
      // Platform manifests: the same entries, so the same digests.
      for (let i = 0; i < 2; i++) expect(raw.manifests[i]).toEqual(rawOrig.manifests[i]);
      for (let i = 2; i < 4; i++) {
        const e = index.manifests[i]!;
        expect(e.annotations).toEqual(original.manifests[i]!.annotations);
        expect(e.platform).toEqual({ architecture: 'unknown', os: 'unknown' });
        const m = parseManifest(img.store.getBytes(e.digest));
        expect(m.layers.map((l) => l.mediaType)).toEqual([
          'application/vnd.in-toto.provenance+dsse',
          'application/vnd.in-toto.spdx+dsse',
        ]);
        expect(m.layers.map((l) => l.annotations?.[ANNOTATION_PREDICATE_TYPE])).toEqual([
          provenance === 'v1' ? SLSA_PROVENANCE_V1 : 'https://slsa.dev/provenance/v0.2',
          SPDX_DOCUMENT,
        ]);
        if (form === 'legacy') {
          const config = json(img.store, m.config.digest) as { rootfs: { diff_ids: string[] }; os: string };
          expect(config.rootfs.diff_ids).toEqual(m.layers.map((l) => l.digest));
          expect(config.os).toBe('unknown');
          expect(m.subject).toBeUndefined();
        } else {
          expect(m.subject).toEqual(parseManifest(img.store.getBytes(original.manifests[i]!.digest)).subject);
          expect(m.artifactType).toBe('application/vnd.docker.attestation.manifest.v1+json');
        }
      }
      const after = await verify(op, img.store);
      expect(after.errors).toEqual([]);
      expect(after.verified).toBe(true);
      expect(after.platforms.flatMap((p) => p.attestations.map((a) => a.statementType))).toEqual(
        Array(4).fill(
          statementType === 'v1' ? 'https://in-toto.io/Statement/v1' : 'https://in-toto.io/Statement/v0.1',
        ),
      );
    },
  );

  it('re-running is a no-op; --resign replaces the signatures', async () => {
    const img = await unsignedImage();
    const first = await attest(img);
    const signer = countingSigner(op);
    const target = memoryTarget(img.store);
    const again = await attest(img, { signer, target });
    expect(again).toMatchObject({ noop: true, digest: first.digest, alreadySigned: 4, signed: 0 });
    expect(signer.count()).toBe(0);
    expect(target.writes).toEqual([]);
    const re = await attest(img, { resign: true, signer });
    expect(re).toMatchObject({ noop: false, resigned: 4, signed: 0 });
    expect(re.digest).not.toBe(first.digest);
    expect(signer.count()).toBe(4);
    expect((await verify(op, img.store)).verified).toBe(true);
  });

  it('signs only the unsigned layers of a mixed manifest and leaves unknown media types alone', async () => {
    const img = await unsignedImage({ platforms: [{ os: 'linux', architecture: 'amd64' }] });
    const p = img.platforms[0]!;
    const subjects = [{ name: p.purl, digest: { sha256: p.manifest.digest.slice(7) } }];
    const signed = await signedLayer(p.layers[0]!.bytes, { getIdToken: op.source('aud') });
    const other = {
      mediaType: 'application/vnd.example.note+json',
      predicateType: 'x',
      bytes: Buffer.from('{}'),
    };
    const sbom = unsignedLayer(statementBytes('v1', SPDX_DOCUMENT, subjects, { name: 'x' }), SPDX_DOCUMENT);
    const att = putAttestationManifest(img.store, 'legacy', p.manifest, [signed, sbom, other]);
    img.store.tags.set('v1', putIndex(img.store, [p.manifest, att]));
    const signer = countingSigner(op);
    const r = await attest(img, { signer });
    expect(r).toMatchObject({ signed: 1, alreadySigned: 1 });
    const m = parseManifest(
      img.store.getBytes(parseIndex(img.store.getBytes(r.digest)).manifests[1]!.digest),
    );
    expect(m.layers[0]!.digest).toBe(att && parseManifest(img.store.getBytes(att.digest)).layers[0]!.digest);
    expect(m.layers[2]!.mediaType).toBe('application/vnd.example.note+json');
    expect((await verify(op, img.store)).verified).toBe(true);
  });
});

describe('attest: edge cases refuse with a code and write nothing', () => {
  async function refused(
    img: { store: BlobStore },
    code: string,
    tag = 'v1',
    cls: abstract new (...args: never[]) => OpkError = AttestError,
  ) {
    const before = img.store.tags.get(tag)?.digest;
    const target = memoryTarget(img.store);
    const err = await attest(img as BuiltImage, { target, reference: { tag }, tags: [tag] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(cls);
    expect((err as AttestError).code).toBe(code);
    expect(target.writes).toEqual([]);
    expect(img.store.tags.get(tag)?.digest).toBe(before);
    return (err as AttestError).message;
  }

  it('no attestations', async () => {
    const msg = await refused(await unsignedImage({ attestations: false }), 'ATTEST_NO_ATTESTATIONS');
    expect(msg).toMatch(/--provenance/);
  });

  it('attestations stripped by imagetools create', async () => {
    const img = await unsignedImage();
    stripAttestations(img, 'v1');
    expect(await refused(img, 'ATTEST_NO_ATTESTATIONS')).toMatch(/imagetools create/);
  });

  it('a single image manifest (no index)', async () => {
    const store = new BlobStore();
    singleManifestImage(store, 'v1', { os: 'linux', architecture: 'amd64' });
    // The image reader's one code for this fact, shared with verify (exit 1 as before).
    expect(await refused({ store }, 'IMAGE_NOT_INDEX', 'v1', VerificationError)).toMatch(
      /single image manifest/,
    );
  });

  it('a statement that does not name its platform manifest', async () => {
    const img = await unsignedImage();
    const [a, b] = img.platforms;
    // amd64's attestation manifest carrying arm64's statements.
    const att = putAttestationManifest(img.store, 'legacy', a!.manifest, b!.layers);
    img.store.tags.set('v1', putIndex(img.store, [a!.manifest, b!.manifest, att, b!.attestation]));
    await refused(img, 'ATTEST_SUBJECT_MISMATCH');
  });

  it('a layer annotated with another predicate type', async () => {
    const img = await unsignedImage({ platforms: [{ os: 'linux', architecture: 'amd64' }] });
    const p = img.platforms[0]!;
    const att = putAttestationManifest(img.store, 'oci-artifact', p.manifest, [
      { ...p.layers[0]!, predicateType: SPDX_DOCUMENT },
    ]);
    img.store.tags.set('v1', putIndex(img.store, [p.manifest, att]));
    await refused(img, 'ATTEST_PREDICATE_MISMATCH');
  });

  it('a single-platform image (BuildKit still writes an index) is signed', async () => {
    const img = await unsignedImage({
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      form: 'oci-artifact',
    });
    const r = await attest(img);
    expect(r).toMatchObject({ signed: 2, platforms: ['linux/amd64'] });
    expect((await verify(op, img.store)).verified).toBe(true);
  });

  it('a signer that returns an envelope over other bytes is caught before anything is written', async () => {
    const img = await unsignedImage();
    const honest = countingSigner(op);
    const liar: AttestSigner = {
      name: 'liar',
      timings: honest.timings,
      async sign(tasks) {
        const out = await honest.sign(tasks);
        const [k, v] = [...out][0]!;
        const other = [...out][1]![1];
        out.set(k, { ...v, envelope: other.envelope });
        return out;
      },
    };
    const target = memoryTarget(img.store);
    const err = (await attest(img, { signer: liar, target }).catch((e: unknown) => e)) as AttestError;
    expect(err.code).toBe('ATTEST_SIGNER_OUTPUT');
    expect(target.writes).toEqual([]);
  });
});

describe('attest referrers mode (in memory: a referrers API)', () => {
  it('leaves the index alone, attaches one referrer per attestation manifest, verifies, re-run is a no-op', async () => {
    const img = await unsignedImage({ form: 'oci-artifact', statementType: 'v1', provenance: 'v1' });
    const r = await attest(img, { mode: 'referrers', tags: [] });
    expect(r).toMatchObject({ mode: 'referrers', digest: img.index.digest, signed: 4 });
    expect(r.referrers).toHaveLength(2);
    expect(img.store.tags.get('v1')!.digest).toBe(img.index.digest);
    for (const x of r.referrers) {
      const m = parseManifest(img.store.getBytes(x.digest));
      expect(m.artifactType).toBe(ARTIFACT_TYPE_OPK_SIGNATURES);
      expect(m.subject!.digest).toBe(x.subject);
    }
    const v = await verify(op, img.store);
    expect(v.errors).toEqual([]);
    expect(v.verified).toBe(true);
    const signer = countingSigner(op);
    expect(await attest(img, { mode: 'referrers', tags: [], signer })).toMatchObject({ noop: true });
    expect(signer.count()).toBe(0);
  });

  it('a referrer whose envelope signs another statement does not count', async () => {
    const img = await unsignedImage();
    const r = await attest(img, { mode: 'referrers', tags: [] });
    // A second referrer with the two envelopes' statement annotations swapped: each envelope
    // now claims to sign the other in-toto layer.
    const m = img.store.getJson<{ layers: { annotations: Record<string, string> }[] }>(
      r.referrers[0]!.digest,
    );
    const [l0, l1] = m.layers;
    const swapped = {
      ...m,
      layers: [
        { ...l0!, annotations: l1!.annotations },
        { ...l1!, annotations: l0!.annotations },
      ],
    };
    img.store.putJson(swapped, 'application/vnd.oci.image.manifest.v1+json');
    const v = await verify(op, img.store);
    expect(v.verified).toBe(false);
    expect(v.errors.map((e) => e.code)).toContain('REFERRER_STATEMENT_MISMATCH');
  });

  it('in-toto layers stay unsigned in the image', async () => {
    const img = await unsignedImage();
    await attest(img, { mode: 'referrers', tags: [] });
    const idx = parseIndex(img.store.getBytes(img.index.digest));
    const m = parseManifest(img.store.getBytes(idx.manifests[2]!.digest));
    expect(m.layers.every((l) => l.mediaType === MEDIA_TYPE_INTOTO)).toBe(true);
  });
});

describe('buildx metadata file', () => {
  it('reads containerimage.digest and image.name, also from a one-target bake file', async () => {
    const img = await unsignedImage();
    const meta = buildxMetadata(img, ['127.0.0.1:5000/acme/widget:v1', '127.0.0.1:5000/acme/widget:latest']);
    expect(parseBuildxMetadata(JSON.stringify(meta))).toEqual({
      digest: img.index.digest,
      names: ['127.0.0.1:5000/acme/widget:v1', '127.0.0.1:5000/acme/widget:latest'],
    });
    expect(parseBuildxMetadata(JSON.stringify({ app: meta })).digest).toBe(img.index.digest);
    expect(() => parseBuildxMetadata(JSON.stringify({ a: meta, b: meta }))).toThrow(/--metadata-target/);
    expect(parseBuildxMetadata(JSON.stringify({ a: meta, b: meta }), 'b').digest).toBe(img.index.digest);
    expect(() => parseBuildxMetadata('{}')).toThrow(/containerimage.digest/);
  });
});

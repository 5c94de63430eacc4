import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { attestInMemory } from '../../helpers/attest.js';
import { OciLimitError } from '../../../src/oci/limits.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  signedLayer,
  statementBytes,
  unsignedLayer,
  type AttestationLayer,
  type BuiltImage,
} from '../../helpers/buildkit.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_UNCOMPRESSED,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
} from '../../../src/oci/types.js';
import type { ImageSource } from '../../../src/oci/source.js';
import { verifyImage, type VerifyImageOptions, type VerifyReport } from '../../../src/verify/image.js';
import { parsePolicy } from '../../../src/verify/policy-file.js';
import { renderText } from '../../../src/verify/report.js';
import type { TestOp } from '../../helpers/op.js';
import {
  createTestOp,
  envelopeOf,
  PLATFORMS,
  reassemble,
  signedImage,
  trustFor,
  withEnvelope,
} from '../../helpers/verify.js';

const NAME = 'example.test/acme/widget';
const CUSTOM = 'https://example.test/attestations/custom/v1';
let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

function verify(source: ImageSource, o: Partial<VerifyImageOptions> = {}): Promise<VerifyReport> {
  return verifyImage({
    source,
    reference: { tag: 'v1' },
    displayName: `${NAME}:v1`,
    subjectName: NAME,
    trust: trustFor(op),
    ...o,
  });
}

const codes = (r: VerifyReport) => [...new Set(r.errors.map((e) => e.code))];
const warningCodes = (r: VerifyReport) => [...new Set(r.warnings.map((e) => e.code))];

/** A statement with a predicate that is neither SLSA, SPDX nor CycloneDX, about platform `i`. */
function customStatement(img: BuiltImage, i: number): Uint8Array {
  const p = img.platforms[i]!;
  return statementBytes('v1', CUSTOM, [{ name: p.purl, digest: { sha256: p.manifest.digest.slice(7) } }], {
    note: 'a predicate the DSSE media-type table does not name',
  });
}

async function withCustomLayer(
  img: BuiltImage,
  tweak: (l: AttestationLayer, i: number) => AttestationLayer = (l) => l,
): Promise<void> {
  const extra = await Promise.all(
    img.platforms.map(async (_p, i) =>
      tweak(await signedLayer(customStatement(img, i), { getIdToken: op.source('aud') }), i),
    ),
  );
  reassemble(img, (p, i) => [...p.layers, extra[i]!]);
}

describe('signed layers of any predicate are verified (application/vnd.in-toto+dsse)', () => {
  it('a valid one is verified and satisfies a required predicate type', async () => {
    const img = await signedImage(op);
    await withCustomLayer(img);
    expect(img.platforms.length).toBe(2);
    const policy = parsePolicy(`requiredPredicateTypes: [slsa-provenance, "${CUSTOM}"]`);
    const r = await verify(img.store, { policy });
    expect(r.errors).toEqual([]);
    expect(r.verified).toBe(true);
    for (const p of r.platforms) {
      const custom = p.attestations.find((a) => a.predicateType === CUSTOM)!;
      expect(custom.layer.mediaType).toBe('application/vnd.in-toto+dsse');
      expect(custom).toMatchObject({ signed: true, verified: true });
    }
  });

  it('a tampered one fails its platform (it was skipped, leaving the image verified)', async () => {
    const img = await signedImage(op);
    await withCustomLayer(img, (l, i) => {
      if (i !== 0) return l;
      const env = envelopeOf(l);
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: unknown };
      st.predicate = { note: 'tampered' };
      return withEnvelope(l, { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') });
    });
    const r = await verify(img.store);
    expect(r.verified).toBe(false);
    expect(codes(r)).toEqual(['ATT_MISMATCH']);
    expect(r.platforms.map((p) => p.verified)).toEqual([false, true]);
  });

  it('a layer that claims a signature we cannot check fails its platform; an unknown one is a warning', async () => {
    const img = await signedImage(op);
    const bundle = (i: number): AttestationLayer => ({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      predicateType: CUSTOM,
      bytes: customStatement(img, i),
    });
    const other: AttestationLayer = { mediaType: 'text/plain', predicateType: '', bytes: Buffer.from('hi') };
    reassemble(img, (p, i) => [...p.layers, ...(i === 0 ? [bundle(i)] : [other])]);
    const r = await verify(img.store);
    expect(codes(r)).toEqual(['ATTESTATION_LAYER_UNVERIFIABLE']);
    expect(r.platforms.map((p) => p.verified)).toEqual([false, true]);
    expect(warningCodes(r)).toContain('ATTESTATION_LAYER_UNRECOGNISED');
    expect(renderText(r)).toContain('ATTESTATION_LAYER_UNRECOGNISED');
  });

  it('attest accepts an image whose only signed layers are application/vnd.in-toto+dsse, and --resign re-signs them', async () => {
    const img = await signedImage(op);
    const custom = await Promise.all(
      img.platforms.map((_p, i) => signedLayer(customStatement(img, i), { getIdToken: op.source('aud') })),
    );
    reassemble(img, (_p, i) => [custom[i]!]);
    const noop = await attestInMemory(op, img);
    expect(noop).toMatchObject({ noop: true, alreadySigned: 2 });
    const again = await attestInMemory(op, img, { resign: true });
    expect(again).toMatchObject({ resigned: 2 });
  });
});

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

function envelopePayload(l: AttestationLayer): Uint8Array {
  return Buffer.from(envelopeOf(l).payload, 'base64');
}

describe('envelopes with several signatures', () => {
  async function twoSigned(img: BuiltImage, a: string, b: string): Promise<void> {
    const layers = await Promise.all(
      img.platforms.map(async (p) => {
        const prov = p.layers[0]!;
        const st = envelopePayload(prov);
        const sa = await signedLayer(st, { getIdToken: op.source('aud', { repository: a }) });
        const sb = await signedLayer(st, { getIdToken: op.source('aud', { repository: b }) });
        const ea = envelopeOf(sa);
        return withEnvelope(sa, { ...ea, signatures: [...ea.signatures, ...envelopeOf(sb).signatures] });
      }),
    );
    reassemble(img, (_p, i) => [layers[i]!]);
  }

  it('identity passes when any verifying signature satisfies it, in either order; the report names it', async () => {
    for (const [first, second, want] of [
      ['other/repo', 'acme/widget', 1],
      ['acme/widget', 'other/repo', 0],
    ] as const) {
      const img = await signedImage(op, { sbom: false });
      await twoSigned(img, first, second);
      const r = await verify(img.store, { expect: { repository: 'acme/widget' } });
      expect(r.errors).toEqual([]);
      expect(r.verified).toBe(true);
      const a = r.platforms[0]!.attestations[0]!;
      expect(a.signature).toEqual({ index: want, of: 2, verified: 2 });
      expect(a.identity?.repository).toBe('acme/widget');
      expect(a.checks.some((c) => c.check === 'signature' && c.message.includes(`signature ${want}`))).toBe(
        true,
      );
    }
  });

  it('a broken signature next to a good one: same verdict in either order; none satisfying: same code', async () => {
    const verdicts: string[] = [];
    for (const order of [0, 1]) {
      const img = await signedImage(op, { sbom: false });
      const layers = await Promise.all(
        img.platforms.map(async (p) => {
          const env = envelopeOf(p.layers[0]!);
          const good = env.signatures[0]!;
          const broken = { keyid: 'OPK', sig: Buffer.from('{"payload":"x"}').toString('base64') };
          return withEnvelope(p.layers[0]!, { ...env, signatures: order ? [broken, good] : [good, broken] });
        }),
      );
      reassemble(img, (_p, i) => [layers[i]!]);
      const ok = await verify(img.store, { expect: { repository: 'acme/widget' } });
      const bad = await verify(img.store, { expect: { repository: 'someone/else' } });
      verdicts.push(JSON.stringify([ok.verified, codes(ok), bad.verified, codes(bad)]));
    }
    expect(verdicts[0]).toBe(JSON.stringify([true, [], false, ['REPOSITORY_MISMATCH']]));
    expect(verdicts[1]).toBe(verdicts[0]);
  });

  it('two verifying signatures, neither satisfying: the code does not depend on their order', async () => {
    const seen: string[][] = [];
    for (const [a, b] of [
      ['x/one', 'y/two'],
      ['y/two', 'x/one'],
    ]) {
      const img = await signedImage(op, { sbom: false });
      await twoSigned(img, a!, b!);
      const r = await verify(img.store, { expect: { repository: 'acme/widget' } });
      expect(r.verified).toBe(false);
      seen.push(r.errors.map((e) => `${e.code}: ${e.message}`));
    }
    expect(seen[1]).toEqual(seen[0]);
  });
});

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

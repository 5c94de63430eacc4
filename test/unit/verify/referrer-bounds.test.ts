import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundedSource, DEFAULT_LIMITS, resolveLimits } from '../../../src/oci/limits.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { readReferrerSignatures } from '../../../src/oci/read-image.js';
import type { ImageSource, SourceReads } from '../../../src/oci/source.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
} from '../../../src/oci/types.js';
import { verifyImage } from '../../../src/verify/image.js';
import { defaultPolicy } from '../../../src/verify/policy.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  statementBytes,
  unsignedLayer,
} from '../../helpers/buildkit.js';
import type { TestOp } from '../../helpers/op.js';
import { createTestOp, tempDir, trustFor, writeLayout } from '../../helpers/verify.js';

/**
 * Referrer listings read through the run's gate and byte budget, once per subject; a layout's
 * index.json is bounded like an image index and scanned at most once per distinct entry. Referrer
 * layers that sign nothing here are noted; one we cannot check that claims a layer fails it.
 */

const amd64 = { os: 'linux', architecture: 'amd64' };
const PROV = 'https://slsa.dev/provenance/v1';
let op: TestOp;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  op = createTestOp();
});
afterAll(async () => {
  for (const c of cleanups) await c();
});

/** One platform, its attestation manifest with one unsigned in-toto layer. */
function unsignedImage() {
  const store = new BlobStore();
  const m = putImageManifest(store, amd64);
  const st = statementBytes(
    'v1',
    PROV,
    [{ name: 'pkg:docker/x@v1', digest: { sha256: m.digest.slice(7) } }],
    {},
  );
  const att = putAttestationManifest(store, 'oci-artifact', m, [unsignedLayer(st, PROV)]);
  store.tags.set('v1', putIndex(store, [m, att]));
  const intoto = store.getJson<{ layers: Descriptor[] }>(att.digest).layers[0]!;
  return { store, m, att, intoto };
}

/** A signature artifact of `subject` carrying `layers`. */
function referrer(store: BlobStore, subject: Descriptor, layers: Descriptor[]): Descriptor {
  const config = store.put('{}', MEDIA_TYPE_OCI_EMPTY);
  return store.putJson(
    {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      artifactType: ARTIFACT_TYPE_OPK_SIGNATURES,
      config,
      layers,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    },
    MEDIA_TYPE_OCI_MANIFEST,
  );
}

/** The image in a layout, index.json extended with `extra` untagged entries. */
async function layoutWith(img: ReturnType<typeof unsignedImage>, extra: Descriptor[]): Promise<OciLayout> {
  const { dir, cleanup } = await tempDir('opk-refbounds-');
  cleanups.push(cleanup);
  await writeLayout({ store: img.store, index: img.store.tags.get('v1')! } as never, dir);
  for (const d of extra)
    await (await OciLayout.open(dir)).writeBlob(img.store.getBytes(d.digest), d.mediaType);
  const path = join(dir, 'index.json');
  const idx = JSON.parse(readFileSync(path, 'utf8')) as { manifests: Descriptor[] };
  for (const d of extra) idx.manifests.push({ mediaType: d.mediaType, digest: d.digest, size: d.size });
  writeFileSync(path, JSON.stringify(idx));
  return OciLayout.open(dir);
}

function verify(source: ImageSource) {
  return verifyImage({
    source,
    reference: { tag: 'v1' },
    displayName: 'x:v1',
    trust: trustFor(op),
    policy: { ...defaultPolicy(), required: [] },
  });
}

/** Manifests with another subject: read by a layout's referrer scan, matching nothing. */
function junk(store: BlobStore, n: number): Descriptor[] {
  const other = store.put('other', MEDIA_TYPE_OCI_EMPTY);
  return Array.from({ length: n }, (_v, i) =>
    store.putJson(
      { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config: other, layers: [], subject: other, i },
      MEDIA_TYPE_OCI_MANIFEST,
    ),
  );
}

describe('referrer reads are bounded', () => {
  it("a layout's index.json over --max-index-entries is refused before any read", async () => {
    const img = unsignedImage();
    const layout = await layoutWith(img, junk(img.store, 30));
    const limits = resolveLimits({ maxIndexEntries: 20 });
    expect(() => new BoundedSource(layout, limits)).toThrow(
      expect.objectContaining({ code: 'OCI_LIMIT_INDEX_ENTRIES' }),
    );
  });

  it("the layout's referrer scan is charged to the byte budget (and can exhaust it)", async () => {
    const img = unsignedImage();
    const plain = new BoundedSource(await layoutWith(img, []), DEFAULT_LIMITS);
    await verify(plain);
    const extra = junk(img.store, 40);
    const scanned = new BoundedSource(await layoutWith(img, extra), DEFAULT_LIMITS);
    await verify(scanned);
    const junkBytes = extra.reduce((n, d) => n + d.size, 0);
    // The listed junk, plus the small unlisted blob they name (the blob-referrer scan reads it).
    expect(scanned.bytesRead - plain.bytesRead).toBe(junkBytes + 'other'.length);
    const tight = new BoundedSource(
      await layoutWith(img, extra),
      resolveLimits({ maxBytes: plain.bytesRead + junkBytes / 2 }),
    );
    await expect(verify(tight)).rejects.toMatchObject({ code: 'OCI_LIMIT_BYTES' });
  });

  it('one entry listed 1,000 times in index.json is read once', async () => {
    const img = unsignedImage();
    const [one] = junk(img.store, 1);
    const plain = new BoundedSource(await layoutWith(img, []), DEFAULT_LIMITS);
    await verify(plain);
    const once = new BoundedSource(await layoutWith(img, [one!]), DEFAULT_LIMITS);
    await verify(once);
    const many = new BoundedSource(
      await layoutWith(
        img,
        Array.from({ length: 1000 }, () => one!),
      ),
      DEFAULT_LIMITS,
    );
    await verify(many);
    // `plain` holds the same blob unlisted: the blob-referrer scan reads it there, as once.
    expect(once.bytesRead - plain.bytesRead).toBe(0);
    expect(many.bytesRead).toBe(once.bytesRead);
  });

  it('the layout scan stops one past maxMatches', async () => {
    const img = unsignedImage();
    // Distinct digests: vary the config.
    const distinct = Array.from({ length: 20 }, (_r, i) =>
      img.store.putJson(
        {
          schemaVersion: 2,
          mediaType: MEDIA_TYPE_OCI_MANIFEST,
          artifactType: ARTIFACT_TYPE_OPK_SIGNATURES,
          config: img.store.put(`{"i":${i}}`, MEDIA_TYPE_OCI_EMPTY),
          layers: [],
          subject: { mediaType: img.att.mediaType, digest: img.att.digest, size: img.att.size },
        },
        MEDIA_TYPE_OCI_MANIFEST,
      ),
    );
    const layout = await layoutWith(img, distinct);
    let reads = 0;
    const counting: SourceReads = {
      read: (max, fetch) => (reads++, fetch(max)),
      maxMatches: 3,
    };
    const listed = await layout.referrers(img.att.digest, ARTIFACT_TYPE_OPK_SIGNATURES, counting);
    expect(listed).toHaveLength(4);
    expect(reads).toBe(4);
    const e = await verify(new BoundedSource(layout, resolveLimits({ maxReferrers: 3 }))).catch(
      (x: unknown) => x,
    );
    expect((e as { code?: string }).code).toBe('OCI_LIMIT_REFERRERS');
  });

  it('referrers of one subject are listed once per run', async () => {
    const img = unsignedImage();
    let listings = 0;
    const inner: ImageSource = {
      kind: 'oci-layout',
      location: 'test',
      resolve: (t) => img.store.resolve(t),
      fetchManifest: (d) => img.store.fetchManifest(d),
      fetchBlob: (d) => img.store.fetchBlob(d),
      referrers: (d, a) => (listings++, img.store.referrers(d, a)),
    };
    const source = new BoundedSource(inner, DEFAULT_LIMITS);
    await source.referrers!(img.att.digest, ARTIFACT_TYPE_OPK_SIGNATURES);
    await source.referrers!(img.att.digest, ARTIFACT_TYPE_OPK_SIGNATURES);
    expect(listings).toBe(1);
  });
});

describe('referrer layers are never dropped silently', () => {
  it('a DSSE referrer layer naming no in-toto layer of the manifest is REFERRER_LAYER_UNMATCHED', async () => {
    const img = unsignedImage();
    const stray = img.store.put(
      '{"payloadType":"x","payload":"","signatures":[]}',
      'application/vnd.in-toto+dsse',
      {
        annotations: { [ANNOTATION_OPK_STATEMENT_DIGEST]: `sha256:${'a'.repeat(64)}` },
      },
    );
    referrer(img.store, img.att, [stray]);
    const found = await readReferrerSignatures(
      img.store,
      img.att,
      DEFAULT_LIMITS,
      new Set([img.intoto.digest]),
    );
    expect(found.notes.map((n) => [n.code, n.layer])).toEqual([['REFERRER_LAYER_UNMATCHED', stray.digest]]);
    const r = await verify(img.store);
    expect(r.warnings.map((w) => w.code)).toContain('REFERRER_LAYER_UNMATCHED');
  });

  it('an unverifiable referrer layer claiming the in-toto layer fails it (ATTESTATION_LAYER_UNVERIFIABLE)', async () => {
    const img = unsignedImage();
    expect((await verify(img.store)).verified).toBe(true);
    const bundle = img.store.put('{}', 'application/vnd.dev.sigstore.bundle.v0.3+json', {
      annotations: { [ANNOTATION_OPK_STATEMENT_DIGEST]: img.intoto.digest },
    });
    referrer(img.store, img.att, [bundle]);
    const r = await verify(img.store);
    expect(r.verified).toBe(false);
    expect(r.errors.map((e) => e.code)).toEqual(['ATTESTATION_LAYER_UNVERIFIABLE']);
  });
});

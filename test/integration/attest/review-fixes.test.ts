import http from 'node:http';
import { readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestImage } from '../../../src/attest/attest.js';
import { AttestError, tagOutcome } from '../../../src/attest/errors.js';
import { batchTasks } from '../../../src/attest/sidecar.js';
import { layoutTarget, registryTarget, type ImageTarget } from '../../../src/attest/write.js';
import { serializeEnvelope } from '../../../src/dsse/envelope.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { buildxMetadata, putAttestationManifest, putIndex, type BuiltImage } from '../../helpers/buildkit.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { LAYOUT_LOCK, OciLayout } from '../../../src/oci/layout.js';
import { RegistryClient } from '../../../src/oci/registry.js';
import { ANNOTATION_REF_NAME, MEDIA_TYPE_OCI_INDEX, sha256Digest } from '../../../src/oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import { attestCli, countingSigner, memoryTarget, unsignedImage, attestInMemory } from '../../helpers/attest.js';

let op: TestOp;
let dev: DevIssuer;
let env: NodeJS.ProcessEnv;
let work: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const dir = () => join(work.dir, `r${n++}`);
const ONE = [{ os: 'linux', architecture: 'amd64' }];

beforeAll(async () => {
  op = createTestOp();
  dev = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
  env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: dev.requestToken,
    OPK_OIDC_DISCOVERY_URL: dev.url,
  };
  work = await tempDir('opk-attest-review-');
});
afterAll(async () => {
  await dev?.close();
  await work?.cleanup();
});

function attest(img: BuiltImage, o: Parameters<typeof attestInMemory>[2] = {}) {
  return attestInMemory(op, img, o);
}

async function refusedWith(p: Promise<unknown>, code: string): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AttestError);
  expect((e as AttestError).code).toBe(code);
  return (e as AttestError).message;
}

/** A one-platform image whose attestation manifest carries `layers` (built from the unsigned ones). */
async function withLayers(
  make: (
    layers: BuiltImage['platforms'][number]['layers'],
    digest: string,
  ) => BuiltImage['platforms'][number]['layers'],
): Promise<BuiltImage> {
  const img = await unsignedImage({ platforms: ONE, form: 'oci-artifact' });
  const p = img.platforms[0]!;
  const att = putAttestationManifest(
    img.store,
    'oci-artifact',
    p.manifest,
    make(p.layers, p.manifest.digest),
  );
  img.store.tags.set('v1', putIndex(img.store, [p.manifest, att]));
  return img;
}

const fakeSig = (keyid: string) => ({ keyid, sig: Buffer.from('{"not":"a pk token"}') });

describe('finding 1: a layer only counts as signed when its envelope really is one', () => {
  it('a +dsse layer holding a bare statement is refused, also with --resign', async () => {
    const img = await withLayers((ls) =>
      ls.map((l) => ({ ...l, mediaType: 'application/vnd.in-toto.provenance+dsse' })),
    );
    const msg = await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER');
    expect(msg).toMatch(/not a DSSE envelope/);
    expect(await refusedWith(attest(img, { resign: true }), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(
      /cannot be recovered/,
    );
  });

  it('envelopes with another payload type, no OPK signature, or a statement about another manifest', async () => {
    const cases: [string, (statement: Uint8Array) => string, RegExp][] = [
      ['payloadType', (s) => serializeEnvelope('text/plain', s, [fakeSig('OPK')]), /payloadType/],
      ['keyid', (s) => serializeEnvelope('application/vnd.in-toto+json', s, [fakeSig('rsa')]), /keyid OPK/],
      ['nosig', (s) => serializeEnvelope('application/vnd.in-toto+json', s, []), /keyid OPK/],
    ];
    for (const [, wrap, why] of cases) {
      const img = await withLayers((ls) =>
        ls.map((l) => ({
          ...l,
          mediaType: 'application/vnd.in-toto.provenance+dsse',
          bytes: Buffer.from(wrap(l.bytes)),
        })),
      );
      expect(await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(why);
    }
    // A real-looking envelope whose statement is about another platform manifest.
    const other = await unsignedImage({ platforms: ONE, form: 'oci-artifact', seed: 'other' });
    const img = await withLayers((ls) =>
      ls.map((l, i) => ({
        ...l,
        mediaType: 'application/vnd.in-toto.provenance+dsse',
        bytes: Buffer.from(
          serializeEnvelope('application/vnd.in-toto+json', other.platforms[0]!.layers[i]!.bytes, [
            fakeSig('OPK'),
          ]),
        ),
      })),
    );
    expect(await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(/subjects do not name/);
  });

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

  it('referrers mode: a referrer whose layer is not an envelope over the named statement does not count', async () => {
    const img = await unsignedImage({ platforms: ONE });
    const first = await attest(img, { mode: 'referrers', tags: [] });
    expect(first.signed).toBe(2);
    // Replace the referrer with one whose DSSE layers hold garbage but keep the annotations.
    const ref = first.referrers[0]!;
    const m = img.store.getJson<{ layers: { digest: string; size: number }[] }>(ref.digest);
    const junk = Buffer.from('{"payloadType":"application/vnd.in-toto+json"}');
    const d = img.store.put(junk, 'application/vnd.in-toto.provenance+dsse');
    const forged = { ...m, layers: m.layers.map((l) => ({ ...l, digest: d.digest, size: d.size })) };
    const fd = img.store.putJson(forged, 'application/vnd.oci.image.manifest.v1+json');
    img.store.blobs.delete(ref.digest);
    expect(fd.digest).not.toBe(ref.digest);
    const signer = countingSigner(op);
    const again = await attest(img, { mode: 'referrers', tags: [], signer });
    expect(again.noop).toBe(false);
    expect(signer.count()).toBe(2);
  });
});

describe('finding 2: re-running with --metadata-file is a no-op', () => {
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

describe('finding 3: signing a layout by digest moves no tag', () => {
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

describe('finding 4: layout writes are locked read-modify-writes', () => {
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

describe('finding 5: layout temp files', () => {
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

describe('finding 6: a registry HEAD without Docker-Content-Digest is not "absent"', () => {
  it('the manifest is fetched and hashed', async () => {
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] }),
    );
    const server = http.createServer((req, res) => {
      if (req.url === '/v2/x/manifests/v1') {
        res.writeHead(200, { 'content-type': MEDIA_TYPE_OCI_INDEX, 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const t = registryTarget(client, 'x');
      expect(await t.tagged('v1')).toBe(sha256Digest(body));
      expect(await t.tagged('nope')).toBeUndefined();
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('finding 7: several tags', () => {
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

describe('finding 8: sidecar batches by bytes', () => {
  it('≤ the byte budget per call, a larger statement alone, order kept', () => {
    const t = (size: number) => ({ statement: new Uint8Array(size) });
    const tasks = [t(40), t(40), t(10), t(200), t(5), t(5)];
    const batches = batchTasks(tasks, 100, 64);
    expect(batches.map((b) => b.map((x) => x.statement.length))).toEqual([[40, 40, 10], [200], [5, 5]]);
    expect(batchTasks([t(1), t(1), t(1)], 100, 2).map((b) => b.length)).toEqual([2, 1]);
    expect(batches.flat()).toEqual(tasks);
  });
});

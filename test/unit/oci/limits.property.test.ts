import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readImage } from '../../../src/attest/read.js';
import { dsseMediaType } from '../../../src/intoto/statement.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  unsignedLayer,
} from '../../helpers/buildkit.js';
import {
  BoundedSource,
  checkLimit,
  DEFAULT_LIMITS,
  OciLimitError,
  Semaphore,
} from '../../../src/oci/limits.js';
import { classifyAttestationLayer } from '../../../src/oci/types.js';
import { verifyImage } from '../../../src/verify/image.js';

const runs = { numRuns: 60 };
const amd64 = { os: 'linux', architecture: 'amd64' };

/** One platform whose attestation manifest has `n` unsigned layers; fetches counted. */
function imageWithLayers(n: number) {
  const store = new BlobStore();
  const m = putImageManifest(store, amd64);
  const layer = unsignedLayer(Buffer.from('{}'), 'https://example.test/p');
  const att = putAttestationManifest(
    store,
    'oci-artifact',
    m,
    Array.from({ length: n }, () => layer),
  );
  store.tags.set('v1', putIndex(store, [m, att]));
  let blobs = 0;
  const fetchBlob = store.fetchBlob.bind(store);
  store.fetchBlob = (d: string) => (blobs++, fetchBlob(d));
  return { store, blobs: () => blobs };
}

const codeOf = (e: unknown) => (e instanceof OciLimitError ? e.code : e instanceof Error ? e.message : 'ok');

describe('limits (property tests)', () => {
  it('checkLimit throws its typed error exactly when the count is over the limit', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 1, max: 100_000 }), (n, limit) => {
        const limits = { ...DEFAULT_LIMITS, maxLayers: limit };
        let code = 'ok';
        try {
          checkLimit(limits, 'maxLayers', n, 'x');
        } catch (e) {
          code = codeOf(e);
        }
        return code === (n > limit ? 'OCI_LIMIT_LAYERS' : 'ok');
      }),
    );
  });

  it('verify and attest refuse a manifest over --max-layers before reading any layer, and read it at or under', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        async (n, maxLayers) => {
          const v = imageWithLayers(n);
          const verdict = await verifyImage({
            source: v.store,
            reference: { tag: 'v1' },
            displayName: 'x',
            trust: { keys: { find: () => [] } },
            limits: { maxLayers },
          }).then(
            () => 'ok',
            (e: unknown) => codeOf(e),
          );
          const a = imageWithLayers(n);
          const attest = await readImage(
            a.store,
            { tag: 'v1' },
            { mode: 'inline', limits: { maxLayers } },
          ).then(
            () => 'ok',
            (e: unknown) => codeOf(e),
          );
          const want = n > maxLayers ? 'OCI_LIMIT_LAYERS' : 'ok';
          expect([verdict, attest]).toEqual([want, want]);
          if (want !== 'ok') expect([v.blobs(), a.blobs()]).toEqual([0, 0]);
        },
      ),
      runs,
    );
  });

  it('an index over --max-index-entries is refused, at or under it is walked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), async (n, max) => {
        const store = new BlobStore();
        const ms = Array.from({ length: n }, (_, i) =>
          putImageManifest(store, { os: 'linux', architecture: `a${i}` }),
        );
        store.tags.set('v1', putIndex(store, ms));
        const got = await readImage(
          store,
          { tag: 'v1' },
          { mode: 'inline', limits: { maxIndexEntries: max } },
        ).then(
          () => 'ok',
          (e: unknown) => codeOf(e),
        );
        expect(got).toBe(n > max ? 'OCI_LIMIT_INDEX_ENTRIES' : 'ok');
      }),
      runs,
    );
  });

  it('the byte budget: what is returned never exceeds it, and it is refused exactly when the total would', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 30_000 }),
        async (sizes, maxBytes) => {
          const store = new BlobStore();
          const ds = sizes.map((s, i) => store.put(Buffer.alloc(s, i), 'application/octet-stream').digest);
          const src = new BoundedSource(store, { ...DEFAULT_LIMITS, maxBytes });
          let got = 0;
          let code = 'ok';
          try {
            for (const d of ds) got += (await src.fetchBlob(d)).length;
          } catch (e) {
            code = codeOf(e);
          }
          const total = sizes.reduce((a, b) => a + b, 0);
          expect(got).toBeLessThanOrEqual(maxBytes);
          expect(code).toBe(total > maxBytes ? 'OCI_LIMIT_BYTES' : 'ok');
        },
      ),
      runs,
    );
  });

  it('bounded concurrency: never more than the width in flight, every task runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.nat(3), { maxLength: 60 }),
        async (width, delays) => {
          const gate = new Semaphore(width);
          let active = 0;
          let peak = 0;
          const done = await Promise.all(
            delays.map((d, i) =>
              gate.run(async () => {
                peak = Math.max(peak, ++active);
                for (let k = 0; k < d; k++) await Promise.resolve();
                active--;
                return i;
              }),
            ),
          );
          expect(peak).toBeLessThanOrEqual(width);
          expect(done).toEqual(delays.map((_, i) => i));
        },
      ),
      runs,
    );
  });

  it('one classifier: whatever media type the signer writes for a predicate is a DSSE layer for attest and verify', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.webUrl(),
          fc.constantFrom(
            'https://slsa.dev/provenance/v1',
            'https://spdx.dev/Document',
            'https://cyclonedx.org/bom',
          ),
        ),
        (predicateType) => classifyAttestationLayer(dsseMediaType(predicateType)) === 'dsse',
      ),
    );
    expect(classifyAttestationLayer('application/vnd.in-toto+dsse')).toBe('dsse');
    expect(classifyAttestationLayer('Application/VND.in-toto.provenance+DSSE')).toBe('dsse');
    expect(classifyAttestationLayer('application/vnd.in-toto+json')).toBe('intoto');
    expect(classifyAttestationLayer('application/vnd.dev.sigstore.bundle.v0.3+json')).toBe('unverifiable');
    expect(classifyAttestationLayer('application/vnd.example+dsse')).toBe('unverifiable');
    expect(classifyAttestationLayer('text/plain')).toBe('unrecognised');
  });
});

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { OpKeyQuery } from '../../../src/jwk/set.js';
import { DEFAULT_LIMITS, OciLimitError, type Limits } from '../../../src/oci/limits.js';
import { verifyImage, type VerifyReport } from '../../../src/verify/image.js';
import { defaultPolicy } from '../../../src/verify/policy.js';
import {
  BlobStore,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  signedLayer,
  statementBytes,
  type AttestationLayer,
} from '../../helpers/buildkit.js';
import type { TestOp } from '../../helpers/op.js';
import { createTestOp, trustFor } from '../../helpers/verify.js';

/**
 * The per-object limits multiply (entries × layers × referrers): a crafted image must not cost
 * more verifications than its distinct envelopes, and a run has a cap on those, checked before
 * any layer is fetched.
 */

const amd64 = { os: 'linux', architecture: 'amd64' };
let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

/** A store counting blob fetches by digest, and a trust counting key lookups (one per PK Token verification). */
function counted(store: BlobStore) {
  const blobs = new Map<string, number>();
  const fetchBlob = store.fetchBlob.bind(store);
  store.fetchBlob = (d: string) => {
    blobs.set(d, (blobs.get(d) ?? 0) + 1);
    return fetchBlob(d);
  };
  let finds = 0;
  const base = trustFor(op);
  const trust = {
    keys: {
      find: (q: OpKeyQuery) => {
        finds++;
        return base.keys.find(q);
      },
    },
  };
  return { trust, blobs, finds: () => finds };
}

function run(store: BlobStore, trust: ReturnType<typeof counted>['trust'], limits: Partial<Limits> = {}) {
  return verifyImage({
    // Only the counts matter here: no predicate type is required.
    policy: { ...defaultPolicy(), required: [] },
    source: store,
    reference: { tag: 'v1' },
    displayName: 'x:v1',
    issuers: [op.issuer],
    trust,
    limits,
  });
}

async function signedFor(m: { digest: string }, seed: string): Promise<AttestationLayer> {
  const st = statementBytes(
    'v1',
    'https://example.test/p',
    [{ name: 'pkg:docker/x@v1', digest: { sha256: m.digest.slice(7) } }],
    { seed },
  );
  return signedLayer(st, { getIdToken: op.source('aud') });
}

describe('bounded verification work', () => {
  it('one platform manifest listed under several platforms is refused (INDEX_ENTRY_DUPLICATE)', async () => {
    const store = new BlobStore();
    const m = putImageManifest(store, amd64);
    const att = putAttestationManifest(store, 'oci-artifact', m, [await signedFor(m, '')]);
    const entries = [0, 1, 2].map((i) => ({ ...m, platform: { os: 'linux', architecture: `a${i}` } }));
    store.tags.set('v1', putIndex(store, [...entries, att]));
    const c = counted(store);
    const e = await run(store, c.trust).catch((x: unknown) => x);
    expect((e as { code?: string }).code).toBe('INDEX_ENTRY_DUPLICATE');
    expect(c.finds()).toBe(0);
  });

  it('a layer listed 256 times in one manifest is fetched and verified once; each position keeps its verdict', async () => {
    const store = new BlobStore();
    const m = putImageManifest(store, amd64);
    const layer = await signedFor(m, '');
    const att = putAttestationManifest(
      store,
      'oci-artifact',
      m,
      Array.from({ length: 256 }, () => layer),
    );
    store.tags.set('v1', putIndex(store, [m, att]));
    const c = counted(store);
    const r: VerifyReport = await run(store, c.trust);
    expect(r.verified).toBe(true);
    expect(r.platforms[0]!.attestations).toHaveLength(256);
    expect(r.platforms[0]!.attestations.every((a) => a.verified)).toBe(true);
    expect(c.finds()).toBe(1);
    expect(Math.max(...c.blobs.values())).toBe(1);
  });

  it('over --max-verifications: OCI_LIMIT_VERIFICATIONS (exit 2) before any layer is fetched', async () => {
    const store = new BlobStore();
    const ms = [amd64, { os: 'linux', architecture: 'arm64' }].map((p) => putImageManifest(store, p));
    const layers = await Promise.all(ms.map((m) => Promise.all([signedFor(m, 'a'), signedFor(m, 'b')])));
    const atts = ms.map((m, i) => putAttestationManifest(store, 'oci-artifact', m, layers[i]!));
    store.tags.set('v1', putIndex(store, [...ms, ...atts]));
    const c = counted(store);
    const e = await run(store, c.trust, { maxVerifications: 3 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OciLimitError);
    expect((e as OciLimitError).code).toBe('OCI_LIMIT_VERIFICATIONS');
    expect((e as Error).message).toContain('--max-verifications');
    expect(c.blobs.size).toBe(0);
    expect(c.finds()).toBe(0);
    const ok = counted(store);
    expect((await run(store, ok.trust, { maxVerifications: 4 })).verified).toBe(true);
    expect(ok.finds()).toBe(4);
  });

  it('the default is generous for real builds and the flag is a limit like the others', () => {
    expect(DEFAULT_LIMITS.maxVerifications).toBeGreaterThanOrEqual(4096);
  });
});

describe('bounded verification work (property)', () => {
  it('the run is refused exactly when the distinct envelopes exceed the cap; refused runs fetch no layer', async () => {
    // Envelopes need not verify for the count: junk DSSE layers keep the property fast.
    const dsse = (i: number): AttestationLayer => ({
      mediaType: 'application/vnd.in-toto+dsse',
      predicateType: 'https://example.test/p',
      bytes: Buffer.from(
        JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: '', signatures: [], i }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.nat(5), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 12 }),
        async (perPlatform, cap) => {
          const store = new BlobStore();
          const ms = perPlatform.map((_l, i) =>
            putImageManifest(store, { os: 'linux', architecture: `a${i}` }),
          );
          // Layer ids are shared across platforms on purpose: one digest is one verification.
          const atts = ms.map((m, i) =>
            putAttestationManifest(store, 'oci-artifact', m, perPlatform[i]!.map(dsse)),
          );
          store.tags.set('v1', putIndex(store, [...ms, ...atts]));
          const distinct = new Set(perPlatform.flat()).size;
          const c = counted(store);
          const outcome = await run(store, c.trust, { maxVerifications: cap }).then(
            () => 'ran',
            (e: unknown) => (e instanceof OciLimitError ? e.code : String(e)),
          );
          if (distinct > cap) return outcome === 'OCI_LIMIT_VERIFICATIONS' && c.blobs.size === 0;
          return outcome === 'ran' && Math.max(0, ...c.blobs.values()) <= 1;
        },
      ),
      { numRuns: 40 },
    );
  });
});

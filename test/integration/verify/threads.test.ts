import { existsSync } from 'node:fs';
import type { Transferable } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../../src/dsse/envelope.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { verifyOnThread, type KeyLookup, type VerifyMessage } from '../../../src/signer/verify-job.js';
import type { Platform } from '../../../src/oci/types.js';
import type { ThreadPool } from '../../../src/signer/thread-pool.js';
import type { VerifyImageOptions, VerifyReport } from '../../../src/verify/image.js';
import { createTestOp, envelopeOf, reassemble, signedImage, withEnvelope } from '../../helpers/verify.js';

// Worker threads run the compiled worker, so these tests drive the built library (npm run build).
const built = new URL('../../../dist/verify/image.js', import.meta.url);
type Dist = {
  verifyImage: (o: Omit<VerifyImageOptions, 'pool'> & { pool?: Pool }) => Promise<VerifyReport>;
};
type Pool = Pick<ThreadPool, 'run' | 'close'>;

const PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'arm', variant: 'v6' },
  { os: 'linux', architecture: '386' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'linux', architecture: 's390x' },
  { os: 'linux', architecture: 'riscv64' },
];

describe.skipIf(!existsSync(built))('verifying on worker threads', () => {
  const op = createTestOp();
  let dist: Dist;
  let pool: Pool;
  let answered = 0;
  beforeAll(async () => {
    dist = (await import(built.href)) as Dist;
    const { ThreadPool } = (await import(
      new URL('../../../dist/signer/thread-pool.js', import.meta.url).href
    )) as {
      ThreadPool: new (n: number) => Pool;
    };
    pool = new ThreadPool(2);
    // Counts the envelopes a thread answered with verdicts (not a miss, not an error), however
    // many travelled in one message.
    const run = pool.run.bind(pool);
    pool.run = (async (message: Parameters<Pool['run']>[0], transfer?: Transferable[]) => {
      const r = await run<{ results: object[] }>(message, transfer);
      answered += r.results.filter((e) => 'verdicts' in e).length;
      return r;
    }) as Pool['run'];
  });
  afterAll(() => pool.close());

  /** The same image and trust, verified in process and on threads. */
  async function both(img: Awaited<ReturnType<typeof signedImage>>) {
    const base: VerifyImageOptions = {
      source: img.store,
      reference: { tag: 'v1' },
      displayName: 'example.test/acme/widget:v1',
      subjectName: 'example.test/acme/widget',
      // A key source that names where the key came from: the thread's verdict must carry it too.
      trust: { keys: new StaticKeySource([op.key], op.issuer, { kind: 'pinned', location: 'jwks.json' }) },
      expect: { repositoryOwnerId: '145685596' },
      now: 1_800_000_000,
    };
    const before = answered;
    const inline = await dist.verifyImage({ ...base, threads: 0 });
    const threaded = await dist.verifyImage({ ...base, threads: 2 });
    const shared = await dist.verifyImage({ ...base, pool });
    return { inline, threaded, shared, onPool: answered - before };
  }

  it('gives the report the main thread gives, and the pool answered every signed layer', async () => {
    const img = await signedImage(op, { platforms: PLATFORMS });
    const r = await both(img);
    expect(r.inline.verified).toBe(true);
    expect(r.inline.platforms[0]!.attestations[0]!.keySource).toEqual({
      kind: 'pinned',
      location: 'jwks.json',
    });
    expect(r.threaded).toEqual(r.inline);
    expect(JSON.stringify(r.threaded)).toBe(JSON.stringify(r.inline));
    expect(r.shared).toEqual(r.inline);
    expect(r.onPool).toBe(2 * PLATFORMS.length);
  });

  it('a tampered layer fails with the same code and report on threads', async () => {
    const img = await signedImage(op, { platforms: PLATFORMS });
    reassemble(img, (p, i) =>
      p.layers.map((l, j) => {
        if (i !== 3 || j !== 0) return l;
        const env = envelopeOf(l);
        const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: unknown };
        st.predicate = { note: 'tampered' };
        return withEnvelope(l, { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') });
      }),
    );
    const r = await both(img);
    expect(r.inline.verified).toBe(false);
    expect(r.inline.errors.map((e) => e.code)).toEqual(['ATT_MISMATCH']);
    expect(r.threaded).toEqual(r.inline);
    expect(r.shared).toEqual(r.inline);
    expect(r.onPool).toBe(2 * PLATFORMS.length);
  });
});

describe('the verify job (what a thread runs)', () => {
  const op = createTestOp();
  async function job(lookups: KeyLookup[]): Promise<VerifyMessage> {
    const img = await signedImage(op);
    const env = parseEnvelope(img.platforms[0]!.layers[0]!.bytes);
    return {
      t: 'verify',
      id: 1,
      envelopes: [env],
      keys: [op.key.jwk],
      lookups,
      trustedIssuers: [op.issuer],
      now: 1_800_000_000,
    };
  }
  const query = () => ({ iss: op.issuer, kid: op.key.kid! });

  it('verifies against the keys the main thread resolved', async () => {
    const r = verifyOnThread(await job([{ query: query(), found: [0] }]));
    expect(r).toMatchObject({
      results: [{ verdicts: [{ index: 0, token: { key: 0, claims: { iss: op.issuer } } }] }],
    });
  });

  it('a key question outside the table is a miss (the main thread decides), never a verdict', async () => {
    expect(verifyOnThread(await job([]))).toEqual({ results: [{ miss: true }] });
  });

  it('no key found is the verdict the key source would give', async () => {
    const r = verifyOnThread(await job([{ query: query(), found: [] }]));
    expect(r).toMatchObject({ results: [{ verdicts: [{ index: 0, error: { code: 'OP_KEY_NOT_FOUND' } }] }] });
  });
});

import { existsSync } from 'node:fs';
import type { Transferable } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../../src/dsse/envelope.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { verifyOnThread, type KeyLookup, type VerifyMessage } from '../../../src/signer/verify-job.js';
import type { Platform } from '../../../src/oci/types.js';
import type { ThreadPool } from '../../../src/signer/thread-pool.js';
import type { VerifyImageOptions, VerifyReport } from '../../../src/verify/image.js';
import type { Envelope } from '../../../src/dsse/envelope.js';
import type { TokenVerdict, verifySignatureTokens } from '../../../src/dsse/verify.js';
import type { TokenSettings } from '../../../src/verify/thread-jobs.js';
import {
  createTestOp,
  envelopeOf,
  reassemble,
  signedImage,
  trustFor,
  withEnvelope,
  type TestOp,
} from '../../helpers/verify.js';

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
  /** Envelopes a thread answered with verdicts (not a miss, not an error); jobs; misses. */
  const seen = { answered: 0, jobs: 0, misses: 0 };
  beforeAll(async () => {
    dist = (await import(built.href)) as Dist;
    const { ThreadPool } = (await import(
      new URL('../../../dist/signer/thread-pool.js', import.meta.url).href
    )) as {
      ThreadPool: new (n: number) => Pool;
    };
    pool = new ThreadPool(2);
    const run = pool.run.bind(pool);
    pool.run = (async (message: Parameters<Pool['run']>[0], transfer?: Transferable[]) => {
      const r = await run<{ results: object[] }>(message, transfer);
      seen.jobs++;
      seen.answered += r.results.filter((e) => 'verdicts' in e).length;
      seen.misses += r.results.filter((e) => 'miss' in e).length;
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
    const inline = await dist.verifyImage({ ...base, threads: 0 });
    const threaded = await dist.verifyImage({ ...base, threads: 2 });
    const before = { ...seen };
    const shared = await dist.verifyImage({ ...base, pool });
    return {
      inline,
      threaded,
      shared,
      onPool: seen.answered - before.answered,
      jobs: seen.jobs - before.jobs,
    };
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
    // Several envelopes travel in one message.
    expect(r.jobs).toBeLessThan(r.onPool);
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

describe.skipIf(!existsSync(built))("a run's jobs on a pool (thread-jobs.ts)", () => {
  type Jobs = {
    tokens(envelope: Envelope, s: TokenSettings): Promise<TokenVerdict[] | undefined>;
    end(): void;
  };
  type DistModules = {
    ThreadJobs: new (pool: Pool) => Jobs;
    ThreadPool: new (n: number) => Pool;
    parseEnvelope: typeof parseEnvelope;
    verifySignatureTokens: typeof verifySignatureTokens;
  };
  const load = async (path: string) =>
    (await import(new URL(`../../../dist/${path}`, import.meta.url).href)) as object;
  let d: DistModules;
  let pool: Pool;
  const seen = { posted: 0, jobs: 0, misses: 0 };
  beforeAll(async () => {
    d = Object.assign(
      {},
      await load('verify/thread-jobs.js'),
      await load('signer/thread-pool.js'),
      await load('dsse/envelope.js'),
      await load('dsse/verify.js'),
    ) as DistModules;
    pool = new d.ThreadPool(1);
    const run = pool.run.bind(pool);
    pool.run = (async (message: Parameters<Pool['run']>[0], transfer?: Transferable[]) => {
      seen.posted++;
      const r = await run<{ results: object[] }>(message, transfer);
      seen.jobs++;
      seen.misses += r.results.filter((e) => 'miss' in e).length;
      return r;
    }) as Pool['run'];
  });
  afterAll(() => pool.close());

  it("asks again with its own key questions for an envelope naming a key the run has not met, and its verdicts are the main thread's field for field", async () => {
    const a = createTestOp();
    const b = createTestOp();
    const envelope = async (op: TestOp) =>
      d.parseEnvelope((await signedImage(op)).platforms[0]!.layers[0]!.bytes);
    const [fromA, fromB] = [await envelope(a), await envelope(b)];
    const trust = trustFor(a, b);
    const settings: TokenSettings = { trust, issuers: [a.issuer], now: 1_800_000_000 };
    const jobs = new d.ThreadJobs(pool);
    const before = { ...seen };
    expect(await jobs.tokens(fromA, settings)).toHaveLength(1);
    // The run's table now answers for a's key only: b's envelope misses once, then verifies.
    const threaded = await jobs.tokens(fromB, settings);
    expect({ jobs: seen.jobs - before.jobs, misses: seen.misses - before.misses }).toEqual({
      jobs: 3,
      misses: 1,
    });
    jobs.end();

    const inline = d.verifySignatureTokens(fromB, {
      keys: trust.keys,
      trustedIssuers: [a.issuer],
      now: 1_800_000_000,
    });
    expect(threaded).toHaveLength(1);
    const [t, i] = [threaded![0]!, inline[0]!];
    if ('error' in t || 'error' in i) throw new Error('both must verify');
    expect(t.index).toBe(i.index);
    expect(t.pkToken).toEqual(i.pkToken);
    expect(Object.keys(t.token)).toEqual(Object.keys(i.token));
    const { upk, opKey, ...plain } = t.token;
    const { upk: upkInline, opKey: opKeyInline, ...plainInline } = i.token;
    expect(plain).toEqual(plainInline);
    expect(opKey).toBe(b.key);
    expect(opKeyInline).toBe(b.key);
    expect(upk.alg).toBe(upkInline.alg);
    expect(upk.keyObject.equals(upkInline.keyObject)).toBe(true);
  });

  it("gives the main thread's OP_KEY_NOT_FOUND when no key answers, after asking with the envelope's own questions", async () => {
    const a = createTestOp();
    const stranger = createTestOp();
    const jobs = new d.ThreadJobs(pool);
    const settings: TokenSettings = { trust: trustFor(a), issuers: [a.issuer], now: 1_800_000_000 };
    expect(
      await jobs.tokens(d.parseEnvelope((await signedImage(a)).platforms[0]!.layers[0]!.bytes), settings),
    ).toHaveLength(1);
    const r = await jobs.tokens(
      d.parseEnvelope((await signedImage(stranger)).platforms[0]!.layers[0]!.bytes),
      settings,
    );
    jobs.end();
    expect(r).toMatchObject([{ index: 0, error: { code: 'OP_KEY_NOT_FOUND' } }]);
  });

  it('drops what is still queued when the run ends', async () => {
    const a = createTestOp();
    const jobs = new d.ThreadJobs(pool);
    const settings: TokenSettings = { trust: trustFor(a), issuers: [a.issuer], now: 1_800_000_000 };
    const layers = (await signedImage(a, { sbom: true })).platforms[0]!.layers;
    const before = seen.jobs;
    // The pool's one thread gets the first envelope at once (not on the next turn of the event
    // loop); the second waits for company.
    const posted = seen.posted;
    const sent = jobs.tokens(d.parseEnvelope(layers[0]!.bytes), settings);
    expect(seen.posted - posted).toBe(1);
    const queued = jobs.tokens(d.parseEnvelope(layers[1]!.bytes), settings);
    jobs.end();
    await expect(queued).rejects.toThrow('the verification run is over');
    expect(await sent).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect(seen.jobs - before).toBe(1);
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

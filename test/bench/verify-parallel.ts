import { availableParallelism } from 'node:os';
import { StaticKeySource } from '../../src/jwk/set.js';
import type { Platform } from '../../src/oci/types.js';
import { ThreadPool } from '../../src/signer/thread-pool.js';
import { verifyImage, type VerifyImageOptions } from '../../src/verify/image.js';
import { createTestOp, signedImage } from '../helpers/verify.js';
import { measureAsync, type Figure } from './stats.js';

/**
 * Issue 15 part 3: an image's attestations verified on worker threads. One platform and 64
 * platforms (provenance + SBOM each, from memory: no HTTP), in process (threads 0) and on 2
 * threads (a pool per call, as `verify` does; and a warm shared pool), wall time median and p99,
 * the ratio 64-platform threads ÷ 64-platform in process (target ≤ 0.65 on 2 cores), and the
 * peak RSS growth of each run over the RSS before it. Nothing is asserted. Each 64-platform
 * figure follows 30 unmeasured runs, the same for every mode, so that each has settled: the shared
 * pool's three isolates compile on the same 2 cores that run them (V8's background threads: 37-47 ms per
 * run at first, 10-12 ms after about 30 runs; wall 118 ms falling to 80 ms), so after the 2 runs
 * it had before, the "warm" pool was still warming.
 */
export async function benchVerifyParallel(): Promise<Record<string, number | string>> {
  const op = createTestOp();
  const platforms = (n: number): Platform[] =>
    Array.from({ length: n }, (_, i) => ({ os: 'linux', architecture: 'amd64', variant: `v${i + 1}` }));
  const images = {
    1: await signedImage(op, { platforms: platforms(1), sbom: true }),
    64: await signedImage(op, { platforms: platforms(64), sbom: true }),
  };
  const trust = { keys: new StaticKeySource([op.key]) };
  const shared = new ThreadPool(2);
  const out: Record<string, number | string> = {
    'parallel verify: image': `1 or 64 platforms × (provenance + SBOM), from memory; ${availableParallelism()} cores`,
  };
  const figures: Record<string, Figure> = {};
  try {
    for (const n of [1, 64] as const) {
      const base: VerifyImageOptions = {
        source: images[n].store,
        reference: { tag: 'v1' },
        displayName: 'example.test/acme/widget:v1',
        subjectName: 'example.test/acme/widget',
        trust,
        expect: { repositoryOwnerId: '145685596' },
      };
      for (const [label, extra] of [
        ['in process (threads 0)', { threads: 0 }],
        ['2 threads (pool per call)', { threads: 2 }],
        ['2 threads (shared warm pool)', { pool: shared }],
      ] as const) {
        const name = `${n} platform${n > 1 ? 's' : ''}, ${label}`;
        const rss = await peakRssGrowth(async () => {
          figures[name] = await measureAsync(
            name,
            async () => {
              const r = await verifyImage({ ...base, ...extra });
              if (!r.verified) throw new Error('bench image did not verify');
            },
            n === 1 ? { warmup: 5, iterations: 40 } : { warmup: 30, iterations: 15 },
          );
        });
        const f = figures[name]!;
        out[`${name} (ms, median)`] = f.medianUs / 1000;
        out[`${name} (ms, p99)`] = f.p99Us / 1000;
        out[`${name} peak RSS growth (MiB)`] = rss / 2 ** 20;
      }
    }
  } finally {
    await shared.close();
  }
  const one = figures['64 platforms, in process (threads 0)']!;
  for (const label of ['2 threads (pool per call)', '2 threads (shared warm pool)']) {
    const f = figures[`64 platforms, ${label}`]!;
    out[`ratio: 64 platforms ${label} ÷ in process, median (target ≤ 0.65)`] = f.medianUs / one.medianUs;
    out[`ratio: 64 platforms ${label} ÷ in process, p99`] = f.p99Us / one.p99Us;
  }
  return out;
}

/** The highest RSS seen while `fn` runs, less the RSS before it (sampled every 5 ms). */
async function peakRssGrowth(fn: () => Promise<void>): Promise<number> {
  globalThis.gc?.();
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - start;
}

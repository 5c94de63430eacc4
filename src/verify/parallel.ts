import type { Envelope } from '../dsse/envelope.js';
import type { TokenVerdict } from '../dsse/verify.js';
import { autoThreads, ThreadPool } from '../signer/thread-pool.js';
import type { PlatformRead } from './read.js';
import { ThreadJobs, type TokenSettings } from './thread-jobs.js';

export type { TokenSettings } from './thread-jobs.js';

/**
 * Envelope verification on the shared worker pool (signer/thread-pool.ts): the main thread
 * resolves keys, ships envelopes with key-source answers (thread-jobs.ts, signer/verify-job.ts),
 * and rebuilds the same TokenVerdicts from the plain answers. Anything a thread cannot answer
 * exactly (a key question outside the table, an envelope-level error, a dead thread) is
 * verified on the main thread instead, so threads change the wall time, never the verdict.
 */

/**
 * Below this many attestation layers `auto` stays in process: a pool started for one run costs
 * two thread start-ups and two JIT warm-ups. Whole-process `verify oci:DIR` on 2 cores (median
 * ms, in process vs 2 threads): 96 layers 302 vs 307, 128 layers 345 vs 332 (365 vs 362 on a
 * busier run), 160 layers 407 vs 382, 192 layers 460 vs 419, 256 layers 544 vs 485. (It was 256
 * while a pool started per call cost 1.36x the in-process time at 128 layers.)
 */
export const AUTO_THREADS_MIN_LAYERS = 160;

export interface SignatureThreads {
  readonly threads: number;
  /** Envelopes on threads at most at once (each holds a copy of its payload). */
  readonly window: number;
  /** The envelope's token verdicts from a thread, or undefined: verify it on this thread. */
  tokens(envelope: Envelope, s: TokenSettings): Promise<TokenVerdict[] | undefined>;
  close(): Promise<void>;
}

/**
 * The run's threads, as `verifyImage({ threads, pool })` asks: a shared pool, a number of
 * threads (0: none), or `auto`: one per core when there are several and the image has at least
 * AUTO_THREADS_MIN_LAYERS attestation layers (waits for the platforms' attestation manifests).
 */
export async function threadsFor(
  o: { threads?: number | 'auto'; pool?: ThreadPool },
  reads: Promise<PlatformRead>[],
): Promise<SignatureThreads | undefined> {
  if (o.pool) return onPool(o.pool, false);
  let n = o.threads ?? 'auto';
  if (n === 'auto') {
    const cores = autoThreads();
    if (cores < 2) return undefined;
    let layers = 0;
    for (const r of await Promise.all(reads.map((p) => p.catch(noop)))) layers += r?.layers.length ?? 0;
    n = layers >= AUTO_THREADS_MIN_LAYERS ? cores : 0;
  }
  return n > 0 ? onPool(new ThreadPool(n), true) : undefined;
}

/**
 * Envelopes started per thread and not yet answered. The main thread reads in bursts (every
 * layer of the image at once, then the judging) and hands out work only between them; with two
 * per thread the threads sat idle through each burst (64-platform bench, warm pool: 0.83x the
 * in-process time; with eight, 0.75x, before the other changes of issue 15). Each started
 * envelope is at most one copy of its bytes: bounded, whatever the number of platforms.
 */
const QUEUED_PER_THREAD = 8;

function onPool(pool: ThreadPool, own: boolean): SignatureThreads {
  const jobs = new ThreadJobs(pool);
  return {
    threads: pool.threads,
    window: QUEUED_PER_THREAD * pool.threads,
    tokens: (envelope, s) => jobs.tokens(envelope, s),
    close: async () => {
      jobs.end();
      if (own) await pool.close();
    },
  };
}

/**
 * Starts the signature verification of the signed layers ahead of the (sequential) judging, in
 * the same order, with at most `window` started and unsettled: the threads stay busy while
 * memory stays flat in the number of platforms. Any settling frees a place, not only the oldest:
 * waiting for the oldest left a thread idle whenever the other thread held it. Failures are the
 * judge's to report; here they only end the wait. Stops when `stop` aborts.
 */
export async function verifyAhead(
  reads: Promise<PlatformRead>[],
  verify: (envelope: Envelope) => Promise<unknown>,
  window: number,
  stop: AbortSignal,
): Promise<void> {
  let unsettled = 0;
  let freed: (() => void) | undefined;
  const settle = () => {
    unsettled--;
    const wake = freed;
    freed = undefined;
    wake?.();
  };
  for (const r of reads) {
    const read = await r.catch(noop);
    if (!read || read.error || !read.attestation) continue;
    for (const l of read.layers) {
      const layer = await l.catch(noop);
      if (stop.aborted) return;
      if (!layer || layer.kind !== 'dsse' || layer.error || layer.envelopeError || !layer.envelope) continue;
      unsettled++;
      verify(layer.envelope).then(settle, settle);
      while (unsettled >= window) await new Promise<void>((resolve) => (freed = resolve));
    }
  }
}

function noop(): undefined {
  return undefined;
}

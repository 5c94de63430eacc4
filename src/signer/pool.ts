import { availableParallelism } from 'node:os';
import type { CommitmentLocation } from '../pktoken/cic.js';
import type { IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { Limiter } from './limiter.js';
import type { SignedStatement } from './sign.js';
import { inlineExecutor, threadExecutor, workersAvailable, type Executor, type SignJob } from './threads.js';

export type { SignJob } from './threads.js';

export interface SigningPoolOptions {
  format?: PkTokenFormat;
  commitType?: CommitmentLocation;
  /** RFC 3161 authority URL: every signature gets a timestamp there (`--tsa`). */
  tsa?: string;
  /** Worker threads for the GQ proof: 'auto' (one per core when built), or a number (0 = inline). */
  threads?: number | 'auto';
  /** Statements signed at once (each holds one token request). Default 32. */
  maxActive?: number;
  /** Statements waiting for a slot before new ones get SERVER_BUSY. Default 1024. */
  maxQueued?: number;
}

/**
 * The one place statements are signed, below both doors: the sidecar and `attest` each hold a
 * SigningPool. It bounds how many statements sign at once (each holds a token request to the
 * OP) and runs `signStatement` inline or on worker threads.
 */
export interface SigningPool {
  readonly kind: 'inline' | 'workers';
  readonly threads: number;
  readonly maxActive: number;
  readonly maxQueued: number;
  readonly stats: { active: number; queued: number };
  /**
   * Signs one statement under a permit. `signal` gives up waiting (for the permit or the
   * result); work already started keeps its permit until it settles.
   */
  sign(job: SignJob, getIdToken: IdTokenSource, signal?: AbortSignal): Promise<SignedStatement>;
  close(): Promise<void>;
}

export function createSigningPool(o: SigningPoolOptions = {}): SigningPool {
  const config = {
    format: o.format ?? '2023',
    commitType: o.commitType ?? 'aud',
    ...(o.tsa !== undefined ? { tsa: o.tsa } : {}),
  } as const;
  let threads = o.threads ?? 'auto';
  if (threads === 'auto') threads = workersAvailable() ? Math.max(1, availableParallelism()) : 0;
  const executor: Executor = threads === 0 ? inlineExecutor(config) : threadExecutor(config, threads);
  const limiter = new Limiter(o.maxActive ?? 32, o.maxQueued ?? 1024);
  return {
    kind: executor.kind,
    threads: executor.threads,
    maxActive: limiter.maxActive,
    maxQueued: limiter.maxQueued,
    get stats() {
      return limiter.stats;
    },
    async sign(job, getIdToken, signal) {
      const release = await limiter.acquire(signal);
      const work = executor.run(job, getIdToken);
      // The permit follows the work, not the caller: a signature whose caller gave up still holds
      // its slot (and its worker thread) until it settles, so abandoned work cannot pile up.
      work.then(release, release);
      return signal ? abortable(work, signal) : work;
    },
    close: () => executor.close(),
  };
}

/** Settles with `p`, or rejects with the signal's reason as soon as it aborts. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Runs `fn` over `items` with at most `parallelism` at once; results in input order. All or
 * nothing: the first failure (or `outer` aborting) aborts the signal every call got, no new
 * item starts, and that failure is what rejects.
 */
export async function allOrNothing<T, R>(
  items: readonly T[],
  parallelism: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  outer?: AbortSignal,
): Promise<R[]> {
  if (outer?.aborted) throw outer.reason;
  const batch = new AbortController();
  const onOuter = () => batch.abort(outer!.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length && !batch.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i, batch.signal);
      } catch (e) {
        if (!batch.signal.aborted) batch.abort(e);
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallelism, items.length)) }, lane));
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
  if (batch.signal.aborted) throw batch.signal.reason;
  return results;
}

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';

/**
 * The one worker-thread pool: N threads running worker.ts, which serves both job kinds (signing
 * a statement, verifying an envelope's signatures). Jobs go to the least busy live thread; a
 * thread that dies fails only its own jobs and is respawned after a backoff. Callers give each
 * job its message and, for jobs that talk back mid-way (the signer's token request), a handler.
 */

const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Workers need the compiled script; under a TS test runner only the `.ts` source exists. */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/** Threads for `threads: 'auto'`: one per core when the compiled worker exists, else none. */
export function autoThreads(): number {
  return workersAvailable() ? Math.max(1, availableParallelism()) : 0;
}

/** Why a job got no answer from a thread: the caller turns it into its own typed error. */
export class PoolFailure extends Error {
  constructor(
    readonly reason: 'stopped' | 'closed' | 'none',
    message: string,
  ) {
    super(message);
  }
}

export interface WireError {
  name: string;
  code?: string;
  message: string;
}

/** A message a worker sends about job `id`: its answer (`ok`/`err`) or a request mid-way. */
export type FromWorker = { t: string; id: number; result?: unknown; error?: WireError } & Record<
  string,
  unknown
>;

/** Replies to the worker running a job (the signer's token answer). */
export type PostToJob = (message: Record<string, unknown>) => void;

interface PendingJob {
  kind: string;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
  onMessage?: (m: FromWorker, post: PostToJob) => void;
  slot: Slot;
}

interface Slot {
  worker: Worker;
  pending: number;
  /** When the thread last sent anything, or was given work while idle (ms, monotonic). */
  lastHeard: number;
  /** Set once the worker errored or exited; its replacement is spawned after a backoff. */
  dead?: boolean;
  /** Fails the slot's jobs and schedules its replacement (once). */
  fail: (why: string) => void;
}

export interface ThreadPoolOptions {
  /**
   * A thread that holds jobs but sends nothing for this long is stopped and replaced, and its
   * jobs fail: a thread stuck in native code (Node 20 had a key-export deadlock) would otherwise
   * hold its permits, and the sidecar's capacity, for ever. Default 120 s.
   */
  stallMs?: number;
  /** The worker script; tests give one that can be made to hang. */
  workerUrl?: URL;
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, PendingJob>();
  private nextId = 1;
  private closed = false;
  /** Worker deaths since the last completed job: drives the respawn backoff. */
  private failures = 0;
  /** Jobs a thread answered, by kind (`sign`, `verify`): what ran where, for tests and stats. */
  readonly answered: Record<string, number> = {};

  private readonly workerUrl: URL;
  private readonly stallMs: number;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    readonly threads: number,
    opts: ThreadPoolOptions = {},
  ) {
    this.workerUrl = opts.workerUrl ?? WORKER_URL;
    if (!opts.workerUrl && !workersAvailable())
      throw new Error('worker threads need the compiled signer/worker.js (run npm run build)');
    this.stallMs = opts.stallMs ?? 120_000;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
    this.watchdog = setInterval(() => this.stopStalled(), Math.min(5_000, this.stallMs / 4));
    this.watchdog.unref();
  }

  private stopStalled(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      if (slot.dead || slot.pending === 0 || now - slot.lastHeard < this.stallMs) continue;
      const waited = this.stallMs < 1000 ? `${this.stallMs} ms` : `${Math.round(this.stallMs / 1000)} s`;
      slot.fail(`no answer for ${waited}; the thread was restarted`);
      void slot.worker.terminate();
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl);
    const slot: Slot = { worker, pending: 0, lastHeard: performance.now(), fail: () => {} };
    worker.on('message', (m: FromWorker) => {
      slot.lastHeard = performance.now();
      this.onMessage(m);
    });
    const fail = (why: string) => {
      // 'error' and 'exit' both fire for one death: handle it once.
      if (this.closed || slot.dead) return;
      slot.dead = true;
      for (const [id, job] of this.jobs) {
        if (job.slot !== slot) continue;
        this.jobs.delete(id);
        job.reject(new PoolFailure('stopped', why));
      }
      // A worker that dies at start-up (broken install, no memory) must not respawn in a hot loop.
      const delay = this.failures === 0 ? 0 : Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9));
      this.failures++;
      setTimeout(() => {
        const i = this.slots.indexOf(slot);
        if (!this.closed && i >= 0) this.slots[i] = this.spawn();
      }, delay).unref();
    };
    slot.fail = fail;
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit ${code}`));
    return slot;
  }

  /**
   * Runs one job: `message` (with `t` naming its kind) goes to a thread with a fresh `id`, moving
   * `transfer`; settles with the worker's `ok` result, or rejects with its revived `err` (or a
   * PoolFailure). Other messages about the job go to `onMessage`.
   */
  run<R>(
    message: { t: string } & Record<string, unknown>,
    transfer: Transferable[] = [],
    onMessage?: (m: FromWorker, post: PostToJob) => void,
  ): Promise<R> {
    if (this.closed) return Promise.reject(new PoolFailure('closed', 'the worker pool is closed'));
    const live = this.slots.filter((s) => !s.dead);
    if (live.length === 0)
      return Promise.reject(
        new PoolFailure('none', 'no worker thread is running (restarting after failures)'),
      );
    const slot = live.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      // Time waiting idle is not silence: the stall clock starts when work arrives.
      if (slot.pending === 0) slot.lastHeard = performance.now();
      slot.pending++;
      const done =
        <A extends unknown[]>(f: (...a: A) => void) =>
        (...a: A) => {
          slot.pending--;
          f(...a);
        };
      this.jobs.set(id, {
        kind: message.t,
        resolve: done(resolve as (r: unknown) => void),
        reject: done(reject),
        ...(onMessage ? { onMessage } : {}),
        slot,
      });
      slot.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private onMessage(m: FromWorker): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.t !== 'ok' && m.t !== 'err') {
      job.onMessage?.(m, (reply) => {
        // The thread was waiting on us (a token): its silence until now was ours, not its own.
        job.slot.lastHeard = performance.now();
        job.slot.worker.postMessage({ ...reply, id: m.id });
      });
      return;
    }
    this.jobs.delete(m.id);
    this.failures = 0;
    this.answered[job.kind] = (this.answered[job.kind] ?? 0) + 1;
    if (m.t === 'ok') job.resolve(m.result);
    else job.reject(m.error);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    for (const job of this.jobs.values()) job.reject(new PoolFailure('closed', 'the worker pool is closed'));
    this.jobs.clear();
    await Promise.all(this.slots.filter((s) => !s.dead).map((s) => s.worker.terminate()));
  }
}

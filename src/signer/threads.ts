import type { CommitmentLocation } from '../pktoken/cic.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  FormatError,
  OpkError,
  UsageError,
  VerificationError,
  toErrorCode,
  type ErrorCode,
} from '../errors.js';
import type { IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { signStatement, type SignedStatement } from './sign.js';
import { httpTimestamper } from '../tsa/client.js';

export interface SignJob {
  statement: Uint8Array;
  payloadType?: string;
}

/** What every statement of one pool is signed with. */
export interface SigningConfig {
  format: PkTokenFormat;
  commitType: CommitmentLocation;
  /** RFC 3161 authority URL: each signature gets a timestamp (`serve --tsa`). */
  tsa?: string;
}

/**
 * Where `signStatement` runs: on the event loop, or on worker threads. The GQ proof costs
 * several milliseconds of BigInt arithmetic per statement, so one thread caps a signer at ~150
 * signatures/s; workers use every core. Either way the ID token is fetched on the main thread,
 * so the provider and its credentials never leave it.
 */
export interface Executor {
  readonly kind: 'inline' | 'workers';
  readonly threads: number;
  run(job: SignJob, getIdToken: IdTokenSource): Promise<SignedStatement>;
  close(): Promise<void>;
}

export function inlineExecutor(config: SigningConfig): Executor {
  return {
    kind: 'inline',
    threads: 0,
    run: (job, getIdToken) =>
      signStatement(job.statement, {
        getIdToken,
        format: config.format,
        commitType: config.commitType,
        ...(config.tsa ? { timestamper: httpTimestamper(config.tsa) } : {}),
        ...(job.payloadType ? { payloadType: job.payloadType } : {}),
      }),
    close: async () => {},
  };
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

/** Workers need the compiled script; under a TS test runner only the `.ts` source exists. */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

export function threadExecutor(config: SigningConfig, threads: number): Executor {
  if (!workersAvailable())
    throw new UsageError(
      'USAGE',
      'signing worker threads need the compiled signer/worker.js (run npm run build)',
    );
  return new WorkerThreads(config, threads);
}

interface WireError {
  name: string;
  code?: string;
  message: string;
}

type FromWorker =
  | { t: 'token'; id: number; commitment: string }
  | { t: 'ok'; id: number; result: SignedStatement }
  | { t: 'err'; id: number; error: WireError };

interface PendingJob {
  resolve: (r: SignedStatement) => void;
  reject: (e: unknown) => void;
  getIdToken: IdTokenSource;
  /** The provider's own error, kept so the caller sees it rather than the worker's echo of it. */
  tokenError?: unknown;
  slot: Slot;
}

interface Slot {
  worker: Worker;
  pending: number;
  /** Set once the worker errored or exited; its replacement is spawned after a backoff. */
  dead?: boolean;
}

const ERROR_CLASSES: Record<string, new (code: ErrorCode, message: string) => OpkError> = {
  FormatError,
  UsageError,
  VerificationError,
  OpkError,
};

export function reviveError(e: WireError): Error {
  if (e.code !== undefined) return new (ERROR_CLASSES[e.name] ?? OpkError)(toErrorCode(e.code), e.message);
  return new Error(e.message);
}

class WorkerThreads implements Executor {
  readonly kind = 'workers' as const;
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, PendingJob>();
  private nextId = 1;
  private closed = false;
  /** Worker deaths since the last completed job: drives the respawn backoff. */
  private failures = 0;

  constructor(
    private readonly config: SigningConfig,
    readonly threads: number,
  ) {
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, pending: 0 };
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    const fail = (why: string) => {
      // 'error' and 'exit' both fire for one death: handle it once.
      if (this.closed || slot.dead) return;
      slot.dead = true;
      for (const [id, job] of this.jobs) {
        if (job.slot !== slot) continue;
        this.jobs.delete(id);
        job.reject(new OpkError('SIGNER_WORKER', `signing worker stopped (${why}); retry the call`));
      }
      // A worker that dies at start-up (broken install, no memory) must not respawn in a hot loop.
      const delay = this.failures === 0 ? 0 : Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9));
      this.failures++;
      setTimeout(() => {
        const i = this.slots.indexOf(slot);
        if (!this.closed && i >= 0) this.slots[i] = this.spawn();
      }, delay).unref();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit ${code}`));
    return slot;
  }

  run(job: SignJob, getIdToken: IdTokenSource): Promise<SignedStatement> {
    if (this.closed) return Promise.reject(new OpkError('SIGNER_CLOSED', 'signer is shutting down'));
    const live = this.slots.filter((s) => !s.dead);
    if (live.length === 0) {
      return Promise.reject(
        new OpkError(
          'SIGNER_WORKER',
          'no signing worker is running (restarting after failures); retry the call',
        ),
      );
    }
    const slot = live.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending++;
      const done =
        <A extends unknown[]>(f: (...a: A) => void) =>
        (...a: A) => {
          slot.pending--;
          f(...a);
        };
      this.jobs.set(id, { resolve: done(resolve), reject: done(reject), getIdToken, slot });
      // One copy into a buffer of the message's own, then moved, not cloned: the caller's bytes
      // may be a view into a larger buffer (a gRPC frame), which a clone would copy whole.
      const statement = new Uint8Array(job.statement);
      slot.worker.postMessage(
        { t: 'sign', id, statement, payloadType: job.payloadType ?? '', ...this.config },
        [statement.buffer],
      );
    });
  }

  private onMessage(m: FromWorker): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.t === 'token') {
      job.getIdToken(m.commitment).then(
        ({ idToken, opKey }) =>
          job.slot.worker.postMessage({ t: 'token-ok', id: m.id, idToken, jwk: opKey.jwk }),
        (e: unknown) => {
          job.tokenError = e;
          job.slot.worker.postMessage({ t: 'token-err', id: m.id });
        },
      );
      return;
    }
    this.jobs.delete(m.id);
    this.failures = 0;
    // Structured clone turns the envelope Buffer into a plain Uint8Array: give Buffer back.
    if (m.t === 'ok') {
      const e = m.result.envelope;
      job.resolve({ ...m.result, envelope: Buffer.from(e.buffer, e.byteOffset, e.byteLength) });
    } else job.reject(job.tokenError ?? reviveError(m.error));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs.values())
      job.reject(new OpkError('SIGNER_CLOSED', 'signer is shutting down'));
    this.jobs.clear();
    await Promise.all(this.slots.filter((s) => !s.dead).map((s) => s.worker.terminate()));
  }
}

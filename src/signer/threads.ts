import type { CommitmentLocation } from '../pktoken/cic.js';
import { OpkError, UsageError } from '../errors.js';
import { reviveError } from './worker-reply.js';
import type { IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { signStatement, type SignedStatement } from './sign.js';
import { httpTimestamper } from '../tsa/client.js';
import {
  PoolFailure,
  ThreadPool,
  workersAvailable,
  type FromWorker,
  type PostToJob,
  type WireError,
} from './thread-pool.js';

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

export { workersAvailable } from './thread-pool.js';

/**
 * Signing on the shared thread pool (`pool`, or one of its own with `threads` threads, closed
 * with the executor).
 */
export function threadExecutor(config: SigningConfig, threads: number, shared?: ThreadPool): Executor {
  if (!shared && !workersAvailable())
    throw new UsageError(
      'USAGE',
      'signing worker threads need the compiled signer/worker.js (run npm run build)',
    );
  return new PoolSigner(config, shared ?? new ThreadPool(threads), !shared);
}

export { reviveError } from './worker-reply.js';

/** The signer's wording for a job the pool could not answer. */
function poolError(e: PoolFailure): OpkError {
  if (e.reason === 'closed') return new OpkError('SIGNER_CLOSED', 'signer is shutting down');
  if (e.reason === 'none')
    return new OpkError(
      'SIGNER_WORKER',
      'no signing worker is running (restarting after failures); retry the call',
    );
  return new OpkError('SIGNER_WORKER', `signing worker stopped (${e.message}); retry the call`);
}

class PoolSigner implements Executor {
  readonly kind = 'workers' as const;
  readonly threads: number;

  constructor(
    private readonly config: SigningConfig,
    private readonly pool: ThreadPool,
    private readonly own: boolean,
  ) {
    this.threads = pool.threads;
  }

  private closed = false;

  async run(job: SignJob, getIdToken: IdTokenSource): Promise<SignedStatement> {
    if (this.closed) throw new OpkError('SIGNER_CLOSED', 'signer is shutting down');
    /** The provider's own error, kept so the caller sees it rather than the worker's echo of it. */
    let tokenError: unknown;
    // One copy into a buffer of the message's own, then moved, not cloned: the caller's bytes
    // may be a view into a larger buffer (a gRPC frame), which a clone would copy whole.
    const statement = new Uint8Array(job.statement);
    const onToken = (m: FromWorker, post: PostToJob) =>
      getIdToken(m.commitment as string).then(
        ({ idToken, opKey }) => post({ t: 'token-ok', idToken, jwk: opKey.jwk }),
        (e: unknown) => {
          tokenError = e;
          post({ t: 'token-err' });
        },
      );
    try {
      const result = await this.pool.run<SignedStatement>(
        { t: 'sign', statement, payloadType: job.payloadType ?? '', ...this.config },
        [statement.buffer],
        (m, post) => void (m.t === 'token' && onToken(m, post)),
      );
      // Structured clone turns the envelope Buffer into a plain Uint8Array: give Buffer back.
      const e = result.envelope;
      return { ...result, envelope: Buffer.from(e.buffer, e.byteOffset, e.byteLength) };
    } catch (e) {
      if (e instanceof PoolFailure) throw poolError(e);
      throw tokenError ?? reviveError(e as WireError);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.own) await this.pool.close();
  }
}

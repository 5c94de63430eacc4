import type { CommitmentLocation } from '../pktoken/cic.js';
import { performance } from 'node:perf_hooks';
import { INTOTO_PAYLOAD_TYPE, parseEnvelope } from '../dsse/envelope.js';
import { OpkError } from '../errors.js';
import { OpError } from '../oidc/errors.js';
import type { IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { allOrNothing, createSigningPool, type SigningPool } from '../signer/pool.js';
import type { SignedStatement } from '../signer/sign.js';
import { AttestError, SignerIoError } from './errors.js';
import { isDsseMediaType } from '../oci/types.js';
import type { SignTask } from './types.js';

/** Where the time of a signing run went (ms). Sums over statements, except `wallMs`. */
export interface SignTimings {
  wallMs: number;
  /** Waiting for ID tokens (in-process signer only). */
  tokenMs: number;
  /** Everything else of signing: key generation, GQ proof, envelope (in-process signer only). */
  cryptoMs: number;
}

/**
 * What `attest` signs its statements with: in process (a SigningPool) or through a sidecar
 * (`--signer`). Results are keyed by `SignTask.key`.
 */
export interface StatementSigner {
  readonly name: string;
  sign(tasks: readonly SignTask[]): Promise<Map<string, SignedStatement>>;
  readonly timings: SignTimings;
  close?(): Promise<void>;
}

/** @deprecated the old name of `StatementSigner`. */
export type AttestSigner = StatementSigner;

export interface InProcessSignerOptions {
  getIdToken: IdTokenSource;
  commitType?: CommitmentLocation;
  format?: PkTokenFormat;
  /** RFC 3161 authority URL: each signature is timestamped there (`--tsa URL`). */
  tsa?: string;
  /** Statements signed at once (each holds one token request). Default 4. */
  concurrency?: number;
  /** Worker threads for the GQ proof (see SigningPoolOptions). Default 0: on the event loop. */
  threads?: number | 'auto';
  /**
   * A pool to share (e.g. with a sidecar in the same process); its format, commitment type and TSA
   * win, and `close()` leaves it open. Default: a pool of this signer's own.
   */
  pool?: SigningPool;
}

/** The library's signStatement on a SigningPool, the sidecar's path, with the token wait timed apart. */
export function inProcessSigner(o: InProcessSignerOptions): StatementSigner {
  const timings: SignTimings = { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
  const concurrency = Math.max(1, o.concurrency ?? 4);
  let own: SigningPool | undefined;
  const pool = () =>
    o.pool ??
    (own ??= createSigningPool({
      ...(o.commitType ? { commitType: o.commitType } : {}),
      ...(o.format ? { format: o.format } : {}),
      ...(o.tsa !== undefined ? { tsa: o.tsa } : {}),
      threads: o.threads ?? 0,
      maxActive: concurrency,
      maxQueued: Infinity,
    }));
  const signOne = async (t: SignTask, signal: AbortSignal): Promise<SignedStatement> => {
    let tokenMs = 0;
    const getIdToken: IdTokenSource = async (commitment) => {
      const t0 = performance.now();
      try {
        return await o.getIdToken(commitment);
      } finally {
        tokenMs += performance.now() - t0;
      }
    };
    const t0 = performance.now();
    const s = await pool().sign({ statement: t.statement }, getIdToken, signal);
    timings.tokenMs += tokenMs;
    timings.cryptoMs += performance.now() - t0 - tokenMs;
    return s;
  };
  return {
    name: 'in-process',
    timings,
    async sign(tasks) {
      const start = performance.now();
      try {
        const signed = await allOrNothing(tasks, concurrency, (t, _i, signal) => signOne(t, signal));
        return new Map(tasks.map((t, i) => [t.key, signed[i]!]));
      } catch (e) {
        throw signingFailure(e);
      } finally {
        timings.wallMs += performance.now() - start;
      }
    },
    async close() {
      await own?.close();
    },
  };
}

/** OP and network failures are I/O (exit 2); anything else the signer refused is exit 1. */
function signingFailure(e: unknown): unknown {
  if (e instanceof OpError && ['OP_UNAVAILABLE', 'OP_CANCELLED', 'OP_BAD_RESPONSE'].includes(e.code))
    return new SignerIoError(e.code, `getting an ID token failed: ${e.message}`);
  // By code, not class: an error from a worker thread comes back as a plain OpkError.
  if (e instanceof OpkError && ['TSA_UNAVAILABLE', 'TSA_REFUSED', 'TSA_BAD_RESPONSE'].includes(e.code))
    return new SignerIoError(e.code, e.message);
  return e;
}

/**
 * What comes back from any signer is checked before it is written: a DSSE media type, the
 * in-toto payload type, a signature, and a payload that is exactly the statement we asked for.
 */
export function checkSigned(task: SignTask, s: SignedStatement): void {
  const bad = (why: string) =>
    new AttestError('ATTEST_SIGNER_OUTPUT', `signer output for statement ${task.statementDigest} ${why}`);
  if (!isDsseMediaType(s.mediaType)) throw bad(`has media type ${s.mediaType}, not a DSSE type`);
  let env;
  try {
    env = parseEnvelope(s.envelope);
  } catch {
    throw bad('is not a DSSE envelope');
  }
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE) throw bad(`has payloadType ${env.payloadType}`);
  if (env.signatures.length === 0) throw bad('carries no signature');
  if (!Buffer.from(env.payload).equals(Buffer.from(task.statement))) throw bad('signs different bytes');
}

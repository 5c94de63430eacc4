import { performance } from 'node:perf_hooks';
import { status as Status } from '@grpc/grpc-js';
import { UsageError } from '../errors.js';
import { errorEntry } from '../errors/catalogue.js';
import { grpcAddress, parseListen, type ListenSpec } from '../sidecar-client/address.js';
import { createSidecarClient, SidecarError } from '../sidecar-client/client.js';
import type { SignedStatement } from '../signer/sign.js';
import { AttestError, SignerIoError } from './errors.js';
import type { SignTimings, StatementSigner } from './signer.js';
import type { SignTask } from './types.js';

/**
 * `--signer` takes the sidecar's own `--listen` spelling. Loopback only: this client has no TLS,
 * and a signer off this host would see the statements in clear.
 */
export function sidecarTarget(spec: string): string {
  let listen: ListenSpec;
  try {
    listen = parseListen(spec);
  } catch (e) {
    throw new UsageError(
      'USAGE',
      `--signer ${spec}: ${(e as Error).message.replace(/^--listen \S+:? ?/, '')}`,
    );
  }
  if (listen.kind === 'tcp' && (!listen.loopback || listen.port === 0)) {
    throw new UsageError(
      'USAGE',
      `--signer ${spec}: expected unix:///path.sock or tcp://127.0.0.1:PORT (a sidecar on this host)`,
    );
  }
  return grpcAddress(listen);
}

/** Statuses that say the sidecar could not do the work (exit 2), not that it refused it (exit 1). */
const IO_CODES = new Set<number>([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.CANCELLED,
  Status.RESOURCE_EXHAUSTED,
  Status.UNKNOWN,
  Status.INTERNAL,
]);

/**
 * A failed sidecar call as this CLI reports it: SIGNER_UNAVAILABLE (I/O: not reached, busy,
 * timed out) or SIGNER_REFUSED (the sidecar answered no). Other errors pass through.
 */
export function sidecarFailure(spec: string, e: unknown): unknown {
  if (!(e instanceof SidecarError)) return e;
  // grpc-js appends resolver internals ("… Resolution note: …"); the first part says it all.
  const detail = e.message.split('. Resolution note')[0]!.split('. Last error: ').join(': ');
  const what = `sidecar ${spec}: ${Status[e.grpcCode] ?? e.grpcCode}${e.remoteCode ? ` (${e.remoteCode})` : ''}: ${detail}`;
  // The sidecar names its catalogue code: only a verdict on what we sent is a refusal (exit 1);
  // a sidecar without an identity provider or one that is busy is not. No code: no sidecar answered.
  const refused = e.remoteCode ? errorEntry(e.remoteCode).kind === 'verdict' : !IO_CODES.has(e.grpcCode);
  return refused ? new AttestError('SIGNER_REFUSED', what) : new SignerIoError('SIGNER_UNAVAILABLE', what);
}

/** Bytes of statements per `SignStatements` call: well under the sidecar's 256 MiB message cap. */
export const SIDECAR_BATCH_BYTES = 64 * 1024 * 1024;

/**
 * Splits tasks into consecutive batches of at most `maxCount` statements and `maxBytes` bytes
 * of statements each; a statement larger than `maxBytes` goes alone.
 */
export function batchTasks<T extends Pick<SignTask, 'statement'>>(
  tasks: readonly T[],
  maxBytes = SIDECAR_BATCH_BYTES,
  maxCount = 64,
): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const t of tasks) {
    const n = t.statement.length;
    if (cur.length > 0 && (cur.length >= maxCount || bytes + n > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Signs through a running sidecar. Statements go in `SignStatements` batches (by count and by
 * bytes, see `batchTasks`): all or nothing, results in request order.
 */
export function sidecarSigner(
  spec: string,
  o: { deadlineMs?: number; batch?: number; batchBytes?: number } = {},
): StatementSigner {
  const client = createSidecarClient(sidecarTarget(spec));
  const timings: SignTimings = { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
  const batch = o.batch ?? 64;
  const call = async (statements: Uint8Array[]): Promise<SignedStatement[]> => {
    let results: SignedStatement[];
    try {
      results = await client.signStatements(statements, { deadlineMs: o.deadlineMs ?? 120_000 });
    } catch (e) {
      throw sidecarFailure(spec, e);
    }
    if (results.length !== statements.length) {
      throw new AttestError(
        'SIGNER_REFUSED',
        `sidecar ${spec} returned ${results.length} results for ${statements.length} statements`,
      );
    }
    return results;
  };
  return {
    name: `sidecar ${spec}`,
    timings,
    async sign(tasks) {
      const start = performance.now();
      const out = new Map<string, SignedStatement>();
      try {
        for (const chunk of batchTasks(tasks, o.batchBytes ?? SIDECAR_BATCH_BYTES, batch)) {
          const results = await call(chunk.map((t) => t.statement));
          chunk.forEach((t, j) => out.set(t.key, results[j]!));
        }
      } finally {
        timings.wallMs += performance.now() - start;
      }
      return out;
    },
    async close() {
      client.close();
    },
  };
}

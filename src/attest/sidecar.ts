import { performance } from 'node:perf_hooks';
import { status as Status } from '@grpc/grpc-js';
import { UsageError } from '../errors.js';
import { createSignerClient, SidecarError, type SignedByClient } from '../server/client.js';
import { AttestError, SignerIoError } from './errors.js';
import type { AttestSigner, SignTimings } from './signer.js';
import type { SignedLayer } from './types.js';

/** `unix:///path.sock` stays as is; `tcp://127.0.0.1:PORT` becomes `127.0.0.1:PORT`. Loopback only (no TLS here). */
export function sidecarTarget(spec: string): string {
  if (spec.startsWith('unix://')) {
    if (!spec.startsWith('unix:///'))
      throw new UsageError('USAGE', `--signer ${spec}: use unix:///absolute/path.sock`);
    return spec;
  }
  const m = /^tcp:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d+)$/.exec(spec);
  if (m) return `${m[1]}:${m[2]}`;
  throw new UsageError(
    'USAGE',
    `--signer ${spec}: expected unix:///path.sock or tcp://127.0.0.1:PORT (a sidecar on this host)`,
  );
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
 * Signs through a running sidecar. Statements go in `SignStatements` batches: all or nothing,
 * results in request order.
 */
export function sidecarSigner(spec: string, o: { deadlineMs?: number; batch?: number } = {}): AttestSigner {
  const client = createSignerClient(sidecarTarget(spec));
  const timings: SignTimings = { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
  const batch = o.batch ?? 64;
  const call = async (statements: Uint8Array[]): Promise<SignedByClient[]> => {
    let results: SignedByClient[];
    try {
      results = await client.signStatements(statements, { deadlineMs: o.deadlineMs ?? 120_000 });
    } catch (e) {
      if (!(e instanceof SidecarError)) throw e;
      const what = `sidecar ${spec}: ${Status[e.grpcCode] ?? e.grpcCode}: ${e.message}`;
      throw IO_CODES.has(e.grpcCode)
        ? new SignerIoError('SIGNER_UNAVAILABLE', what)
        : new AttestError('SIGNER_REFUSED', what);
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
      const out = new Map<string, SignedLayer>();
      try {
        for (let i = 0; i < tasks.length; i += batch) {
          const chunk = tasks.slice(i, i + batch);
          const results = await call(chunk.map((t) => t.statement));
          chunk.forEach((t, j) => {
            const r = results[j]!;
            out.set(t.key, {
              envelope: Buffer.from(r.envelope),
              mediaType: r.media_type,
              predicateType: r.predicate_type,
            });
          });
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

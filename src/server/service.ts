import { performance } from 'node:perf_hooks';
import { status as Status, type ServerUnaryCall, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import type { IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { allOrNothing, type SigningPool } from '../signer/pool.js';
import type { SignedStatement } from '../signer/sign.js';
import { VERSION } from '../version.js';
import type { Admission, SignRequest } from './admission.js';
import { StatusError, toStatus, trailers, type Phase } from './status.js';
import type { Logger, SignerProvider } from './types.js';

export interface ServiceDeps {
  pool: SigningPool;
  admission: Admission;
  provider: SignerProvider | undefined;
  format: PkTokenFormat;
  /** Parallel token requests within one SignStatements call. */
  batchParallelism: number;
  log: Logger;
}

type Handler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/** The library's SignedStatement as `opk.signer.v1.SignStatementResponse` (keepCase). */
const response = (r: SignedStatement) => ({
  envelope: Buffer.from(r.envelope.buffer, r.envelope.byteOffset, r.envelope.byteLength),
  media_type: r.mediaType,
  predicate_type: r.predicateType,
  op_key_id: r.opKey?.kid ?? '',
  op_key_thumbprint: r.opKey?.jkt ?? '',
});

/** One statement under one pool permit; failures come out as StatusError. */
async function signOne(
  pool: SigningPool,
  p: SignerProvider,
  req: SignRequest,
  signal: AbortSignal,
): Promise<SignedStatement> {
  // The same catalogue code means different things before, during and after the token request.
  let phase: Phase = 'input';
  const getIdToken: IdTokenSource = async (commitment) => {
    phase = 'token';
    const t = await p.getIdToken(commitment, { signal });
    phase = 'proof';
    return t;
  };
  try {
    return await pool.sign({ statement: req.statement, payloadType: req.payload_type }, getIdToken, signal);
  } catch (e) {
    throw new StatusError(toStatus(e, phase));
  }
}

type Outcome = { ok: unknown; fields?: Record<string, unknown> } | { err: unknown };

/** Answers the call and logs one line for it; unvetted errors stay in the log, never the reply. */
function finish(
  log: Logger,
  method: string,
  started: number,
  callback: sendUnaryData<unknown>,
  outcome: Outcome,
): void {
  const duration_ms = Math.round((performance.now() - started) * 100) / 100;
  if ('ok' in outcome) {
    log.info('call', { method, code: 'OK', duration_ms, ...outcome.fields });
    callback(null, outcome.ok);
    return;
  }
  const st = outcome.err instanceof StatusError ? outcome.err.status : toStatus(outcome.err, 'input');
  const internal = st.code === Status.INTERNAL;
  log[internal ? 'error' : 'warn']('call', {
    method,
    code: Status[st.code],
    duration_ms,
    details: st.details,
    ...(internal && !(outcome.err instanceof StatusError)
      ? { error: String((outcome.err as Error)?.stack ?? outcome.err) }
      : {}),
  });
  callback({
    code: st.code,
    details: st.details,
    metadata: trailers(st),
  } as Partial<ServiceError> as ServiceError);
}

type Body = (
  call: ServerUnaryCall<unknown, unknown>,
  signal: AbortSignal,
  admit: (bytes: number) => void,
) => Promise<{ ok: unknown; fields?: Record<string, unknown> }>;

/** Runs `body` under the call's deadline and byte budget, and answers with its outcome. */
function unary(d: ServiceDeps, method: string, body: Body): Handler {
  return async (call, callback) => {
    const started = performance.now();
    const ctx = d.admission.callSignal(call);
    let giveBack = () => {};
    try {
      const outcome = await body(call, ctx.signal, (n) => (giveBack = d.admission.admitBytes(n)));
      finish(d.log, method, started, callback, outcome);
    } catch (e) {
      finish(d.log, method, started, callback, { err: e });
    } finally {
      giveBack();
      ctx.dispose();
    }
  };
}

/**
 * The `opk.signer.v1.Signer` handlers: each maps a request to `signStatement` on the pool, and
 * its outcome to a response or a status from the error catalogue.
 */
export function signerService(
  d: ServiceDeps,
): Record<'SignStatement' | 'SignStatements' | 'GetInfo', Handler> {
  const { pool, admission } = d;
  return {
    SignStatement: unary(d, 'SignStatement', async (call, signal, admit) => {
      const p = admission.precondition();
      const req = admission.statement(call.request, 'the request');
      admit(req.statement.length);
      const r = await signOne(pool, p, req, signal);
      return {
        ok: response(r),
        fields: {
          statement_bytes: req.statement.length,
          predicate_type: r.predicateType,
          media_type: r.mediaType,
        },
      };
    }),

    SignStatements: unary(d, 'SignStatements', async (call, signal, admit) => {
      const p = admission.precondition();
      const reqs = admission.batch(call.request);
      const bytes = reqs.reduce((n, r) => n + r.statement.length, 0);
      admit(bytes);
      // The first failure aborts the rest: the caller gets all envelopes or a status, never part.
      const results = await allOrNothing(
        reqs,
        d.batchParallelism,
        async (req, i, batchSignal) => {
          try {
            return await signOne(pool, p, req, batchSignal);
          } catch (e) {
            const st = e instanceof StatusError ? e.status : toStatus(e, 'input');
            throw new StatusError({ ...st, details: `statement ${i}: ${st.details}` });
          }
        },
        signal,
      );
      return {
        ok: { results: results.map(response) },
        fields: { statements: reqs.length, statement_bytes: bytes },
      };
    }),

    GetInfo: (_call, callback) => {
      callback(null, {
        provider: d.provider?.name ?? '',
        issuer: d.provider?.issuer ?? '',
        pk_token_format: d.format,
        version: VERSION,
        commit_type: d.provider?.commitType ?? '',
        max_statement_bytes: String(admission.limits.maxStatementBytes),
      });
    },
  };
}

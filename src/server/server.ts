import { performance } from 'node:perf_hooks';
import {
  ResponderBuilder,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as Status,
  type ServerInterceptor,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { OpkError } from '../errors.js';
import type { IdTokenSource, PkTokenFormat } from '../pktoken/mint.js';
import type { SignedStatement } from '../signer/sign.js';
import { VERSION } from '../version.js';
import { HealthService } from './health.js';
import { Limiter } from './limiter.js';
import { grpcAddress, parseListen, prepareUnixSocket, removeUnixSocket, secureUnixSocket } from './listen.js';
import { silentLogger } from './log.js';
import {
  HEALTH_SERVICE,
  SIGNER_SERVICE,
  isUndecodable,
  loadDefinitions,
  serviceDefinition,
} from './proto.js';
import { createStatementSigner, type StatementSigner } from './signers.js';
import {
  CallAbort,
  CANCELLED,
  DEADLINE,
  DRAINING,
  NO_PROVIDER,
  toStatus,
  type CallStatus,
  type Phase,
} from './status.js';
import type { Logger, SignerProvider } from './types.js';

/** BuildKit caps each attestation at 40 MiB (exporter/attestation/make.go maxAttestationBytes). */
export const MAX_STATEMENT_BYTES = 40 * 1024 * 1024;

export interface TlsFiles {
  /** PEM server certificate chain and key. */
  cert: Buffer;
  key: Buffer;
  /** PEM CA bundle that client certificates must chain to; client certificates are required. */
  clientCa: Buffer;
}

export interface SignerServerOptions {
  /** `unix:///path.sock` or `tcp://127.0.0.1:PORT`. */
  listen: string;
  /** undefined: the server runs, and signing calls fail with FAILED_PRECONDITION. */
  provider: SignerProvider | undefined;
  /** RFC 3161 timestamp authority URL: every signature is timestamped there. */
  tsa?: string;
  /** Group id that may use the unix socket (mode 0660 instead of 0600). */
  socketGroup?: number;
  /** Required for TCP off loopback. */
  tls?: TlsFiles;
  format?: PkTokenFormat;
  /** Statements signed at once (each holds one token request). Default 32. */
  maxConcurrent?: number;
  /** Statements waiting for a slot before new ones get RESOURCE_EXHAUSTED. Default 1024. */
  maxQueued?: number;
  /** Parallel token requests within one SignStatements call. Default 8. */
  batchParallelism?: number;
  /** Statements per SignStatements call. Default 256. */
  maxBatchStatements?: number;
  /** Server-side deadline per call; an earlier client deadline wins. Default 60 s. */
  requestTimeoutMs?: number;
  maxStatementBytes?: number;
  /** Largest request message (a SignStatements batch). Default 256 MiB. */
  maxMessageBytes?: number;
  /**
   * Statement bytes held by accepted calls at once (queued or signing). Default 1 GiB. The
   * statement count bounds alone would let 1024 queued 40 MiB statements hold 40 GiB.
   */
  maxInflightBytes?: number;
  /** Worker threads for the GQ proof: 'auto' (one per core when built), or a number (0 = inline). */
  signingThreads?: number | 'auto';
  /** How long drain() waits for in-flight calls before cutting them. Default 30 s. */
  drainTimeoutMs?: number;
  logger?: Logger;
}

export interface SignerServer {
  /** `unix:///path.sock` or `tcp://HOST:PORT` with the bound port. */
  address: string;
  /** The target a gRPC client dials (`unix:///path.sock` or `HOST:PORT`). */
  target: string;
  readonly draining: boolean;
  /** Refuses new calls, lets accepted ones finish, then stops. Resolves when stopped. */
  drain(): Promise<void>;
  /** Stops at once, cutting in-flight calls. */
  close(): Promise<void>;
}

interface SignRequest {
  statement: Buffer;
  payload_type: string;
}

/**
 * grpc-js answers a unary call whose stream ends before one whole message arrived (a truncated
 * frame, or none at all) with UNIMPLEMENTED "no request message", which sends people looking
 * for a missing method. It is a malformed request: INVALID_ARGUMENT.
 */
const truncatedRequest: ServerInterceptor = (method, call) => {
  let received = false;
  const listener = new ServerListenerBuilder()
    .withOnReceiveMessage((message, next) => {
      received = true;
      next(message);
    })
    .withOnReceiveHalfClose((next) => {
      if (!received && !method.requestStream) {
        call.sendStatus({
          code: Status.INVALID_ARGUMENT,
          details: 'the request ended before one complete message arrived (truncated or empty body)',
        });
        return;
      }
      next();
    })
    .build();
  return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
};

class StatusError extends Error {
  constructor(readonly status: CallStatus) {
    super(status.details);
  }
}

/**
 * Transport only: limits, deadlines, status mapping, health, reflection and drain. Signing is
 * the library's `signStatement`, run by a StatementSigner.
 */
export async function startSignerServer(opts: SignerServerOptions): Promise<SignerServer> {
  const spec = parseListen(opts.listen);
  if (spec.kind === 'tcp' && !spec.loopback && !opts.tls) {
    throw new OpkError(
      'TLS_REQUIRED',
      `listening on ${spec.host} (not loopback) requires TLS with client certificates (--tls-cert, --tls-key, --tls-client-ca)`,
    );
  }
  const log = opts.logger ?? silentLogger;
  const provider = opts.provider;
  const format = opts.format ?? '2023';
  const maxStatementBytes = opts.maxStatementBytes ?? MAX_STATEMENT_BYTES;
  const maxBatch = opts.maxBatchStatements ?? 256;
  const batchParallelism = Math.max(1, opts.batchParallelism ?? 8);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  const limiter = new Limiter(opts.maxConcurrent ?? 32, opts.maxQueued ?? 1024);
  const maxInflightBytes = opts.maxInflightBytes ?? 1024 * 1024 * 1024;
  let inflightBytes = 0;
  /** Admits a call's statements against the byte budget; the returned function gives them back. */
  function admitBytes(n: number): () => void {
    if (inflightBytes + n > maxInflightBytes) {
      throw new StatusError({
        code: Status.RESOURCE_EXHAUSTED,
        details: `signer is holding ${inflightBytes} statement bytes (limit ${maxInflightBytes}); retry with backoff`,
      });
    }
    inflightBytes += n;
    let done = false;
    return () => {
      if (!done) inflightBytes -= n;
      done = true;
    };
  }
  const signer: StatementSigner = createStatementSigner(
    { format, commitType: provider?.commitType ?? 'aud', ...(opts.tsa ? { tsa: opts.tsa } : {}) },
    opts.signingThreads ?? 'auto',
  );
  const health = new HealthService();
  let draining = false;

  const pkg = loadDefinitions();
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes ?? 256 * 1024 * 1024,
    'grpc.max_send_message_length': -1,
    interceptors: [truncatedRequest],
  });

  /** One AbortSignal per call: the earlier of the client's deadline and ours, or cancellation. */
  function callSignal(call: ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; dispose(): void } {
    const ac = new AbortController();
    const clientDeadline = call.getDeadline();
    const clientMs = clientDeadline instanceof Date ? clientDeadline.getTime() : Number(clientDeadline);
    const ms = Math.max(
      0,
      Math.min(requestTimeoutMs, Number.isFinite(clientMs) ? clientMs - Date.now() : Infinity),
    );
    const timer = setTimeout(
      () =>
        ac.abort(
          new CallAbort(
            DEADLINE,
            `signing did not finish within the ${ms} ms deadline (waiting for the identity provider or a free signing slot)`,
          ),
        ),
      ms,
    );
    const onCancel = () => ac.abort(new CallAbort(CANCELLED, 'the client cancelled the call'));
    call.on('cancelled', onCancel);
    return {
      signal: ac.signal,
      dispose: () => {
        clearTimeout(timer);
        call.removeListener('cancelled', onCancel);
      },
    };
  }

  function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
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

  function checkRequest(req: unknown, what: string): SignRequest {
    if (isUndecodable(req)) {
      throw new StatusError({
        code: Status.INVALID_ARGUMENT,
        details: `${what} is not a valid opk.signer.v1.SignStatementRequest message`,
      });
    }
    const r = req as SignRequest;
    if (r.statement.length === 0)
      throw new StatusError({ code: Status.INVALID_ARGUMENT, details: `${what} has an empty statement` });
    if (r.statement.length > maxStatementBytes) {
      throw new StatusError({
        code: Status.RESOURCE_EXHAUSTED,
        details: `${what} is ${r.statement.length} bytes; statements are limited to ${maxStatementBytes} bytes (BuildKit's per-attestation cap)`,
      });
    }
    return r;
  }

  function precondition(): SignerProvider {
    if (draining)
      throw new StatusError(
        toStatus(new CallAbort(DRAINING, 'the signer is shutting down; retry on another instance'), 'input'),
      );
    if (!provider) {
      throw new StatusError(
        toStatus(
          new CallAbort(
            NO_PROVIDER,
            'no identity provider is configured: run the signer with ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub Actions, permissions id-token: write) or another provider',
          ),
          'input',
        ),
      );
    }
    return provider;
  }

  /** One statement under one permit; failures come out as StatusError. */
  async function signOne(p: SignerProvider, req: SignRequest, signal: AbortSignal): Promise<SignedStatement> {
    let phase: Phase = 'input';
    const getIdToken: IdTokenSource = async (commitment) => {
      phase = 'token';
      const t = await p.getIdToken(commitment, { signal });
      phase = 'proof';
      return t;
    };
    try {
      const release = await limiter.acquire(signal);
      const work = signer.sign({ statement: req.statement, payloadType: req.payload_type }, getIdToken);
      // The permit follows the work, not the call: a signature whose caller gave up still holds
      // its slot (and its worker thread) until it settles, so abandoned work cannot pile up.
      work.then(release, release);
      return await abortable(work, signal);
    } catch (e) {
      throw new StatusError(toStatus(e, phase));
    }
  }

  const response = (r: SignedStatement) => ({
    envelope: Buffer.from(r.envelope, 'utf8'),
    media_type: r.mediaType,
    predicate_type: r.predicateType,
    op_key_id: r.opKey.kid ?? '',
    op_key_thumbprint: r.opKey.jkt,
  });

  function finish(
    method: string,
    started: number,
    callback: sendUnaryData<unknown>,
    outcome: { ok: unknown; fields?: Record<string, unknown> } | { err: unknown },
  ): void {
    const duration_ms = Math.round((performance.now() - started) * 100) / 100;
    if ('ok' in outcome) {
      log.info('call', { method, code: 'OK', duration_ms, ...outcome.fields });
      callback(null, outcome.ok);
      return;
    }
    const st = outcome.err instanceof StatusError ? outcome.err.status : toStatus(outcome.err, 'input');
    const codeName = Status[st.code];
    const level = st.code === Status.INTERNAL ? 'error' : 'warn';
    log[level]('call', {
      method,
      code: codeName,
      duration_ms,
      details: st.details,
      ...(st.code === Status.INTERNAL && !(outcome.err instanceof StatusError)
        ? { error: String((outcome.err as Error)?.stack ?? outcome.err) }
        : {}),
    });
    callback({ code: st.code, details: st.details } as Partial<ServiceError> as ServiceError);
  }

  const handlers = {
    SignStatement: async (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = performance.now();
      const ctx = callSignal(call);
      let giveBack = () => {};
      try {
        const p = precondition();
        const req = checkRequest(call.request, 'the request');
        giveBack = admitBytes(req.statement.length);
        const r = await signOne(p, req, ctx.signal);
        finish('SignStatement', started, callback, {
          ok: response(r),
          fields: {
            statement_bytes: req.statement.length,
            predicate_type: r.predicateType,
            media_type: r.mediaType,
          },
        });
      } catch (e) {
        finish('SignStatement', started, callback, { err: e });
      } finally {
        giveBack();
        ctx.dispose();
      }
    },

    SignStatements: async (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = performance.now();
      const ctx = callSignal(call);
      // The first failure aborts the rest: the caller gets all envelopes or a status, never part.
      const batch = new AbortController();
      const onOuterAbort = () => batch.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onOuterAbort, { once: true });
      let giveBack = () => {};
      try {
        const p = precondition();
        if (isUndecodable(call.request)) {
          throw new StatusError({
            code: Status.INVALID_ARGUMENT,
            details: 'the request is not a valid opk.signer.v1.SignStatementsRequest message',
          });
        }
        const items = (call.request as { statements: unknown[] }).statements;
        if (items.length === 0)
          throw new StatusError({ code: Status.INVALID_ARGUMENT, details: 'the request has no statements' });
        if (items.length > maxBatch) {
          throw new StatusError({
            code: Status.INVALID_ARGUMENT,
            details: `the request has ${items.length} statements; at most ${maxBatch} per call`,
          });
        }
        const reqs = items.map((r, i) => checkRequest(r, `statement ${i}`));
        giveBack = admitBytes(reqs.reduce((n, r) => n + r.statement.length, 0));
        const results: SignedStatement[] = new Array<SignedStatement>(reqs.length);
        let next = 0;
        const worker = async () => {
          while (next < reqs.length && !batch.signal.aborted) {
            const i = next++;
            try {
              results[i] = await signOne(p, reqs[i]!, batch.signal);
            } catch (e) {
              const st = e instanceof StatusError ? e.status : toStatus(e, 'input');
              const failed = new StatusError({ code: st.code, details: `statement ${i}: ${st.details}` });
              if (!batch.signal.aborted) batch.abort(failed);
              throw failed;
            }
          }
        };
        const settled = await Promise.allSettled(
          Array.from({ length: Math.min(batchParallelism, reqs.length) }, worker),
        );
        if (batch.signal.aborted) {
          const reason: unknown = batch.signal.reason;
          throw reason instanceof StatusError ? reason : new StatusError(toStatus(reason, 'input'));
        }
        const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (rejected) throw rejected.reason;
        finish('SignStatements', started, callback, {
          ok: { results: results.map(response) },
          fields: {
            statements: reqs.length,
            statement_bytes: reqs.reduce((n, r) => n + r.statement.length, 0),
          },
        });
      } catch (e) {
        finish('SignStatements', started, callback, { err: e });
      } finally {
        giveBack();
        ctx.signal.removeEventListener('abort', onOuterAbort);
        ctx.dispose();
      }
    },

    GetInfo: (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      callback(null, {
        provider: provider?.name ?? '',
        issuer: provider?.issuer ?? '',
        pk_token_format: format,
        version: VERSION,
        commit_type: provider?.commitType ?? '',
        max_statement_bytes: String(maxStatementBytes),
      });
    },
  };

  server.addService(serviceDefinition(pkg, SIGNER_SERVICE), handlers);
  server.addService(serviceDefinition(pkg, HEALTH_SERVICE), health.handlers);
  new ReflectionService(pkg).addToServer(server);
  health.set('', 'SERVING');
  health.set(SIGNER_SERVICE, provider ? 'SERVING' : 'NOT_SERVING');

  const creds = opts.tls
    ? ServerCredentials.createSsl(
        opts.tls.clientCa,
        [{ cert_chain: opts.tls.cert, private_key: opts.tls.key }],
        true,
      )
    : ServerCredentials.createInsecure();

  if (spec.kind === 'unix') await prepareUnixSocket(spec.path);
  let port: number;
  // The socket file is created by bind(2) with the process umask: make it owner-only from its
  // first instant, so no other user can connect before the chmod below.
  const oldUmask = spec.kind === 'unix' ? process.umask(0o177) : undefined;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcAddress(spec), creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
  } catch (e) {
    await signer.close();
    throw new OpkError('LISTEN_FAILED', `cannot listen on ${opts.listen}: ${(e as Error).message}`);
  } finally {
    if (oldUmask !== undefined) process.umask(oldUmask);
  }
  if (spec.kind === 'unix') await secureUnixSocket(spec.path, opts.socketGroup);

  const address = spec.kind === 'unix' ? `unix://${spec.path}` : `tcp://${grpcAddress(spec, port)}`;
  log.info('listening', {
    address,
    tls: Boolean(opts.tls),
    provider: provider?.name ?? null,
    issuer: provider?.issuer ?? null,
    pk_token_format: format,
    signing: signer.kind,
    signing_threads: signer.threads,
    max_concurrent: limiter.maxActive,
    max_queued: limiter.maxQueued,
    version: VERSION,
  });

  let stopped: Promise<void> | undefined;
  const cleanup = async () => {
    await signer.close();
    if (spec.kind === 'unix') await removeUnixSocket(spec.path);
  };

  return {
    address,
    target: grpcAddress(spec, port),
    get draining() {
      return draining;
    },
    drain() {
      stopped ??= (async () => {
        draining = true;
        health.set('', 'NOT_SERVING');
        health.set(SIGNER_SERVICE, 'NOT_SERVING');
        health.endWatches();
        log.info('draining', { in_flight: limiter.stats.active, queued: limiter.stats.queued });
        const graceMs = opts.drainTimeoutMs ?? 30_000;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            log.warn('drain timeout: cutting remaining calls', { grace_ms: graceMs });
            server.forceShutdown();
            resolve();
          }, graceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        await cleanup();
        log.info('stopped');
      })();
      return stopped;
    },
    close() {
      stopped ??= (async () => {
        draining = true;
        health.endWatches();
        server.forceShutdown();
        await cleanup();
      })();
      return stopped;
    },
  };
}

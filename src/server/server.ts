import {
  ResponderBuilder,
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  ServerListenerBuilder,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { OpkError } from '../errors.js';
import { createSigningPool, type SigningPool } from '../signer/pool.js';
import { VERSION } from '../version.js';
import { Admission, MAX_STATEMENT_BYTES } from './admission.js';
import { HealthService } from './health.js';
import {
  grpcAddress,
  parseListen,
  prepareUnixSocket,
  removeUnixSocket,
  secureUnixSocket,
  type ListenSpec,
} from './listen.js';
import { silentLogger } from './log.js';
import { HEALTH_SERVICE, SIGNER_SERVICE, loadDefinitions, serviceDefinition } from './proto.js';
import { signerService, type ServiceDeps } from './service.js';
import { statusOf, trailers } from './status.js';
import type { Logger, SignerServer, SignerServerOptions, TlsFiles } from './types.js';

export { MAX_STATEMENT_BYTES } from './admission.js';
export type { SignerServer, SignerServerOptions, TlsFiles } from './types.js';

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
        const st = statusOf(
          'REQUEST_INVALID',
          'the request ended before one complete message arrived (truncated or empty body)',
        );
        call.sendStatus({ code: st.code, details: st.details, metadata: trailers(st) });
        return;
      }
      next();
    })
    .build();
  return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
};

function credentialsFor(tls: TlsFiles | undefined): ServerCredentials {
  return tls
    ? ServerCredentials.createSsl(tls.clientCa, [{ cert_chain: tls.cert, private_key: tls.key }], true)
    : ServerCredentials.createInsecure();
}

/** Binds; a unix socket is owner-only from its first instant, then opened to `socketGroup`. */
async function bind(server: Server, spec: ListenSpec, opts: SignerServerOptions): Promise<number> {
  if (spec.kind === 'unix') await prepareUnixSocket(spec.path);
  // bind(2) creates the socket file with the process umask: no other user may connect before
  // the chmod in secureUnixSocket.
  const oldUmask = spec.kind === 'unix' ? process.umask(0o177) : undefined;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcAddress(spec), credentialsFor(opts.tls), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  } catch (e) {
    throw new OpkError('LISTEN_FAILED', `cannot listen on ${opts.listen}: ${(e as Error).message}`);
  } finally {
    if (oldUmask !== undefined) process.umask(oldUmask);
  }
  if (spec.kind === 'unix') await secureUnixSocket(spec.path, opts.socketGroup);
  return port;
}

/** The signing side of the sidecar, built from its options: admission control and the pool. */
function signingParts(opts: SignerServerOptions): { admission: Admission; pool: SigningPool } {
  const admission = new Admission(
    {
      maxStatementBytes: opts.maxStatementBytes ?? MAX_STATEMENT_BYTES,
      maxBatchStatements: opts.maxBatchStatements ?? 256,
      maxInflightBytes: opts.maxInflightBytes ?? 1024 * 1024 * 1024,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
    },
    opts.provider,
  );
  const pool = createSigningPool({
    format: opts.format ?? '2023',
    commitType: opts.provider?.commitType ?? 'aud',
    ...(opts.tsa ? { tsa: opts.tsa } : {}),
    threads: opts.signingThreads ?? 'auto',
    maxActive: opts.maxConcurrent ?? 32,
    maxQueued: opts.maxQueued ?? 1024,
  });
  return { admission, pool };
}

/** The gRPC server with the signer, health and reflection services. */
function grpcServer(opts: SignerServerOptions, deps: ServiceDeps, health: HealthService): Server {
  const pkg = loadDefinitions();
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes ?? 256 * 1024 * 1024,
    'grpc.max_send_message_length': -1,
    interceptors: [truncatedRequest],
  });
  server.addService(serviceDefinition(pkg, SIGNER_SERVICE), signerService(deps));
  server.addService(serviceDefinition(pkg, HEALTH_SERVICE), health.handlers);
  new ReflectionService(pkg).addToServer(server);
  // Without a provider every signing call fails: say so to any health probe, overall too.
  const serving = opts.provider ? 'SERVING' : 'NOT_SERVING';
  health.set('', serving);
  health.set(SIGNER_SERVICE, serving);
  return server;
}

/**
 * The sidecar's transport: gRPC wiring, listen, health, reflection and drain. What a call does
 * is the service's (service.ts); which calls are taken on is admission control (admission.ts).
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
  const { provider } = opts;
  const format = opts.format ?? '2023';
  const { admission, pool } = signingParts(opts);
  const health = new HealthService();
  const batchParallelism = Math.max(1, opts.batchParallelism ?? 8);
  const server = grpcServer(opts, { pool, admission, provider, format, batchParallelism, log }, health);
  let port: number;
  try {
    port = await bind(server, spec, opts);
  } catch (e) {
    await pool.close();
    throw e;
  }
  const address = spec.kind === 'unix' ? `unix://${spec.path}` : `tcp://${grpcAddress(spec, port)}`;
  log.info('listening', {
    address,
    tls: Boolean(opts.tls),
    provider: provider?.name ?? null,
    issuer: provider?.issuer ?? null,
    pk_token_format: format,
    signing: pool.kind,
    signing_threads: pool.threads,
    max_concurrent: pool.maxActive,
    max_queued: pool.maxQueued,
    version: VERSION,
  });
  const cleanup = async () => {
    await pool.close();
    if (spec.kind === 'unix') await removeUnixSocket(spec.path);
  };
  return lifecycle({
    address,
    target: grpcAddress(spec, port),
    server,
    admission,
    pool,
    health,
    log,
    cleanup,
    graceMs: opts.drainTimeoutMs ?? 30_000,
  });
}

/** The running sidecar: drain() and close() each run once, whichever comes first wins. */
function lifecycle(c: {
  address: string;
  target: string;
  server: Server;
  admission: Admission;
  pool: SigningPool;
  health: HealthService;
  log: Logger;
  cleanup: () => Promise<void>;
  graceMs: number;
}): SignerServer {
  let stopped: Promise<void> | undefined;
  return {
    address: c.address,
    target: c.target,
    get draining() {
      return c.admission.draining;
    },
    drain() {
      stopped ??= (async () => {
        c.admission.draining = true;
        c.health.set('', 'NOT_SERVING');
        c.health.set(SIGNER_SERVICE, 'NOT_SERVING');
        c.health.endWatches();
        c.log.info('draining', { in_flight: c.pool.stats.active, queued: c.pool.stats.queued });
        await shutdown(c.server, c.graceMs, () =>
          c.log.warn('drain timeout: cutting remaining calls', { grace_ms: c.graceMs }),
        );
        await c.cleanup();
        c.log.info('stopped');
      })();
      return stopped;
    },
    close() {
      stopped ??= (async () => {
        c.admission.draining = true;
        c.health.endWatches();
        c.server.forceShutdown();
        await c.cleanup();
      })();
      return stopped;
    },
  };
}
/** Lets accepted calls finish for up to `graceMs`, then cuts the rest. */
function shutdown(server: Server, graceMs: number, onTimeout: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      onTimeout();
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

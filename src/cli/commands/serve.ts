import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { createJsonLogger, type LogLevel } from '../../server/log.js';
import { DEFAULT_LISTEN, parseListen } from '../../server/listen.js';
import { startSignerServer } from '../../server/server.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { parse, type CliIo } from '../io.js';
import { durationFlag, formatFlag, intFlag, resolveGroup } from '../flags.js';
import { tsaFlag } from '../tsa-flags.js';

export const summary = 'run the signing sidecar (gRPC opk.signer.v1.Signer on a unix socket or loopback TCP)';

export const usage = `usage: opk-signer serve [--listen unix:///run/opk-signer/signer.sock | tcp://127.0.0.1:PORT] [--socket-group GROUP]
  [--tls-cert F --tls-key F --tls-client-ca F] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--format 2023|current] [--max-concurrent N] [--max-queued N] [--batch-parallelism N] [--timeout 60s]
  [--drain-timeout 30s] [--signing-threads auto|N] [--log-level debug|info|warn|error] [--tsa URL]`;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    args,
    {
      listen: { type: 'string' },
      'socket-group': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-ca': { type: 'string' },
      ...providerOptions,
      format: { type: 'string' },
      tsa: { type: 'string' },
      'max-concurrent': { type: 'string' },
      'max-queued': { type: 'string' },
      'batch-parallelism': { type: 'string' },
      timeout: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'signing-threads': { type: 'string' },
      'log-level': { type: 'string' },
    },
    false,
  );
  const listen = values.listen ?? DEFAULT_LISTEN;
  const spec = parseListen(listen);
  if (spec.kind === 'tcp' && !spec.loopback && !values['tls-cert']) {
    throw new UsageError(
      'USAGE',
      `--listen ${listen} is not loopback: TCP off loopback requires --tls-cert, --tls-key and --tls-client-ca`,
    );
  }
  const level = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level))
    throw new UsageError('USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const log = createJsonLogger(io.stderr, level as LogLevel, { service: 'opk-signer' });
  const tlsFlags = [values['tls-cert'], values['tls-key'], values['tls-client-ca']];
  if (tlsFlags.some((f) => f !== undefined) && !tlsFlags.every((f) => f !== undefined)) {
    throw new UsageError(
      'USAGE',
      '--tls-cert, --tls-key and --tls-client-ca go together (TLS always requires client certificates)',
    );
  }
  const readPem = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (e) {
      throw new UsageError(
        'USAGE',
        `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const tls = values['tls-cert']
    ? {
        cert: await readPem(values['tls-cert'], 'TLS certificate'),
        key: await readPem(values['tls-key']!, 'TLS key'),
        clientCa: await readPem(values['tls-client-ca']!, 'client CA'),
      }
    : undefined;
  const threads = values['signing-threads'];
  const provider = providerFromFlags(values, io);
  // Signal handlers go in before the socket is bound: a SIGTERM during start-up must still end
  // in a drain and exit 0, not leave a stale socket behind.
  let stopRequested: NodeJS.Signals | undefined;
  let onStop: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    stopRequested = signal;
    onStop?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const server = await startSignerServer({
    listen,
    provider,
    ...(values['socket-group'] !== undefined
      ? { socketGroup: await resolveGroup(values['socket-group']) }
      : {}),
    ...(tls ? { tls } : {}),
    format: formatFlag(values.format),
    ...(values.tsa !== undefined ? { tsa: tsaFlag(values.tsa) } : {}),
    ...(values['max-concurrent'] !== undefined
      ? { maxConcurrent: intFlag(values['max-concurrent'], '--max-concurrent', 1) }
      : {}),
    ...(values['max-queued'] !== undefined
      ? { maxQueued: intFlag(values['max-queued'], '--max-queued', 0) }
      : {}),
    ...(values['batch-parallelism'] !== undefined
      ? { batchParallelism: intFlag(values['batch-parallelism'], '--batch-parallelism', 1) }
      : {}),
    ...(values.timeout !== undefined ? { requestTimeoutMs: durationFlag(values.timeout, '--timeout') } : {}),
    ...(values['drain-timeout'] !== undefined
      ? { drainTimeoutMs: durationFlag(values['drain-timeout'], '--drain-timeout') }
      : {}),
    ...(threads !== undefined
      ? { signingThreads: threads === 'auto' ? 'auto' : intFlag(threads, '--signing-threads', 0) }
      : {}),
    logger: log,
  });
  if (!provider) {
    log.warn(
      'no identity provider configured: signing calls fail with FAILED_PRECONDITION until the signer is restarted with ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN set',
    );
  }

  // SIGTERM (docker stop, kubelet) and SIGINT drain: accepted calls finish, new ones are refused.
  await new Promise<void>((resolve) => {
    onStop = () => {
      log.info('signal', { signal: stopRequested });
      void server.drain().then(resolve);
    };
    if (stopRequested) onStop();
  });
  // Keep-alive sockets to the OP may hold the event loop for seconds; a drained daemon exits now.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

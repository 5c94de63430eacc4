import { readFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { DEFAULT_LISTEN, parseListen } from '../../server/listen.js';
import { createJsonLogger, type LogLevel } from '../../server/log.js';
import type { SignerServerOptions } from '../../server/server.js';
import { durationFlag, formatFlag, intFlag, resolveGroup } from '../flags.js';
import { parse, type CliIo } from '../io.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { tsaFlag } from './tsa.js';

/** `serve`'s flags, help text and their mapping onto the sidecar's options, beside the command. */
export const SERVE_USAGE = `usage: opk-signer serve [--listen unix:///run/opk-signer/signer.sock | tcp://127.0.0.1:PORT] [--socket-group GROUP]
  [--tls-cert F --tls-key F --tls-client-ca F] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--format 2023|current] [--max-concurrent N] [--max-queued N] [--batch-parallelism N] [--timeout 60s]
  [--drain-timeout 30s] [--signing-threads auto|N] [--log-level debug|info|warn|error] [--tsa URL]`;

const serveOptions = {
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
} as const;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new UsageError(
      'USAGE',
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** TLS always comes with client certificates; off loopback it is required. */
function tlsFlags(v: { listen?: string; 'tls-cert'?: string; 'tls-key'?: string; 'tls-client-ca'?: string }) {
  const listen = v.listen ?? DEFAULT_LISTEN;
  const spec = parseListen(listen);
  if (spec.kind === 'tcp' && !spec.loopback && !v['tls-cert'])
    throw new UsageError(
      'USAGE',
      `--listen ${listen} is not loopback: TCP off loopback requires --tls-cert, --tls-key and --tls-client-ca`,
    );
  return { listen, files: [v['tls-cert'], v['tls-key'], v['tls-client-ca']] };
}

/** The sidecar's options from the flags; the logger's level is checked before anything else runs. */
export async function serveFlags(args: string[], io: CliIo): Promise<SignerServerOptions> {
  const { values: v } = parse(args, serveOptions, false);
  const { listen, files } = tlsFlags(v);
  const level = v['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(level))
    throw new UsageError('USAGE', `--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const logger = createJsonLogger(io.stderr, level as LogLevel, { service: 'opk-signer' });
  if (files.some((f) => f !== undefined) && !files.every((f) => f !== undefined))
    throw new UsageError(
      'USAGE',
      '--tls-cert, --tls-key and --tls-client-ca go together (TLS always requires client certificates)',
    );
  const tls = v['tls-cert']
    ? {
        cert: await readPem(v['tls-cert'], 'TLS certificate'),
        key: await readPem(v['tls-key']!, 'TLS key'),
        clientCa: await readPem(v['tls-client-ca']!, 'client CA'),
      }
    : undefined;
  const threads = v['signing-threads'];
  const provider = providerFromFlags(v, io);
  const opts: SignerServerOptions = { listen, provider, format: formatFlag(v.format), logger };
  if (v['socket-group'] !== undefined) opts.socketGroup = await resolveGroup(v['socket-group']);
  if (tls) opts.tls = tls;
  if (v.tsa !== undefined) opts.tsa = tsaFlag(v.tsa);
  const mc = v['max-concurrent'];
  const mq = v['max-queued'];
  const bp = v['batch-parallelism'];
  if (mc !== undefined) opts.maxConcurrent = intFlag(mc, '--max-concurrent', 1);
  if (mq !== undefined) opts.maxQueued = intFlag(mq, '--max-queued', 0);
  if (bp !== undefined) opts.batchParallelism = intFlag(bp, '--batch-parallelism', 1);
  if (v.timeout !== undefined) opts.requestTimeoutMs = durationFlag(v.timeout, '--timeout');
  if (v['drain-timeout'] !== undefined)
    opts.drainTimeoutMs = durationFlag(v['drain-timeout'], '--drain-timeout');
  if (threads !== undefined)
    opts.signingThreads = threads === 'auto' ? 'auto' : intFlag(threads, '--signing-threads', 0);
  return opts;
}

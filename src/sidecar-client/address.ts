// The sidecar's address, in one spelling for both ends: `serve --listen` binds it and
// `attest --signer` dials it.
import { isAbsolute } from 'node:path';
import { UsageError } from '../errors.js';

export const DEFAULT_LISTEN = 'unix:///run/opk-signer/signer.sock';

export type ListenSpec =
  { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; loopback: boolean };

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `unix:///abs/path.sock` or `tcp://HOST:PORT` (port 0 picks a free port). */
export function parseListen(value: string): ListenSpec {
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!isAbsolute(path))
      throw new UsageError(
        'USAGE',
        `--listen ${value}: the socket path must be absolute (unix:///path/signer.sock)`,
      );
    // sun_path is 108 bytes on Linux including the terminating NUL.
    if (Buffer.byteLength(path) > 107)
      throw new UsageError('USAGE', `--listen ${value}: unix socket paths are limited to 107 bytes`);
    return { kind: 'unix', path };
  }
  if (value.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new UsageError('USAGE', `--listen ${value} is not tcp://HOST:PORT`);
    }
    if (url.pathname !== '' && url.pathname !== '/')
      throw new UsageError('USAGE', `--listen ${value}: no path after HOST:PORT`);
    if (url.port === '' && !/:0\/?$/.test(value))
      throw new UsageError('USAGE', `--listen ${value}: a port is required`);
    const port = url.port === '' ? 0 : Number(url.port);
    return { kind: 'tcp', host: url.hostname, port, loopback: isLoopback(url.hostname) };
  }
  throw new UsageError('USAGE', `--listen ${value}: use unix:///path/signer.sock or tcp://127.0.0.1:PORT`);
}

/** The address grpc-js binds and clients dial. */
export function grpcAddress(spec: ListenSpec, port?: number): string {
  if (spec.kind === 'unix') return `unix://${spec.path}`;
  const host = spec.host.includes(':') && !spec.host.startsWith('[') ? `[${spec.host}]` : spec.host;
  return `${host}:${port ?? spec.port}`;
}

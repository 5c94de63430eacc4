import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, isAbsolute } from 'node:path';
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

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Makes the socket's directory (search-only for others: the socket's own mode is the access
 * control) and removes a stale socket left by a crashed run, but never a live one or a file
 * that is not a socket.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o711 });
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket())
    throw new UsageError('USAGE', `${path} exists and is not a socket; refusing to replace it`);
  if (await probe(path)) throw new UsageError('USAGE', `another process is already serving on ${path}`);
  await unlink(path);
}

/** 0600, or 0660 owned by `gid` so one group (e.g. the buildkitd user's) may connect. */
export async function secureUnixSocket(path: string, gid?: number): Promise<void> {
  if (gid !== undefined) {
    await chown(path, -1, gid);
    await chmod(path, 0o660);
  } else {
    await chmod(path, 0o600);
  }
}

export async function removeUnixSocket(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch {
    // Already gone (or never created): nothing to clean.
  }
}

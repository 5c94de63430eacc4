import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';

// The address spelling is shared with the client; the socket file is the server's alone.
export {
  DEFAULT_LISTEN,
  grpcAddress,
  isLoopback,
  parseListen,
  type ListenSpec,
} from '../sidecar-client/address.js';

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

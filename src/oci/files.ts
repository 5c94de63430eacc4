import { constants } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { FormatError } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { OciIoError } from './errors.js';

const LOCK_POLL_MS = 25;

/**
 * Runs `fn` holding a lock file (created O_EXCL, holding our pid): writers of one shared file
 * (an OCI layout's index.json) take turns. After `waitMs` the holder is named and called
 * possibly stale rather than waited for forever.
 */
export async function withFileLock<T>(
  path: string,
  what: string,
  waitMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx', 0o600);
      try {
        await fh.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new OciIoError(
          'OCI_LAYOUT_LOCK',
          `cannot create lock ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      if (Date.now() >= deadline) {
        const holder = await readFile(path, 'utf8').catch(() => '');
        throw new OciIoError(
          'OCI_LAYOUT_LOCKED',
          `${what} is locked by another writer (${path}${holder ? `: pid ${holder.trim()}` : ''}) ` +
            `for over ${waitMs / 1000}s; if no other process is writing this layout, the lock is stale: remove it and retry`,
        );
      }
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}

export async function readOrIo(path: string, what: string, maxBytes: number): Promise<Uint8Array> {
  return readFileCapped(path, maxBytes, `cannot read ${what}`, '');
}

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (no effect on
// regular files). O_NOFOLLOW: a symlink (to /dev/zero, to a file outside the layout) is refused.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Reads a file of a layout, never more than `maxBytes` (+1 to see it is over): `stat` sizes
 * cannot be trusted (a device or FIFO says 0 and never ends), so only a regular file is read,
 * and the read itself is bounded. A symlink, FIFO or device is refused (`OCI_READ_FAILED`).
 */
export async function readFileCapped(
  path: string,
  maxBytes: number,
  what: string,
  missing: string,
): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ELOOP (Linux) / EMLINK (FreeBSD): the last component is a symlink under O_NOFOLLOW.
    if (code === 'ELOOP' || code === 'EMLINK')
      throw new OciIoError(
        'OCI_READ_FAILED',
        `${what}: is a symbolic link; layout files must be regular files`,
      );
    throw fileError(e, what, missing);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new OciIoError('OCI_READ_FAILED', `${what}: is not a regular file (a FIFO, device or directory)`);
    if (st.size > maxBytes)
      throw new FormatError('OCI_TOO_LARGE', `${what} is ${st.size} bytes, over the ${maxBytes}-byte cap`);
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw new FormatError('OCI_TOO_LARGE', `${what} is over the ${maxBytes}-byte cap`);
        // The file grew since stat: keep reading, still bounded by the cap.
        return await readRest(fh, buf, n, maxBytes, what);
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) return buf.subarray(0, n);
      n += bytesRead;
    }
  } catch (e) {
    if (e instanceof OciIoError || e instanceof FormatError) throw e;
    throw fileError(e, what, missing);
  } finally {
    await fh.close().catch(() => {});
  }
}

async function readRest(
  fh: import('node:fs/promises').FileHandle,
  head: Buffer,
  at: number,
  maxBytes: number,
  what: string,
): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(maxBytes + 1);
  head.copy(buf, 0, 0, at);
  let n = at;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) return buf.subarray(0, n);
    n += bytesRead;
  }
  throw new FormatError('OCI_TOO_LARGE', `${what} is over the ${maxBytes}-byte cap`);
}

/**
 * Only a file that is not there is "not found": running out of descriptors (EMFILE), permissions
 * or a disk error are I/O failures of their own (`OCI_READ_FAILED`), never a missing object.
 */
export function fileError(e: unknown, what: string, missing: string): OciIoError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new OciIoError('OCI_NOT_FOUND', `${what}${missing ? ` ${missing}` : ''} (${code})`);
  return new OciIoError('OCI_READ_FAILED', `${what}: read failed (${code})`);
}

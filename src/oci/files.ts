import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
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

export async function readOrIo(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw fileError(e, `cannot read ${what}`, '');
  }
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

/**
 * Writes `path` atomically and safely in a shared directory: a temp file with a random name,
 * created O_CREAT|O_EXCL (never following a planted symlink), fsynced, renamed over `path`,
 * then the directory fsynced where the platform allows. The temp file is removed on failure.
 */
export async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(12).toString('hex')}`;
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  try {
    const d = await open(dirname(path), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directories cannot be opened or fsynced on every platform (Windows): best effort.
  }
}

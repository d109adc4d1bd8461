// Writes a file so that readers see the old file or the whole new one, never half of either: the bytes go to a
// temporary file beside the target, which is synced and renamed over it. A crash or an error in between leaves
// the old file as it was.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Writes `path` through `write(fd)`, atomically. The fd is a new empty file; do not close it. */
export async function writeFileAtomic(path: string, write: (fd: number) => void | Promise<void>): Promise<void> {
  const temp = open(path);
  try {
    await write(temp.fd);
    commit(temp, path);
  } catch (e) {
    abandon(temp);
    throw e;
  }
}

/** writeFileAtomic for a synchronous `write`. */
export function writeFileAtomicSync(path: string, write: (fd: number) => void): void {
  const temp = open(path);
  try {
    const result: unknown = write(temp.fd);
    if (result instanceof Promise) throw new TypeError('writeFileAtomicSync: write returned a Promise; use writeFileAtomic');
    commit(temp, path);
  } catch (e) {
    abandon(temp);
    throw e;
  }
}

interface Temp {
  path: string;
  fd: number;
  closed: boolean;
}

function open(path: string): Temp {
  // Same directory, so that the rename stays on one file system; a random name, so that writers do not collide.
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  return { path: temp, fd: openSync(temp, 'wx'), closed: false };
}

function commit(temp: Temp, path: string): void {
  fsyncSync(temp.fd);
  temp.closed = true;
  closeSync(temp.fd);
  renameSync(temp.path, path);
  syncDirectory(dirname(path));
}

function abandon(temp: Temp): void {
  try {
    if (!temp.closed) closeSync(temp.fd);
  } catch {
    // the error that brought us here is the one to report
  }
  try {
    unlinkSync(temp.path);
  } catch {
    // already renamed, or never created
  }
}

/** Makes the rename itself durable. Some file systems cannot sync a directory; the rename has happened anyway. */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EISDIR/EINVAL/EPERM on such file systems: nothing more can be done
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

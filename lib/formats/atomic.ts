// Writes a file so that readers see the old file or the whole new one, never half of either: the bytes go to a
// temporary file beside the target, which is synced and renamed over it, and the directory is synced so that the
// rename itself is durable. A crash or an error in between leaves the old file as it was.
//
// Replacing a file frees the old one's pages in the page cache, which the kernel does when its last reference
// goes: inside rename() if nothing else holds it (about 20 ms for 100 MB here, as long as writing it). So the old
// file is held open across the rename and closed afterwards on libuv's thread pool, where that work no longer
// delays the caller.
//
// A process killed mid-write leaves its temporary file (`.<name>.<pid>.<hex>.tmp`) behind: the next save into the
// same folder removes those whose process is gone. An I/O error (ENOSPC, EIO, ...) is rethrown naming the target.
import { randomBytes } from 'node:crypto';
import { close, closeSync, constants, fstatSync, fsync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

/** Writes `path` through `write(fd)`, atomically. The fd is a new empty file; do not close it. */
export async function writeFileAtomic(path: string, write: (fd: number) => void | Promise<void>): Promise<void> {
  const temp = open(path);
  try {
    await write(temp.fd);
    await fsyncAsync(temp.fd);
    commit(temp, path);
  } catch (e) {
    abandon(temp);
    throw namingTarget(e, path);
  } finally {
    ours.delete(temp.path);
  }
}

/** writeFileAtomic for a synchronous `write`. */
export function writeFileAtomicSync(path: string, write: (fd: number) => void): void {
  const temp = open(path);
  try {
    const result: unknown = write(temp.fd);
    if (result instanceof Promise) throw new TypeError('writeFileAtomicSync: write returned a Promise; use writeFileAtomic');
    fsyncSync(temp.fd);
    commit(temp, path);
  } catch (e) {
    abandon(temp);
    throw namingTarget(e, path);
  } finally {
    ours.delete(temp.path);
  }
}

interface Temp {
  path: string;
  fd: number;
  closed: boolean;
}

// The temporary files this process has open, so that its own are never taken for a dead writer's.
const ours = new Set<string>();
// The name open() gives: `.<target's name>.<pid>.<12 hex digits>.tmp`.
const TEMP = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function open(path: string): Temp {
  // Same directory, so that the rename stays on one file system; a random name, so that writers do not collide.
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(temp, 'wx');
  } catch (e) {
    throw namingTarget(e, path);
  }
  ours.add(temp);
  removeStale(dirname(path));
  return { path: temp, fd, closed: false };
}

// Removes the temporary files in `dir` that writers killed mid-write left (any target's: a killed save of a file
// that is seldom written, best_model.pt, would otherwise stay until its next save): those of a process that no
// longer exists, and this process's own that it does not have open (its pid was a killed process's before). A live
// process's are kept: it may be writing now. One readdir per save; any failure here is ignored. Only processes on
// this machine (and pid namespace) are seen: a writer on another host sharing the folder (NFS) would look dead.
function removeStale(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const temp = join(dir, name);
    if (pid === process.pid ? ours.has(temp) : alive(pid)) continue;
    try {
      unlinkSync(temp);
    } catch {
      // gone already (another writer cleaned it), or not ours to remove
    }
  }
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;  // not a pid we can ask about: leave it
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';  // EPERM: it exists, as another user's
  }
}

/**
 * An I/O error (a system error code: ENOSPC, EIO, ...) as `<path>: could not write (<its message>)`, with the
 * original as `cause` and its code, errno and syscall kept; any other error (the caller's own) as it was.
 */
function namingTarget(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.code !== 'string' || !/^E[A-Z0-9]+$/.test(err.code)) return e;
  const named = new Error(`${path}: could not write (${err.message})`, { cause: e }) as NodeJS.ErrnoException;
  named.code = err.code;
  if (err.errno !== undefined) named.errno = err.errno;
  if (err.syscall !== undefined) named.syscall = err.syscall;
  named.path = path;
  return named;
}

// The temporary file is synced already.
function commit(temp: Temp, path: string): void {
  temp.closed = true;
  closeSync(temp.fd);
  const old = holdReplaced(path);
  try {
    renameSync(temp.path, path);
  } finally {
    if (old !== null) close(old, () => {});
  }
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

// An fd on the file the rename will replace, when that is a regular file with no other name (so the rename frees
// it); null otherwise. Never a symlink's target, never blocking (a FIFO).
function holdReplaced(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null; // no file there yet, a symlink, or not ours to read: the rename goes on as it would
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.nlink === 1 && stat.size > 0) return fd;
  } catch {
    // fall through
  }
  closeSync(fd);
  return null;
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

// Reads a whole file into memory without ever blocking the event loop, for code that runs after a server has
// started: every call is asynchronous (libuv's thread pool), the file is opened non-blocking and must be a regular
// file (a FIFO, a socket or a device is refused instead of waiting for a writer), and the whole read is bounded by
// a timeout (a stalled network mount fails the promise; the stuck read stays on its pool thread until the kernel
// returns it, and its handle is closed then).
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { LvmtorchError } from '../errors.js';

export interface ReadFileOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Refuse files larger than this (default: the largest Buffer). */
  maxBytes?: number;
}

/** The error of readRegularFile: `code` says which ('ENOTREG', 'ETIMEDOUT', 'EFBIG', or the system's own). */
export class ReadFileError extends LvmtorchError {
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

/** The bytes of the regular file at `path`. */
export function readRegularFile(path: string, opts: ReadFileOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return withTimeout(read(path, opts.maxBytes ?? bufferConstants.MAX_LENGTH), timeoutMs, `${path}: not read within ${timeoutMs} ms (a stalled file system?)`);
}

/**
 * `work`, or a ReadFileError (code ETIMEDOUT) with `message` after `timeoutMs`: for file system calls, which cannot
 * be cancelled once on a pool thread (the work goes on, and its result is dropped).
 */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadFileError(message, 'ETIMEDOUT')), timeoutMs);
  });
  work.catch(() => undefined); // a late failure, after the timeout, is nobody's to handle
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function read(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ReadFileError(`${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, err.code ?? 'EIO', { cause: e });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ReadFileError(`${path}: not a regular file (${kindOf(stat)})`, 'ENOTREG');
    if (stat.size > maxBytes) throw new ReadFileError(`${path}: ${stat.size} bytes, more than the limit of ${maxBytes}`, 'EFBIG');
    const bytes = Buffer.allocUnsafe(stat.size);
    for (let done = 0; done < bytes.length;) {
      const { bytesRead } = await handle.read(bytes, done, bytes.length - done, done);
      if (bytesRead === 0) throw new ReadFileError(`${path}: ended at byte ${done} of ${stat.size} while it was read (it changed?)`, 'EIO');
      done += bytesRead;
    }
    return bytes;
  } catch (e) {
    if (e instanceof ReadFileError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ReadFileError(`${path}: ${err.message}`, err.code ?? 'EIO', { cause: e });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a file';
}

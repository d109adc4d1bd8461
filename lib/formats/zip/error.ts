import { LvmtorchError } from '../../errors.js';

/** A zip archive that cannot be read or written. The message names the file, the entry and what is wrong. */
export class ZipError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_ZIP');
  }
}

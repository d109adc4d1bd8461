/** A zip archive that cannot be read or written. The message names the file, the entry and what is wrong. */
export class ZipError extends Error {
  readonly code = 'ERR_ZIP';
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

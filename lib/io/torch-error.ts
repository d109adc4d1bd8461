// The error of a file that is no torch.save file, or one whose parts disagree (a storage record of the wrong
// size, a big-endian file). Malformed pickles give a PickleError and malformed zips a ZipError instead.

export class TorchFileError extends Error {
  readonly code = 'ERR_TORCH_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'TorchFileError';
  }
}

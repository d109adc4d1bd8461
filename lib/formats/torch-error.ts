// The error of a file that is no torch.save file, or one whose parts disagree (a storage record of the wrong
// size, a big-endian file). Malformed pickles give a PickleError and malformed zips a ZipError instead.
import { LvmtorchError } from '../errors.js';

export class TorchFileError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_TORCH_FILE');
  }
}

import { LvmtorchError } from '../../errors.js';

/** Data that cannot be trained on: wrong shapes or dtypes, NaN/Inf rows, too few rows; the message says what. */
export class DatasetError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_DATASET');
  }
}

/** Data that cannot be trained on: wrong shapes or dtypes, NaN/Inf rows, too few rows; the message says what. */
export class DatasetError extends Error {
  readonly code = 'ERR_DATASET';
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

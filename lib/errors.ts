// Errors of our own. Errors from libtorch arrive as plain `Error`s with code ERR_TORCH (or
// ERR_TORCH_OUT_OF_MEMORY) and libtorch's message; argument errors are TypeError/RangeError.

/** No libtorch, or no lvmtorch binary that fits the libtorch found. The message lists what was searched. */
export class LibtorchLoadError extends Error {
  readonly code = 'ERR_LIBTORCH_LOAD';
  constructor(message: string) {
    super(message);
    this.name = 'LibtorchLoadError';
  }
}

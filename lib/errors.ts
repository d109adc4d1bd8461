// Errors of our own, each a LvmtorchError with its code. Errors from libtorch arrive as plain `Error`s with code
// ERR_TORCH (or ERR_TORCH_OUT_OF_MEMORY) and libtorch's message; argument errors are TypeError/RangeError.

/**
 * The base of every error lvmtorch throws of its own: `code` to branch on (stable, 'ERR_...' or a system code),
 * `name` its class's, and `cause` kept where lvmtorch adds context to another error.
 */
export class LvmtorchError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No libtorch, or no lvmtorch binary that fits the libtorch found. The message lists what was searched. */
export class LibtorchLoadError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_LIBTORCH_LOAD');
  }
}

// Errors of our own, each a LvmtorchError with its code. The native addon's errors are made in one place
// (native/core/protect.cc), the same for a sync call and an async one, each with a `code`: argument errors are TypeError
// (ERR_INVALID_ARG_TYPE) or RangeError (ERR_OUT_OF_RANGE), as Node's own; libtorch's are plain `Error`s with its
// message and code ERR_TORCH (ERR_TORCH_OUT_OF_MEMORY when an allocation failed); a freed tensor, model or handle
// used is ERR_DISPOSED. Where TypeScript gives a native error a class of ours (by its code: NonFiniteLossError,
// DistributedError) it keeps the native one as `cause`.

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

/** The codes the native addon's errors carry (native/core/protect.h). */
export type NativeErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE' | 'ERR_DISPOSED' | 'ERR_TORCH'
  | 'ERR_TORCH_OUT_OF_MEMORY' | 'ERR_LOSS_NOT_FINITE' | 'ERR_DISTRIBUTED';

/** @internal The code of a native error (undefined for anything else). */
export function nativeCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** No libtorch, or no lvmtorch binary that fits the libtorch found. The message lists what was searched. */
export class LibtorchLoadError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_LIBTORCH_LOAD');
  }
}

/**
 * A tensor, model, optimiser or dataset used after dispose() (code ERR_DISPOSED, as the native addon's own errors
 * for a freed tensor or handle).
 */
export class DisposedError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_DISPOSED');
  }
}

// When native tensors are freed. dispose(), `using` and tidy() queue them, and the queue is freed at the next
// native op that makes a tensor, when it is full, or at the next turn of the event loop, whichever comes first:
// a native call per dispose() would cost a tenth of a small op. The GC frees the forgotten
// ones through a FinalizationRegistry. Registering every tensor would cost more than a small op itself
// (~0.6 us), and most tensors are disposed within moments of their birth, so new tensors wait in a short
// nursery and only those still alive when it is swept (every 128 births, or at the next turn of the event
// loop) are registered. Cleanup callbacks run between event-loop turns: a synchronous loop that never yields
// and never disposes keeps what it makes until it yields.
import { native, onLoad, type RawTensor } from './native.js';

export interface Owned {
  readonly isDisposed: boolean;
  /** Told when the tensor is handed to the GC's registry, so that dispose() knows to take it back. */
  markRegistered(): void;
}

const NURSERY_SIZE = 128;
const QUEUE_SIZE = 256;
// [count, id, id, ...], shared with native/core/handle.cc, which empties it.
const queue = new Int32Array(QUEUE_SIZE + 1);
let flushScheduled = false;
onLoad((addon) => addon.setDisposeQueue(queue));
const registry = new FinalizationRegistry<RawTensor>((id) => native().dispose(id));
const nursery: Owned[] = [];
const nurseryIds: RawTensor[] = [];
let sweepScheduled = false; // an Immediate is pending: one is enough, however many sweeps run before it

export function adopt(t: Owned, id: RawTensor): void {
  nursery.push(t);
  nurseryIds.push(id);
  if (nursery.length >= NURSERY_SIZE) {
    sweep();
  } else if (!sweepScheduled) {
    sweepScheduled = true;
    setImmediate(sweepLater).unref();
  }
}

function sweepLater(): void {
  sweepScheduled = false;
  sweep();
}

/** Frees a tensor's native memory soon (see above); `id` must not be used again. */
export function release(id: RawTensor): void {
  const n = queue[0] + 1;
  queue[n] = id;
  queue[0] = n;
  if (n === QUEUE_SIZE) {
    native().flushDisposed();
  } else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLater).unref();
  }
}

/** Frees every queued tensor now. */
export function flushDisposed(): void {
  if (queue[0] > 0) native().flushDisposed();
}

function flushLater(): void {
  flushScheduled = false;
  flushDisposed();
}

/** Called by dispose() for a registered tensor, which the GC must not free a second time. */
export function unregister(t: Owned): void {
  registry.unregister(t);
}

function sweep(): void {
  for (let i = 0; i < nursery.length; i++) {
    const t = nursery[i];
    if (!t.isDisposed) {
      registry.register(t, nurseryIds[i], t);
      t.markRegistered();
    }
  }
  nursery.length = 0;
  nurseryIds.length = 0;
}

// When native tensors are freed. dispose(), `using` and tidy() free them at once; the GC frees the forgotten
// ones through a FinalizationRegistry. Registering every tensor would cost more than a small op itself
// (~0.6 us), and most tensors are disposed within moments of their birth, so new tensors wait in a short
// nursery and only those still alive when it is swept (every 128 births, or at the next turn of the event
// loop) are registered. Cleanup callbacks run between event-loop turns: a synchronous loop that never yields
// and never disposes keeps what it makes until it yields.
import { native, type RawTensor } from './native.js';

export interface Owned {
  readonly isDisposed: boolean;
  /** Told when the tensor is handed to the GC's registry, so that dispose() knows to take it back. */
  markRegistered(): void;
}

const NURSERY_SIZE = 128;
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

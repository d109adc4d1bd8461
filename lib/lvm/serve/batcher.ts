// Micro-batching: requests for the same model and sequence length are gathered into one forward pass, run off the
// JS thread (Module.predictAsync). One pass runs per model at a time (a second one would only share the same cores
// with it): while it runs, new requests queue, and the next pass takes all of them (up to maxBatch rows). When the
// model is idle, the first request waits at most maxWaitMs for company, less if the batch fills first. A job (one
// /infer request, or one length group of an /infer/batch request) is never split between passes.
import type { ServedModel } from './served-model.js';

export interface BatcherOptions {
  /** The most rows one pass takes (a single job larger than this still runs whole). */
  maxBatch: number;
  /** How long an idle model waits for more requests before it runs what it has. */
  maxWaitMs: number;
  /** Called after every pass with its row count and seconds (metrics). */
  onBatch?: (rows: number, seconds: number) => void;
}

interface Job {
  steps: number;
  /** rows x steps x inputDim values. */
  input: Float32Array;
  rows: number;
  resolve: (out: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  queue: Job[];
  running: boolean;
  timer: NodeJS.Timeout | null;
}

export class Batcher {
  readonly #opts: BatcherOptions;
  readonly #lanes = new Map<ServedModel, Lane>();

  constructor(opts: BatcherOptions) {
    if (!(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1)) throw new RangeError(`maxBatch must be an integer >= 1, got ${opts.maxBatch}`);
    if (!(opts.maxWaitMs >= 0 && Number.isFinite(opts.maxWaitMs))) throw new RangeError(`maxWaitMs must be a number >= 0, got ${opts.maxWaitMs}`);
    this.#opts = opts;
  }

  /** The predictions of `rows` sequences of `steps` steps (input: rows x steps x the model's inputDim). */
  run(model: ServedModel, input: Float32Array, rows: number, steps: number): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      const lane = this.#lane(model);
      lane.queue.push({ steps, input, rows, resolve, reject });
      if (lane.running) return; // the pass that is running starts the next one when it ends
      const queued = lane.queue.reduce((n, j) => n + (j.steps === steps ? j.rows : 0), 0);
      if (queued >= this.#opts.maxBatch || this.#opts.maxWaitMs === 0) this.#start(model, lane);
      else lane.timer ??= setTimeout(() => this.#start(model, lane), this.#opts.maxWaitMs);
    });
  }

  /** Jobs waiting or running, on every model. */
  get pending(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.queue.length + (lane.running ? 1 : 0);
    return n;
  }

  #lane(model: ServedModel): Lane {
    let lane = this.#lanes.get(model);
    if (!lane) this.#lanes.set(model, (lane = { queue: [], running: false, timer: null }));
    return lane;
  }

  // One pass over the oldest job's length: it and every later job of that length, up to maxBatch rows.
  #start(model: ServedModel, lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = null;
    if (lane.running || lane.queue.length === 0) return;
    const steps = lane.queue[0].steps;
    const taken: Job[] = [];
    let rows = 0;
    lane.queue = lane.queue.filter((j) => {
      if (j.steps !== steps || (taken.length > 0 && rows + j.rows > this.#opts.maxBatch)) return true;
      taken.push(j);
      rows += j.rows;
      return false;
    });
    lane.running = true;
    const input = taken.length === 1 ? taken[0].input : concat(taken.map((j) => j.input));
    const t0 = performance.now();
    model.predict(input, rows, steps).then((out) => {
      this.#opts.onBatch?.(rows, (performance.now() - t0) / 1000);
      let at = 0;
      for (const j of taken) {
        j.resolve(out.slice(at, at + j.rows));
        at += j.rows;
      }
    }, (e: unknown) => {
      for (const j of taken) j.reject(e);
    }).finally(() => {
      lane.running = false;
      if (lane.queue.length > 0) this.#start(model, lane);
      else this.#lanes.delete(model); // a swapped-out model leaves nothing behind
    });
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

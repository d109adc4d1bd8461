// One model as the server serves it: loaded from any file lvmtorch reads (our checkpoints, the seed trainers'
// checkpoints, raw state dicts such as the seed server's LatentMamba), in eval mode, with what /model/info says
// about it. Requests hold it while they run, so /model/load can swap in another and this one is freed only when
// the last request on it has finished. Loading never blocks the event loop (/model/load runs it while serving):
// the file is read asynchronously (regular files only, with a timeout) and parsed from memory. A torch.nn module of
// the user's is served too: its factory builds it from the checkpoint's model_config, which must give inputDim and
// outputDim; its forward runs on the JS thread, one native call per op.
import { basename } from 'node:path';

import { parseDevice, type Device } from '../../torch/device.js';
import { isFloating } from '../../formats/dtype.js';
import { loadBytes } from '../../torch/io/load.js';
import { readRegularFile } from '../../formats/read-file.js';
import { fromCheckpoint } from '../models/index.js';
import { NativeModel } from '../models/native-model.js';
import { modelConfig, predict } from '../models/trainable.js';
import { Module } from '../../torch/nn/module.js';
import { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { TMD_DIM } from './tmd.js';

/** Builds a torch.nn module from a checkpoint's model_config (`lvmtorch serve --model ./my-model.js`). */
export type ModelFactory = (config: Record<string, unknown>) => Module | Promise<Module>;

/** What serving reads of a model's config. */
export interface ServedConfig {
  kind: string;
  inputDim: number;
  outputDim: number;
  dModel?: number;
  numLayers?: number;
  maxLen?: number;
}

export class ServedModel {
  readonly module: Module;
  readonly config: ServedConfig;
  readonly path: string;
  readonly device: Device;
  /** The checkpoint's val_cosine: the mean cosine of its predictions on held-out data, or null when it has none. */
  readonly valCosine: number | null;
  readonly version: string;
  /** 784-D input: 768-D vectors with the 16-D TMD code appended to every step (the seed server's LatentMamba). */
  readonly readsTmd: boolean;
  /** The width of each vector a client sends. */
  readonly vectorDim: number;
  #inFlight = 0;
  #retired = false;

  private constructor(module: Module, path: string, device: Device, valCosine: number | null, epoch: number | null) {
    this.module = module;
    this.config = servedConfig(module, path);
    this.path = path;
    this.device = device;
    this.valCosine = valCosine;
    const c = this.config;
    this.readsTmd = module instanceof NativeModel && c.inputDim === c.outputDim + TMD_DIM;
    this.vectorDim = this.readsTmd ? c.outputDim : c.inputDim;
    const sizes = c.dModel !== undefined ? `x${c.dModel}x${c.numLayers}` : '';
    this.version = `${c.kind}-${c.inputDim}${sizes}:${basename(path)}${epoch !== null ? `@epoch${epoch}` : ''}`;
  }

  /**
   * Reads `path` (nothing in it is run) and rebuilds its model on `device`, in eval mode: one of lvmtorch's models, or
   * with `factory` a torch.nn module built from the checkpoint's model_config and loaded strictly. Refuses weights
   * that are not finite: a served model's non-finite answer is then always its input's doing.
   */
  static async load(path: string, device: string = 'cpu', opts: { timeoutMs?: number; factory?: ModelFactory } = {}): Promise<ServedModel> {
    const dev = parseDevice(device);
    const obj = loadBytes<Record<string, unknown>>(await readRegularFile(path, opts), path);
    if (obj === null || typeof obj !== 'object' || obj instanceof Tensor) {
      throw new Error(`${path} holds no state dict or checkpoint (a ${obj === null ? 'None' : typeof obj})`);
    }
    let module: Module;
    try {
      module = opts.factory ? await fromFactory(opts.factory, obj, path) : fromCheckpoint(obj);
    } finally {
      disposeTensors(obj);
    }
    const broken = module.namedParameters().concat(module.namedBuffers()).find(([, t]) => !allFinite(t));
    if (broken) {
      module.dispose();
      throw new Error(`${path}: ${broken[0]} holds NaN or infinite values; a model with non-finite weights is not served`);
    }
    module.eval();
    if (dev !== 'cpu') module.to(dev);
    const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    return new ServedModel(module, path, dev, num(obj.val_cosine), num(obj.epoch));
  }

  get outputDim(): number {
    return this.config.outputDim;
  }

  /** Holds the model for one request; the returned function lets it go. */
  acquire(): () => void {
    this.#inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      if (this.#retired && this.#inFlight === 0) this.module.dispose();
    };
  }

  /** No new requests from now on; freed as soon as the ones holding it are done. */
  retire(): void {
    this.#retired = true;
    if (this.#inFlight === 0) this.module.dispose();
  }

  /** rows.length sequences of `steps` steps, each step module.config.inputDim wide -> one prediction each. */
  async predict(input: Float32Array, rows: number, steps: number): Promise<Float32Array[]> {
    const x = torch.tensor(input, { shape: [rows, steps, this.config.inputDim] });
    const onDevice = this.device === 'cpu' ? x : x.to(this.device);
    try {
      const y = await predict(this.module, onDevice);
      const cpu = this.device === 'cpu' ? y : y.to('cpu');
      try {
        const flat = cpu.toTypedArray() as Float32Array;
        const d = this.outputDim;
        return Array.from({ length: rows }, (_, i) => flat.subarray(i * d, (i + 1) * d));
      } finally {
        y.dispose();
        if (cpu !== y) cpu.dispose();
      }
    } finally {
      x.dispose();
      if (onDevice !== x) onDevice.dispose();
    }
  }
}

async function fromFactory(factory: ModelFactory, ckpt: Record<string, unknown>, path: string): Promise<Module> {
  const config = ckpt.model_config;
  const sd = ckpt.model_state_dict;
  if (config === null || typeof config !== 'object' || sd === null || typeof sd !== 'object') {
    throw new Error(`${path}: a model built by --model needs a checkpoint with model_config and model_state_dict (the Trainer's)`);
  }
  const module = await factory({ ...config as Record<string, unknown> });
  if (!(module instanceof Module)) throw new TypeError(`${path}: the model factory must return a torch.nn Module`);
  try {
    module.loadStateDict(sd as Record<string, unknown>);
  } catch (e) {
    module.dispose();
    throw e;
  }
  return module;
}

function servedConfig(module: Module, path: string): ServedConfig {
  if (module instanceof NativeModel) return module.config;
  const c = modelConfig(module);
  const dims = [c.inputDim, c.outputDim];
  if (!dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new RangeError(`${path}: a served torch.nn module needs inputDim and outputDim in its config (model_config)`);
  }
  return { kind: c.kind, inputDim: c.inputDim!, outputDim: c.outputDim as number };
}

function allFinite(t: Tensor): boolean {
  if (!isFloating(t.dtype)) return true;
  return torch.tidy(() => t.isfinite().all().item() === true);
}

// The loaded file's tensors were copied into the module: free them now rather than at the next GC.
function disposeTensors(v: unknown, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) return v.dispose();
  for (const x of v instanceof Map ? v.values() : Array.isArray(v) ? v : Object.values(v)) disposeTensors(x, seen);
}

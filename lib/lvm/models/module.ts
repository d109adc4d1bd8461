// A latent vector model (native/lvm/models/): forward, parameters, state dicts that move both ways with PyTorch,
// train/eval, devices, and what training needs to know of its parameters (declared by kind in config.ts). The
// parameters JS sees are the module's own tensors (same memory), so an optimiser built on parameters() trains the
// module, and loadStateDict() writes straight into it.
import { type Device } from '../../torch/device.js';
import { type DType, dtypeCode } from '../../formats/dtype.js';
import { native, type ModelHandle, type RawTensor } from '../../torch/native.js';
import { keep } from '../../torch/scope.js';
import { fromRaw, rawOf, Tensor } from '../../torch/tensor.js';
import { noGrad } from '../../torch/functions.js';
import { orderedDict } from '../../formats/pickle/values.js';
import { KINDS, RIDGE, type LinearKeys, type ModelConfig } from './config.js';
import { DisposedError } from '../../errors.js';
import { decayGroups } from '../../torch/nn/module.js';

export type { LinearKeys, ModelConfig, ModelKind } from './config.js';

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (shape mismatches are always refused), as PyTorch's strict=True. */
  strict?: boolean;
}

type Entry = { name: string; tensor: Tensor; isBuffer: boolean };

export class Module {
  readonly config: Readonly<ModelConfig>;
  #h: ModelHandle | undefined;
  #entries: Entry[] | undefined;
  #training = true;
  #inFlight = 0; // predictAsync() calls not yet settled

  /** @internal Use models.gru(), lstm(), mamba2(), transformer(), latentMamba() or fromCheckpoint(). */
  constructor(config: ModelConfig) {
    this.config = Object.freeze({ ...config });
    this.#h = native().modelCreate(config.kind, config);
  }

  /** @internal The native handle, for the train step. */
  get handle(): ModelHandle {
    if (this.#h === undefined) throw new DisposedError('the model was disposed and can no longer be used');
    return this.#h;
  }

  /**
   * x [batch, context, inputDim] -> the L2-normalised prediction [batch, outputDim]; with raw, the head's output
   * too ([batch, outputDim]; latent_mamba: the whole head output, [batch, inputDim]).
   */
  forward(x: Tensor): Tensor;
  forward(x: Tensor, opts: { raw: true }): { raw: Tensor; normalised: Tensor };
  forward(x: Tensor, opts: { raw?: boolean } = {}): Tensor | { raw: Tensor; normalised: Tensor } {
    if (this.#inFlight > 0 && this.#training)
      throw new Error('predictAsync() calls are running on this model in eval mode: await them before a forward in training mode, or call eval()');
    const [raw, normalised] = native().modelForward(this.handle, rawOf(x));
    const out = { raw: fromRaw(raw), normalised: fromRaw(normalised) };
    if (opts.raw) return out;
    out.raw.dispose();
    return out.normalised;
  }

  /** The prediction without building a graph, as serving wants it. */
  predict(x: Tensor): Tensor {
    return noGrad(() => this.forward(x));
  }

  /**
   * The prediction computed off the JS thread (on the compute lane, native/core/lane.h), in eval mode (no dropout) and without a graph: the event
   * loop runs on meanwhile. Resolves with what predict() gives (exactly) on a model in eval mode; with raw, the
   * head's output too. Bad input (shape, dtype, device, a disposed tensor) rejects with the error forward() throws.
   *
   * Any number may be in flight on one model (the forwards only read it; they run one after another on the compute
   * lane, native/core/lane.h). While any is:
   * the model's native train/eval flag is eval (`training` still says what train()/eval() last asked, and takes
   * effect when the last call settles), a training-mode forward(), to(), loadStateDict() and trainStep() throw,
   * and dispose() frees the module only once the running calls end (they resolve normally). Writing into
   * parameters() directly meanwhile is not guarded: don't.
   */
  predictAsync(x: Tensor): Promise<Tensor>;
  predictAsync(x: Tensor, opts: { raw: true }): Promise<{ raw: Tensor; normalised: Tensor }>;
  async predictAsync(x: Tensor, opts: { raw?: boolean } = {}): Promise<Tensor | { raw: Tensor; normalised: Tensor }> {
    const h = this.handle;
    if (stepping.has(this)) throw new Error('a train step is running on this model: await it before predictAsync()');
    const wantRaw = opts?.raw === true;
    // Everything up to the await runs synchronously: eval mode is set before the worker can start.
    if (this.#inFlight++ === 0 && this.#training) native().modelTrain(h, false);
    let pending: Promise<[RawTensor | undefined, RawTensor]>;
    try {
      pending = native().modelPredictAsync(h, rawOf(x), wantRaw);
    } catch (e) {
      this.#settled();
      throw e;
    }
    let result: [RawTensor | undefined, RawTensor];
    try {
      result = await pending;
    } finally {
      this.#settled();
    }
    const normalised = fromRaw(result[1]);
    return wantRaw ? { raw: fromRaw(result[0]!), normalised } : normalised;
  }

  /** @internal How many predictAsync() calls are running (a train step refuses to start meanwhile). */
  get pendingPredictions(): number {
    return this.#inFlight;
  }

  #settled(): void {
    if (--this.#inFlight === 0 && this.#training && this.#h !== undefined) native().modelTrain(this.#h, true);
  }

  #refuseWhileInFlight(what: string): void {
    if (this.#inFlight > 0)
      throw new Error(`${what} would change the model under ${this.#inFlight} running predictAsync() call(s): await them first`);
  }

  namedParameters(): [string, Tensor][] {
    return this.#state().filter((e) => !e.isBuffer).map((e) => [e.name, e.tensor]);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.#state().filter((e) => e.isBuffer).map((e) => [e.name, e.tensor]);
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /**
   * The parameters that weight decay skips, by key: mamba_ssm's `_no_weight_decay` (each Mamba2 block's A_log, D
   * and dt_bias); none for the other kinds.
   */
  noWeightDecay(): string[] {
    return KINDS[this.config.kind].noWeightDecay?.(this.config) ?? [];
  }

  /** The parameters by whether weight decay applies to them (noWeightDecay()), each part in namedParameters() order. */
  parameterGroups(): { decay: Tensor[]; noDecay: Tensor[] } {
    return decayGroups(this.namedParameters(), this.noWeightDecay(), `a ${this.config.kind} model`);
  }

  /** The output projection (the head's last Linear: head.3; latent_mamba's output_head), by key. */
  outputHead(): LinearKeys {
    return { ...KINDS[this.config.kind].outputHead };
  }

  /** The buffers of the fixed linear predictor under the head's output (ridge.weight, ridge.bias) when ridgeContext is set. */
  residualMap(): LinearKeys | undefined {
    return this.config.ridgeContext ? { ...RIDGE } : undefined;
  }

  /**
   * Parameters and buffers by PyTorch's key names, in its order, marked to be saved as an OrderedDict. The
   * values are detached tensors sharing the module's memory (as PyTorch's): dispose them when done.
   */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const e of this.#state()) sd[e.name] = e.tensor.detach();
    return orderedDict(sd);
  }

  /**
   * Copies a state dict in (ours, or PyTorch's as load() reads it). Values are converted to the module's dtype
   * and device. Every problem is found before anything is written, and reported in one error.
   */
  loadStateDict(sd: Record<string, unknown>, opts: LoadStateDictOptions = {}): void {
    if (sd === null || typeof sd !== 'object') throw new TypeError('loadStateDict() takes an object of name -> Tensor');
    const strict = opts.strict ?? true;
    const entries = this.#state();
    const known = new Set(entries.map((e) => e.name));
    const problems: string[] = [];
    const missing = entries.filter((e) => !(e.name in sd)).map((e) => e.name);
    const unexpected = Object.keys(sd).filter((k) => !known.has(k));
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    for (const e of entries) {
      const v = sd[e.name];
      if (v === undefined) continue;
      if (!(v instanceof Tensor)) problems.push(`${e.name}: not a Tensor`);
      else if (v.shape.join() !== e.tensor.shape.join())
        problems.push(`${e.name}: shape [${v.shape.join(', ')}] in the state dict, [${e.tensor.shape.join(', ')}] in the model`);
    }
    if (problems.length) throw new Error(`loadStateDict() for a ${this.config.kind} model: ${problems.join('; ')}`);
    this.#refuseWhileInFlight('loadStateDict()');
    noGrad(() => {
      for (const e of entries) if (sd[e.name] instanceof Tensor) e.tensor.copy_(sd[e.name] as Tensor);
    });
  }

  /** Moves (and casts) every parameter and buffer, in place: parameters() stay the same tensors. */
  to(device: Device, dtype?: DType): this {
    this.#refuseWhileInFlight('to()');
    native().modelTo(this.handle, device, dtype === undefined ? undefined : dtypeCode(dtype));
    for (const e of this.#entries ?? []) e.tensor.refreshMeta();
    return this;
  }

  /** Dropout on (the default) or off. While predictAsync() calls run, the change waits for the last to settle. */
  train(on = true): this {
    const h = this.handle;
    if (this.#inFlight === 0) native().modelTrain(h, on);
    this.#training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get training(): boolean {
    return this.#training;
  }

  /** Frees the module (once running predictAsync() calls end: they hold it) and its parameters' handles. */
  dispose(): void {
    if (this.#h === undefined) return;
    for (const e of this.#entries ?? []) e.tensor.dispose();
    this.#entries = undefined;
    native().modelDispose(this.#h);
    this.#h = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #state(): Entry[] {
    // keep(): parameters belong to the module, not to whatever tidy() scope first asked for them.
    this.#entries ??= native().modelState(this.handle).map(([name, raw, isBuffer]) =>
      ({ name, tensor: keep(fromRaw(raw)), isBuffer }));
    return this.#entries;
  }
}

// The models a train step is running on (lib/lvm/train/step.ts marks them): a model's parameters must not change under
// a step, and predictAsync() must not start meanwhile.
const stepping = new WeakSet<Module>();

/** @internal Whether a train step is running on the model. */
export function stepRunning(model: Module): boolean {
  return stepping.has(model);
}

/** @internal Marks the start (true) or the end (false) of a train step on the model. */
export function markStepRunning(model: Module, running: boolean): void {
  if (running) stepping.add(model);
  else stepping.delete(model);
}

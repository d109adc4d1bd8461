// A latent vector model that runs in native code (native/lvm/models/): an nn.Module like any other (parameters, state
// dicts with PyTorch's keys, train/eval, to()), whose forward is one native call and whose predictAsync() runs off the
// JS thread; what training needs to know of its parameters is declared by kind in config.ts. The parameters JS sees
// are the module's own tensors (same memory, same autograd leaves), so an optimiser built on parameters() trains it.
import { type Device } from '../../torch/device.js';
import { type DType } from '../../formats/dtype.js';
import { native, type ModelHandle, type RawTensor } from '../../torch/native.js';
import { keep } from '../../torch/scope.js';
import { fromRaw, rawOf, Tensor } from '../../torch/tensor.js';
import { noGrad } from '../../torch/functions.js';
import { KINDS, RIDGE, type LinearKeys, type ModelConfig } from './config.js';
import { DisposedError } from '../../errors.js';
import { declareState, Module, toArgs, type DeclaredEntry, type IncompatibleKeys } from '../../torch/nn/module.js';
import { parameterOfRaw } from '../../torch/nn/parameter.js';

export type { LinearKeys, ModelConfig, ModelKind } from './config.js';

/** One of lvmtorch's built-in models (models.gru(), lstm(), mamba2(), transformer(), latentMamba(), fromCheckpoint()). */
export class NativeModel extends Module {
  readonly config: Readonly<ModelConfig>;
  #h: ModelHandle | undefined;
  #entries: DeclaredEntry[] | undefined;
  #inFlight = 0; // predictAsync() calls not yet settled

  /** @internal Use models.gru(), lstm(), mamba2(), transformer(), latentMamba() or fromCheckpoint(). */
  constructor(config: ModelConfig) {
    super();
    this.config = Object.freeze({ ...config });
    this.#h = native().modelCreate(config.kind, config);
    declareState(this, () => this.#state());
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
    if (this.#inFlight > 0 && this.training)
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
    if (this.#inFlight++ === 0 && this.training) native().modelTrain(h, false);
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
    if (--this.#inFlight === 0 && this.training && this.#h !== undefined) native().modelTrain(this.#h, true);
  }

  #refuseWhileInFlight(what: string): void {
    if (this.#inFlight > 0)
      throw new Error(`${what} would change the model under ${this.#inFlight} running predictAsync() call(s): await them first`);
  }

  /**
   * The parameters that weight decay skips, by key: mamba_ssm's `_no_weight_decay` (each Mamba2 block's A_log, D
   * and dt_bias); none for the other kinds.
   */
  override noWeightDecay(): string[] {
    return KINDS[this.config.kind].noWeightDecay?.(this.config) ?? [];
  }

  /** The output projection (the head's last Linear: head.3; latent_mamba's output_head), by key. */
  outputHead(): LinearKeys {
    return { ...KINDS[this.config.kind].outputHead };
  }

  /** The buffers of the fixed linear predictor under the head's output (ridge.weight, ridge.bias) when ridgeContext is set. */
  residualMap(): LinearKeys | undefined {
    return this.config.ridgeContext ? { ...RIDGE } : undefined;
  }

  /** As nn.Module's (one StateDictError naming every problem; nothing changed unless all is well), refused while predictAsync() calls run. */
  override loadStateDict(sd: Record<string, unknown>, opts: { strict?: boolean } = {}): IncompatibleKeys {
    this.#refuseWhileInFlight('loadStateDict()');
    return super.loadStateDict(sd, opts);
  }

  /**
   * Moves and/or casts every parameter and buffer in place (`to(device)`, `to(dtype)`, `to(device, dtype)`): parameters()
   * stay the same tensors.
   */
  override to(deviceOrDtype: Device | DType, dtype?: DType): this {
    this.#refuseWhileInFlight('to()');
    const { device, code } = toArgs(deviceOrDtype, dtype);
    native().modelTo(this.handle, device, code);
    for (const e of this.#entries ?? []) e.tensor.refreshMeta();
    return this;
  }

  /** Dropout on (the default) or off. While predictAsync() calls run, the change waits for the last to settle. */
  override train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError('training mode is expected to be boolean');
    if (this.#inFlight === 0) native().modelTrain(this.handle, mode);
    this.training = mode;
    return this;
  }

  override extraRepr(): string {
    return Object.entries(this.config).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  }

  /** Frees the module (once running predictAsync() calls end: they hold it) and its parameters' handles. */
  override dispose(): void {
    if (this.#h === undefined) return;
    super.dispose();
    this.#entries = undefined;
    native().modelDispose(this.#h);
    this.#h = undefined;
  }

  #state(): DeclaredEntry[] {
    if (this.#h === undefined) return [];
    // keep(): parameters belong to the module, not to whatever tidy() scope first asked for them.
    this.#entries ??= native().modelState(this.#h).map(([name, raw, isBuffer]) =>
      ({ name, tensor: isBuffer ? keep(fromRaw(raw)) : parameterOfRaw(raw), isBuffer }));
    return this.#entries;
  }
}

// The models a train step is running on (lib/lvm/train/step.ts marks them): a model's parameters must not change under
// a step, and predictAsync() must not start meanwhile.
const stepping = new WeakSet<NativeModel>();

/** @internal Whether a train step is running on the model. */
export function stepRunning(model: NativeModel): boolean {
  return stepping.has(model);
}

/** @internal Marks the start (true) or the end (false) of a train step on the model. */
export function markStepRunning(model: NativeModel, running: boolean): void {
  if (running) stepping.add(model);
  else stepping.delete(model);
}

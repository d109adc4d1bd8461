// nn.Module: the base of every module, with PyTorch's semantics. A subclass assigns Parameters, submodules and (by
// registerBuffer) buffers to its own properties, in its constructor or as class fields; they are found by reading
// those properties in their order, which is the order of assignment (as PyTorch's __setattr__ registers them), so
// nothing intercepts assignment and `#private` fields stay the subclass's own.
import { LvmtorchError } from '../../errors.js';
import { orderedDict } from '../../formats/pickle/values.js';
import { dtypeCode, isDType, parseDType, type DType } from '../../formats/dtype.js';
import { parseDevice, type Device } from '../device.js';
import { noGrad } from '../functions.js';
import { native } from '../native.js';
import { keep } from '../scope.js';
import { rawOf, Tensor } from '../tensor.js';
import { Parameter, parameterOf } from './parameter.js';

/** What loadStateDict() found besides what it loaded (PyTorch's `_IncompatibleKeys`). */
export interface IncompatibleKeys {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** loadStateDict() refused a state dict: every missing or unexpected key and shape mismatch is in the message. */
export class StateDictError extends LvmtorchError {
  constructor(message: string) {
    super(message, 'ERR_STATE_DICT');
  }
}

// Each module's buffers, by name, with whether they are persistent (saved in the state dict).
const buffersOf = new WeakMap<Module, Map<string, boolean>>();

/** @internal One tensor of a module whose tensors live in native code, by its dotted key. */
export type DeclaredEntry = { name: string; tensor: Parameter | Tensor; isBuffer: boolean };

// The modules whose parameters and buffers live in native code (lvmtorch's built-in models) declare them, by dotted key
// in PyTorch's state-dict order, instead of holding them in properties.
const declaredState = new WeakMap<Module, () => DeclaredEntry[]>();

/**
 * @internal Makes `state` the module's own parameters and (persistent) buffers: namedParameters(), stateDict(),
 * loadStateDict() and the rest read them from it, in its order.
 */
export function declareState(m: Module, state: () => DeclaredEntry[]): void {
  declaredState.set(m, state);
}

/**
 * The base of every module. `forward` is the subclass's; the rest is PyTorch's `nn.Module`: parameters, buffers and
 * submodules by dotted name, `stateDict()` / `loadStateDict()` with PyTorch's keys, `train()` / `eval()`, `to()`,
 * `zeroGrad()`, `apply()`, `dispose()`.
 */
export abstract class Module {
  /** Training mode (dropout on) or evaluation mode; set it with train() / eval(). */
  training = true;

  /** The computation; modules call their submodules' `forward`. */
  abstract forward(...args: never[]): unknown;

  // ---- registration ----

  /** Adds a buffer: state that is not trained (running statistics, masks); `persistent: false` leaves it out of stateDict(). */
  registerBuffer(name: string, tensor: Tensor | null, opts: { persistent?: boolean } = {}): void {
    checkName(this, name, 'buffer');
    if (tensor !== null && !(tensor instanceof Tensor)) throw new TypeError(`buffer ${name} must be a Tensor or null`);
    if (tensor instanceof Parameter) throw new TypeError(`buffer ${name} is a Parameter: assign it as a parameter instead`);
    let buffers = buffersOf.get(this);
    if (!buffers) buffersOf.set(this, buffers = new Map());
    buffers.set(name, opts.persistent ?? true);
    (this as unknown as Record<string, unknown>)[name] = tensor === null ? null : keep(tensor);
  }

  /** Assigns a parameter by name, as `this[name] = param` does (PyTorch's register_parameter). */
  registerParameter(name: string, param: Parameter | null): void {
    checkName(this, name, 'parameter');
    if (param !== null && !(param instanceof Parameter)) throw new TypeError(`parameter ${name} must be an nn.Parameter or null`);
    (this as unknown as Record<string, unknown>)[name] = param;
  }

  /** Assigns a submodule by name, as `this[name] = module` does (PyTorch's register_module / add_module). */
  registerModule(name: string, module: Module | null): void {
    checkName(this, name, 'module');
    if (module !== null && !(module instanceof Module)) throw new TypeError(`module ${name} must be an nn.Module or null`);
    (this as unknown as Record<string, unknown>)[name] = module;
  }

  // ---- what it holds ----

  /** [name, module] of the direct submodules, in order. */
  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** [dotted name, module] of this module ('') and every module under it, each once. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, at: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([at, m]);
      for (const [name, child] of m.namedChildren()) visit(child, at ? `${at}.${name}` : name);
    };
    visit(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** [dotted name, parameter] in PyTorch's order (each module's own, then its submodules'); a shared one once. */
  namedParameters(opts: { prefix?: string; recurse?: boolean } = {}): [string, Parameter][] {
    return this.#named(ownParameters, opts);
  }

  parameters(opts: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }

  /** [dotted name, buffer] of every buffer, persistent or not. */
  namedBuffers(opts: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    return this.#named((m) => ownBuffers(m, false), opts);
  }

  buffers(opts: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(opts).map(([, b]) => b);
  }

  /** The number of parameter elements (a shared parameter counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  #named<T extends Tensor>(own: (m: Module) => [string, T][], opts: { prefix?: string; recurse?: boolean }): [string, T][] {
    const prefix = opts.prefix ?? '';
    const modules: [string, Module][] = opts.recurse === false ? [[prefix, this]] : this.namedModules(prefix);
    const seen = new Set<Tensor>();
    const out: [string, T][] = [];
    for (const [at, m] of modules) {
      for (const [name, t] of own(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([at ? `${at}.${name}` : name, t]);
      }
    }
    return out;
  }

  /**
   * The parameters weight decay should skip, by dotted name (as timm's `no_weight_decay()`): none by default; a module
   * overrides it to declare them (biases, norms, embeddings). The Trainer's optimiser reads it.
   */
  noWeightDecay(): string[] {
    return [];
  }

  /** The parameters by whether weight decay applies to them (noWeightDecay()), each part in namedParameters() order. */
  parameterGroups(): { decay: Parameter[]; noDecay: Parameter[] } {
    return decayGroups(this.namedParameters(), this.noWeightDecay(), this.constructor.name);
  }

  // ---- state dicts ----

  /**
   * Parameters and persistent buffers by PyTorch's keys, in its order (a shared parameter under each of its names),
   * marked to be saved as an OrderedDict. The values are detached tensors sharing the module's memory.
   */
  stateDict(opts: { prefix?: string } = {}): Record<string, Tensor> {
    const sd: Record<string, Tensor> = {};
    for (const [key, t] of stateEntries(this, opts.prefix ?? '')) sd[key] = t.detach();
    return orderedDict(sd);
  }

  /**
   * Copies a state dict in (ours, or PyTorch's as torch.load reads it), converting to each tensor's dtype and device.
   * Every problem (missing and unexpected keys when strict, a value that is not a Tensor, a shape that differs) is
   * found first and reported in one StateDictError, and then nothing has changed.
   */
  loadStateDict(sd: Record<string, unknown>, opts: { strict?: boolean } = {}): IncompatibleKeys {
    if (sd === null || typeof sd !== 'object') throw new TypeError('loadStateDict() takes an object of name -> Tensor');
    const strict = opts.strict ?? true;
    const entries = stateEntries(this, '');
    const expected = new Set(entries.map(([k]) => k));
    const missingKeys = entries.map(([k]) => k).filter((k) => !Object.hasOwn(sd, k));
    const unexpectedKeys = Object.keys(sd).filter((k) => !expected.has(k));
    const problems: string[] = [];
    if (strict && unexpectedKeys.length) problems.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map(quote).join(', ')}.`);
    if (strict && missingKeys.length) problems.push(`Missing key(s) in state_dict: ${missingKeys.map(quote).join(', ')}.`);
    for (const [key, t] of entries) {
      if (!Object.hasOwn(sd, key)) continue;
      const v = sd[key];
      if (!(v instanceof Tensor)) problems.push(`While copying the parameter named ${quote(key)}: expected a Tensor, got ${describe(v)}.`);
      else if (v.shape.join() !== t.shape.join()) {
        problems.push(`size mismatch for ${key}: copying a param with shape [${v.shape.join(', ')}] from checkpoint, ` +
          `the shape in current model is [${t.shape.join(', ')}].`);
      }
    }
    if (problems.length) {
      throw new StateDictError(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${problems.join('\n\t')}`);
    }
    noGrad(() => {
      for (const [key, t] of entries) if (Object.hasOwn(sd, key)) t.copy_(sd[key] as Tensor);
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- modes, devices, gradients ----

  /** Sets training mode on this module and every module under it (each child's train(), as PyTorch's). */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError('training mode is expected to be boolean');
    this.training = mode;
    for (const child of this.children()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves and/or casts every parameter and buffer in place, as PyTorch's `module.to(device)`, `.to(dtype)`,
   * `.to(device, dtype)`: the tensors stay the same objects (an optimiser made before keeps working) and their
   * gradients move with them; only floating tensors take the dtype.
   */
  to(deviceOrDtype: Device | DType, dtype?: DType): this {
    const { device, code } = toArgs(deviceOrDtype, dtype);
    for (const t of [...this.parameters({ recurse: false }), ...this.buffers({ recurse: false })]) {
      native().nnTo_(rawOf(t), device, code);
      t.refreshMeta();
    }
    // Each child moves its own (a built-in model moves its native state its own way).
    for (const child of this.children()) child.to(deviceOrDtype, dtype);
    return this;
  }

  /** Clears the parameters' gradients: to null (the default, as PyTorch 2.x), or to zeros. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      const g = p.grad;
      if (g === null) continue;
      if (setToNone) p.grad = null;
      else noGrad(() => g.zero_());
      g.dispose();
    }
  }

  /** Calls fn on every submodule (children first, depth first) and then on this one. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Sets requiresGrad on every parameter (false freezes the module). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** Frees every parameter and buffer of this module and the modules under it. */
  dispose(): void {
    for (const [, p] of ownParameters(this)) p.dispose();
    for (const [, b] of ownBuffers(this, false)) b.dispose();
    for (const child of this.children()) child.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- printing ----

  /** What this module prints after its name, as PyTorch's extra_repr. */
  extraRepr(): string {
    return '';
  }

  /** PyTorch's repr: the name, extraRepr(), and the submodules indented. */
  toString(): string {
    const children = this.namedChildren().map(([name, m]) => `(${name}): ${m.toString().replace(/\n/g, '\n  ')}`);
    const extra = this.extraRepr();
    if (!children.length) return `${this.constructor.name}(${extra})`;
    return `${this.constructor.name}(\n${extra ? `  ${extra}\n` : ''}  ${children.join('\n  ')}\n)`;
  }
}

/**
 * @internal What `to(device)`, `to(dtype)` and `to(device, dtype)` ask for: the device (undefined: stay) and the dtype's
 * code (undefined: keep), which must be floating.
 */
export function toArgs(deviceOrDtype: Device | DType, dtype?: DType): { device: Device | undefined; code: number | undefined } {
  const [device, wanted] = isDType(deviceOrDtype) && dtype === undefined ? [undefined, parseDType(deviceOrDtype)] : [parseDevice(deviceOrDtype), dtype];
  if (wanted === undefined) return { device, code: undefined };
  const name = parseDType(wanted);
  if (!['float16', 'bfloat16', 'float32', 'float64'].includes(name)) {
    throw new TypeError(`nn.Module.to only accepts floating point dtypes, but got desired dtype=${wanted}`);
  }
  return { device, code: dtypeCode(name) };
}

/**
 * @internal Named parameters split by whether weight decay applies (`noDecay` names the ones it skips), each part in
 * the given order; `owner` names the model when it declares a name it does not have.
 */
export function decayGroups<T>(named: [string, T][], noDecay: string[], owner: string): { decay: T[]; noDecay: T[] } {
  const skip = new Set(noDecay);
  const absent = [...skip].filter((k) => !named.some(([name]) => name === k));
  if (absent.length) throw new RangeError(`${owner} declares no-decay parameters it does not have: ${absent.join(', ')}`);
  return { decay: named.filter(([k]) => !skip.has(k)).map(([, p]) => p), noDecay: named.filter(([k]) => skip.has(k)).map(([, p]) => p) };
}

function ownParameters(m: Module): [string, Parameter][] {
  const declared = declaredState.get(m);
  if (declared) return declared().filter((e) => !e.isBuffer).map((e) => [e.name, e.tensor as Parameter]);
  return Object.entries(m).filter((e): e is [string, Parameter] => e[1] instanceof Parameter && !e[1].isDisposed);
}

function ownBuffers(m: Module, persistentOnly: boolean): [string, Tensor][] {
  const declared = declaredState.get(m);
  if (declared) return declared().filter((e) => e.isBuffer).map((e) => [e.name, e.tensor]);
  const out: [string, Tensor][] = [];
  for (const [name, persistent] of buffersOf.get(m) ?? []) {
    const t = (m as unknown as Record<string, unknown>)[name];
    if (t instanceof Tensor && !t.isDisposed && (persistent || !persistentOnly)) out.push([name, t]);
  }
  return out;
}

// The state dict's entries as PyTorch's _save_to_state_dict walks them: own parameters, own persistent buffers, then
// each child under its name; a module reached twice is written under both names, as in PyTorch.
function stateEntries(m: Module, prefix: string): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const declared = declaredState.get(m);
  const own = declared ? declared().map((e): [string, Tensor] => [e.name, e.tensor]) : [...ownParameters(m), ...ownBuffers(m, true)];
  for (const [name, t] of own) out.push([prefix + name, t]);
  for (const [name, child] of m.namedChildren()) out.push(...stateEntries(child, `${prefix}${name}.`));
  return out;
}

function checkName(m: Module, name: string, what: string): void {
  if (typeof name !== 'string') throw new TypeError(`${what} name should be a string, got ${typeof name}`);
  if (name === '' || name.includes('.')) throw new RangeError(`${what} name can't be empty or contain ".", got "${name}"`);
  if (name in m && !Object.hasOwn(m, name)) throw new RangeError(`attribute "${name}" already exists`);
}

function quote(s: string): string {
  return `"${s}"`;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * @internal A deep copy of a module, as Python's copy.deepcopy makes (nn.TransformerEncoder's clones): the same
 * class, its parameters and buffers copied, its submodules copied, its other properties shared (numbers, strings,
 * options). A class with `#private` state cannot be copied so: its copy would lack it.
 */
export function copyModule<T extends Module>(m: T): T {
  const copy = Object.create(Object.getPrototypeOf(m) as object) as Record<string, unknown>;
  for (const [k, v] of Object.entries(m)) {
    if (v instanceof Module) copy[k] = copyModule(v);
    else if (v instanceof Parameter) copy[k] = parameterOf(v.detach().clone(), v.requiresGrad);
    else if (v instanceof Tensor) copy[k] = keep(v.detach().clone());
    else copy[k] = Array.isArray(v) ? [...v] : v;
  }
  const buffers = buffersOf.get(m);
  if (buffers) buffersOf.set(copy as unknown as Module, new Map(buffers));
  return copy as unknown as T;
}

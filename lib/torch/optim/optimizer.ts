// The optimiser base: a JS handle over a native optimiser (native/torch/optim/), its param groups with their
// hyperparameters (a JS mirror, each change written through), and torch.optim's state_dict layout both ways.
import { native, type NativeHyper, type OptimizerHandle } from '../native.js';
import { tidy } from '../scope.js';
import { fromRaw, rawOf, Tensor } from '../tensor.js';
import { tensor } from '../functions.js';
import { DisposedError } from '../../errors.js';

/** A param group: its parameters and its hyperparameters (assigning one takes effect at the next step). */
export type ParamGroup<O> = O & { readonly params: readonly Tensor[] };

/** The parameters: one list (one group), or groups each with their own hyperparameters over the defaults. */
export type ParamsInput<O> = readonly Tensor[] | readonly (Partial<O> & { params: readonly Tensor[] })[];

/** torch.optim's optimizer.state_dict(), as plain JS: `state` keyed by parameter index, tuples as arrays. */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor | null>>;
  param_groups: (Record<string, unknown> & { params: number[] })[];
}

/**
 * What loadStateDict() takes: our stateDict(), or PyTorch's as loadTorchFile() reads it (`state` a Map with int
 * keys, betas a Tuple, `step` a tensor or, from torch < 1.12, a number). Keys it does not know are ignored
 * (foreach, capturable, fused, differentiable, initial_lr: torch 2.x's and the schedulers' extras).
 */
export interface LoadableStateDict {
  state: Map<unknown, unknown> | Record<string, unknown>;
  param_groups: readonly Record<string, unknown>[];
}

/** @internal What a subclass tells the base about its algorithm. */
export interface OptimizerSpec<O> {
  name: string;
  kind: 'adam' | 'adamw' | 'sgd';
  /** Throws a RangeError naming the bad value, as torch.optim's constructors do. */
  validate(o: O): void;
  toNative(o: Partial<O>): NativeHyper;
  /** The group's keys as torch 1.13 writes them, in its order (params excluded). */
  toPython(o: O): Record<string, unknown>;
  /** A saved group's hyperparameters over `current` (keys the group lacks keep their current value). */
  fromPython(group: Record<string, unknown>, current: O): O;
}

export abstract class Optimizer<O extends object> {
  readonly paramGroups: ParamGroup<O>[];
  readonly defaults: Readonly<O>;
  readonly #spec: OptimizerSpec<O>;
  readonly #values: O[];
  #handle: OptimizerHandle | null;

  /** @internal Each optimiser's own constructor calls this with its spec. */
  protected constructor(params: ParamsInput<O>, defaults: O, spec: OptimizerSpec<O>) {
    this.#spec = spec;
    this.defaults = Object.freeze({ ...defaults });
    if (!Array.isArray(params) || params.length === 0) {
      throw new RangeError(`${spec.name} got an empty parameter list`);
    }
    const groups: (Partial<O> & { params: readonly Tensor[] })[] = params[0] instanceof Tensor
      ? [{ params: params as readonly Tensor[] } as Partial<O> & { params: readonly Tensor[] }]
      : (params as (Partial<O> & { params: readonly Tensor[] })[]);
    const seen = new Set<Tensor>();
    this.#values = groups.map((g, i) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) {
        throw new TypeError(`${spec.name}: params must be an array of Tensors or of { params: Tensor[], ... } groups`);
      }
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new TypeError(`${spec.name}: param group ${i} holds something not a Tensor`);
        if (seen.has(p)) throw new RangeError(`${spec.name}: some parameters appear in more than one parameter group`);
        seen.add(p);
      }
      const { params: _params, ...options } = g;
      const values = { ...defaults, ...(options as Partial<O>) } as O;
      freezeArrays(values);
      spec.validate(values);
      return values;
    });
    this.#handle = native().optimCreate(spec.kind,
      groups.map((g, i) => ({ params: g.params.map(rawOf), ...spec.toNative(this.#values[i]) })));
    this.paramGroups = groups.map((g, i) => this.#groupView(i, Object.freeze([...g.params])));
  }

  // A group as the user sees it: its params, and an accessor per hyperparameter that checks and writes through.
  #groupView(index: number, params: readonly Tensor[]): ParamGroup<O> {
    const view = { params } as ParamGroup<O>;
    for (const key of Object.keys(this.defaults) as (keyof O & string)[]) {
      Object.defineProperty(view, key, {
        enumerable: true,
        get: () => this.#values[index][key],
        set: (value: O[typeof key]) => {
          const next = { ...this.#values[index], [key]: value };
          freezeArrays(next);
          this.#spec.validate(next);
          this.#values[index] = next;
          native().optimSetHyper(this.#live(), index, this.#spec.toNative({ [key]: next[key] } as unknown as Partial<O>));
        },
      });
    }
    return Object.seal(view);
  }

  /** @internal The native handle, for the train step. */
  get handle(): OptimizerHandle {
    return this.#live();
  }

  #live(): OptimizerHandle {
    if (this.#handle === null) throw new DisposedError(`the ${this.#spec.name} optimizer was disposed`);
    return this.#handle;
  }

  /** One step over every parameter that has a gradient, as torch.optim's step() (no closure). */
  step(): void {
    native().optimStep(this.#live());
  }

  /** Clears the gradients: dropped (setToNone, the default, as PyTorch 2.x) or zeroed in place (as 1.13's default). */
  zeroGrad(setToNone = true): void {
    native().optimZeroGrad(this.#live(), setToNone);
  }

  /** The first group's learning rate; assigning sets every group's. */
  get lr(): number {
    return (this.paramGroups[0] as unknown as { lr: number }).lr;
  }
  set lr(value: number) {
    for (const g of this.paramGroups) (g as unknown as { lr: number }).lr = value;
  }

  /**
   * PyTorch's optimizer.state_dict() layout. The tensors share the optimiser's memory (as in PyTorch: the next
   * step changes them); they are new handles, so dispose them (or call this in torch.tidy) when done.
   */
  stateDict(): OptimizerStateDict {
    const state: Record<number, Record<string, Tensor | null>> = {};
    native().optimGetState(this.#live()).forEach((entry, i) => {
      if (entry === null) return;
      state[i] = Object.fromEntries(Object.entries(entry).map(([k, r]) => [k, r === null ? null : fromRaw(r)]));
    });
    let next = 0;
    const param_groups = this.#values.map((v, i) => ({
      ...this.#spec.toPython(v),
      params: this.paramGroups[i].params.map(() => next++),
    }));
    return { state, param_groups };
  }

  /**
   * Loads a state dict (ours or PyTorch's), as torch.optim's load_state_dict: the groups must match in number and
   * size; hyperparameters come from the saved groups; state tensors are copied, cast to their parameter's dtype and
   * device (`step` as it is; a number becomes a float32 tensor). Nothing changes when it throws.
   */
  loadStateDict(sd: LoadableStateDict): void {
    const name = this.#spec.name;
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.param_groups) || sd.state == null ||
      typeof sd.state !== 'object') {
      throw new TypeError(`${name}.loadStateDict: expected { state, param_groups }`);
    }
    const saved = sd.param_groups;
    if (saved.length !== this.paramGroups.length) {
      throw new RangeError(`${name}.loadStateDict: loaded state dict has a different number of parameter groups ` +
        `(${saved.length}, this optimizer has ${this.paramGroups.length})`);
    }
    const idToIndex = new Map<string, number>();
    let flat = 0;
    saved.forEach((g, i) => {
      const ids = g?.params;
      if (!Array.isArray(ids) || ids.length !== this.paramGroups[i].params.length) {
        throw new RangeError(`${name}.loadStateDict: loaded state dict contains a parameter group that doesn't ` +
          `match the size of optimizer's group (group ${i}: ${Array.isArray(ids) ? ids.length : 'no params list'}, ` +
          `expected ${this.paramGroups[i].params.length})`);
      }
      for (const id of ids) idToIndex.set(String(id), flat++);
    });
    const values = saved.map((g, i) => {
      const v = this.#spec.fromPython(g, this.#values[i]);
      freezeArrays(v);
      this.#spec.validate(v);
      return v;
    });
    const entries = sd.state instanceof Map ? [...sd.state.entries()] : Object.entries(sd.state);
    tidy(() => {
      const perParam: (Record<string, ReturnType<typeof rawOf> | null> | null)[] = new Array(flat).fill(null);
      for (const [id, entry] of entries) {
        const index = idToIndex.get(String(id));
        if (index === undefined) continue;  // PyTorch keeps such entries; no parameter can use them
        if (entry === null || typeof entry !== 'object') {
          throw new TypeError(`${name}.loadStateDict: the state of parameter ${String(id)} is not a dict`);
        }
        // No prototype: a state key from the file (`__proto__`) stays a key.
        const raw: Record<string, ReturnType<typeof rawOf> | null> = Object.create(null);
        const fields = entry instanceof Map ? [...entry.entries()] : Object.entries(entry);
        for (const [key, value] of fields as [string, unknown][]) {
          if (value instanceof Tensor) raw[key] = rawOf(value);
          else if (value === null) raw[key] = null;
          else if (key === 'step' && (typeof value === 'number' || typeof value === 'bigint')) {
            raw[key] = rawOf(tensor(Number(value), { dtype: 'float32' }));
          } else {
            throw new TypeError(`${name}.loadStateDict: state '${key}' of parameter ${String(id)} is not a tensor`);
          }
        }
        perParam[index] = raw;
      }
      native().optimLoadState(this.#live(), perParam);
    });
    values.forEach((v, i) => {
      this.#values[i] = v;
      native().optimSetHyper(this.#live(), i, this.#spec.toNative(v));
    });
  }

  /** Frees the optimiser's state now (otherwise the GC does); using it afterwards throws. */
  dispose(): void {
    if (this.#handle !== null) native().optimDispose(this.#handle);
    this.#handle = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function freezeArrays(o: object): void {
  for (const [k, v] of Object.entries(o)) {
    if (Array.isArray(v)) (o as Record<string, unknown>)[k] = Object.freeze([...v]);
  }
}

// ---- helpers for the subclasses' specs ----

/** @internal */
export function num(group: Record<string, unknown>, key: string, current: number): number {
  const v = group[key];
  if (v === undefined) return current;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`param group '${key}' must be a number, got ${v === null ? 'null' : typeof v}`);
}

/** @internal */
export function bool(group: Record<string, unknown>, key: string, current: boolean): boolean {
  const v = group[key];
  if (v === undefined) return current;
  if (typeof v === 'boolean') return v;
  throw new TypeError(`param group '${key}' must be a boolean, got ${v === null ? 'null' : typeof v}`);
}

/** @internal */
export function checkRange(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(message);
}

// nn.Sequential, nn.ModuleList and nn.ModuleDict: modules held under names ('0', '1', ... or the given keys), so their
// parameters have PyTorch's dotted names ('0.weight', 'layers.1.bias').
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';

/** A module that calls its modules in order, each on the previous one's output. */
export class Sequential extends Module {
  /** `new nn.Sequential(a, b, c)`, or one record of named modules in order (PyTorch's OrderedDict form). */
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const named = modules.length === 1 && !(modules[0] instanceof Module)
      ? Object.entries(modules[0] as Record<string, Module>)
      : (modules as Module[]).map((m, i): [string, Module] => [String(i), m]);
    for (const [name, m] of named) this.registerModule(name, m);
  }

  forward(input: Tensor): Tensor {
    let x: unknown = input;
    for (const m of this.children()) x = (m.forward as (x: unknown) => unknown)(x);
    return x as Tensor;
  }

  get length(): number {
    return this.children().length;
  }

  /** The module at index i (negative counts from the end). */
  at(i: number): Module {
    return atIndex(this.children(), i);
  }
}

/** A list of modules, registered as '0', '1', ...; it has no forward of its own. */
export class ModuleList extends Module {
  constructor(modules: Iterable<Module> = []) {
    super();
    this.extend(modules);
  }

  forward(): never {
    throw new TypeError('ModuleList has no forward(): call its modules');
  }

  append(module: Module): this {
    this.registerModule(String(this.length), module);
    return this;
  }

  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  at(i: number): Module {
    return atIndex(this.children(), i);
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

/** Modules by name, in insertion order (integer-like names first, as JavaScript orders such keys). */
export class ModuleDict extends Module {
  constructor(modules: Record<string, Module> = {}) {
    super();
    for (const [k, m] of Object.entries(modules)) this.set(k, m);
  }

  forward(): never {
    throw new TypeError('ModuleDict has no forward(): call its modules');
  }

  get(key: string): Module | undefined {
    return Object.hasOwn(this, key) ? this.namedChildren().find(([k]) => k === key)?.[1] : undefined;
  }

  set(key: string, module: Module): this {
    this.registerModule(key, module);
    return this;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  keys(): string[] {
    return this.namedChildren().map(([k]) => k);
  }

  values(): Module[] {
    return this.children();
  }

  entries(): [string, Module][] {
    return this.namedChildren();
  }

  get length(): number {
    return this.children().length;
  }
}

function atIndex(list: Module[], i: number): Module {
  if (!Number.isInteger(i) || i < -list.length || i >= list.length) throw new RangeError(`index ${i} is out of range`);
  return list[i < 0 ? list.length + i : i];
}

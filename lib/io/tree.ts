// The tree of a loaded file, as `lvmtorch inspect` prints it: every value with its dotted path (list items by
// index), and for each tensor its dtype, shape, device and the float64 sum of its elements.
import { Tensor } from '../tensor.js';
import {
  FrozenSet, PickleGlobal, PickleObject, PyComplex, PyFloat, isPlainObject, isTuple, pythonClass,
} from './pickle/values.js';

export interface TreeLine {
  path: string;
  depth: number;
  /** What the value is: a tensor's dtype/shape/device/sum, a container's kind and size, or a scalar's repr. */
  text: string;
  tensor?: TensorSummary;
}

export interface TensorSummary {
  dtype: string;
  shape: number[];
  device: string;
  /** The float64 sum of the elements; "nan", "inf" or "-inf" where it is not finite (JSON has no such numbers). */
  sum: number | string;
}

const MAX_DEPTH = 64;

export function tree(value: unknown): TreeLine[] {
  const lines: TreeLine[] = [];
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new RangeError(`${path}: nested more than ${MAX_DEPTH} levels deep`);
    if (v instanceof Tensor) {
      const tensor = summarize(v);
      const text = `${tensor.dtype} [${tensor.shape.join(', ')}] ${tensor.device} sum=${tensor.sum}`;
      lines.push({ path, depth, text, tensor });
      return;
    }
    const children = childrenOf(v);
    lines.push({ path, depth, text: children ? containerText(v, children.length) : scalarText(v) });
    for (const [key, child] of children ?? []) walk(child, path === '' ? key : `${path}.${key}`, depth + 1);
  };
  walk(value, '', 0);
  return lines;
}

/** `{ "<dotted.path>": { dtype, shape, sum } }` for every tensor, as `lvmtorch inspect --json` prints it. */
export function tensorIndex(lines: TreeLine[]): Record<string, { dtype: string; shape: number[]; sum: number | string }> {
  const out: Record<string, { dtype: string; shape: number[]; sum: number | string }> = {};
  for (const l of lines) if (l.tensor) out[l.path] = { dtype: l.tensor.dtype, shape: l.tensor.shape, sum: l.tensor.sum };
  return out;
}

export function formatTree(lines: TreeLine[]): string {
  return lines.map((l) => `${'  '.repeat(l.depth)}${l.path === '' ? '.' : l.path}: ${l.text}`).join('\n');
}

function summarize(t: Tensor): TensorSummary {
  const sum = t.numel === 0 ? 0 : Number(t.detach().to({ device: 'cpu', dtype: 'float64' }).sum().item());
  return {
    dtype: t.dtype,
    shape: [...t.shape],
    device: t.device,
    sum: Number.isFinite(sum) ? sum : Number.isNaN(sum) ? 'nan' : sum > 0 ? 'inf' : '-inf',
  };
}

function childrenOf(v: unknown): [string, unknown][] | undefined {
  if (Array.isArray(v)) return v.map((x, i) => [String(i), x]);
  if (v instanceof Set) return [...v].map((x, i) => [String(i), x]);
  if (v instanceof Map) return [...v].map(([k, x]) => [String(k), x]);
  if (v instanceof PickleObject) return pickleObjectChildren(v);
  if (isPlainObject(v)) return Object.entries(v);
  return undefined;
}

// An inert record shows what it would have been built from: its arguments, and its state's attributes
// (an argparse.Namespace's options) as if they were its own.
function pickleObjectChildren(o: PickleObject): [string, unknown][] {
  const out: [string, unknown][] = o.args.map((x, i) => [`args[${i}]`, x]);
  if (isPlainObject(o.state)) out.push(...Object.entries(o.state));
  else if (o.state !== undefined) out.push(['state', o.state]);
  o.listItems?.forEach((x, i) => out.push([String(i), x]));
  o.dictItems?.forEach((x, k) => out.push([String(k), x]));
  return out;
}

function containerText(v: unknown, n: number): string {
  const items = `${n} item${n === 1 ? '' : 's'}`;
  if (v instanceof PickleObject) return `${v.qualifiedName} (inert record, nothing was run), ${items}`;
  if (isTuple(v)) return `tuple, ${items}`;
  if (Array.isArray(v)) return `list, ${items}`;
  if (v instanceof FrozenSet) return `frozenset, ${items}`;
  if (v instanceof Set) return `set, ${items}`;
  const cls = isPlainObject(v) ? pythonClass(v) : undefined;
  return `${cls ?? 'dict'}, ${items}`;
}

function scalarText(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v);
  if (typeof v === 'bigint') return `${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (v instanceof PyFloat) return String(v.value);
  if (v instanceof PyComplex) return `complex(${v.re}, ${v.im})`;
  if (v instanceof PickleGlobal) return `${v.qualifiedName} (a class or function, by name)`;
  if (v instanceof Uint8Array) return `bytes, ${v.length} bytes`;
  return Object.prototype.toString.call(v);
}

// The tree of a file read as records (read-records.ts), as `lvmtorch inspect` prints it: every value with its
// dotted path (list items by index), and for each tensor its dtype, shape, device and the float64 sum of its
// elements. A container met again
// (a pickle can refer to one object many times, or to an ancestor: a cycle) is shown once, then named by the path
// where it was shown, so the tree grows with the file, not with the number of paths through it (a 200-byte pickle
// of 30 lists, each holding the next one twice, has 2^30 paths).
import type { Quantizer } from './arrays.js';
import { ArrayRecord } from './records.js';
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
  /**
   * The float64 sum of the elements (of the dequantized values, for a quantized tensor); "nan", "inf" or "-inf"
   * where it is not finite (JSON has no such numbers).
   */
  sum: number | string;
  /** A quantized tensor's scheme and parameters (per-channel ones in full up to 8 channels, else their range). */
  quantization?: QuantizationSummary;
}

export interface QuantizationSummary {
  qscheme: string;
  scale?: number;
  zeroPoint?: number;
  axis?: number;
  scales?: number[] | { min: number; max: number; count: number };
  zeroPoints?: number[] | { min: number; max: number; count: number };
}

/** As deep as the pickle reader lets a loaded value be (pickle/finish.ts). */
const MAX_DEPTH = 1000;

export function tree(value: unknown): TreeLine[] {
  const lines: TreeLine[] = [];
  const shownAt = new Map<object, string>();
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new RangeError(`${path}: nested more than ${MAX_DEPTH} levels deep`);
    if (v instanceof ArrayRecord) {
      const tensor = summarize(v);
      const q = tensor.quantization ? ` ${quantizationText(tensor.quantization)}` : '';
      const text = `${tensor.dtype} [${tensor.shape.join(', ')}] ${tensor.device}${q} sum=${tensor.sum}`;
      lines.push({ path, depth, text, tensor });
      return;
    }
    const children = childrenOf(v);
    if (children && children.length > 0) {
      const at = shownAt.get(v as object);
      if (at !== undefined) {
        lines.push({ path, depth, text: `${containerText(v, children.length)}: the same object as ${at === '' ? '.' : at}, shown there` });
        return;
      }
      shownAt.set(v as object, path);
    }
    lines.push({ path, depth, text: children ? containerText(v, children.length) : scalarText(v) });
    for (const [key, child] of children ?? []) walk(child, path === '' ? key : `${path}.${key}`, depth + 1);
  };
  walk(value, '', 0);
  return lines;
}

/**
 * `{ "<dotted.path>": { dtype, shape, sum } }` for every tensor, as `lvmtorch inspect --json` prints it. The record
 * has no prototype: a path from the file such as `__proto__` is a key like any other.
 */
export function tensorIndex(
  lines: TreeLine[],
): Record<string, { dtype: string; shape: number[]; sum: number | string; quantization?: QuantizationSummary }> {
  const out: Record<string, { dtype: string; shape: number[]; sum: number | string; quantization?: QuantizationSummary }> = Object.create(null);
  for (const l of lines) {
    if (!l.tensor) continue;
    out[l.path] = { dtype: l.tensor.dtype, shape: l.tensor.shape, sum: l.tensor.sum };
    if (l.tensor.quantization) out[l.path].quantization = l.tensor.quantization;
  }
  return out;
}

export function formatTree(lines: TreeLine[]): string {
  return lines.map((l) => `${'  '.repeat(l.depth)}${l.path === '' ? '.' : l.path}: ${l.text}`).join('\n');
}

function summarize(r: ArrayRecord): TensorSummary {
  const sum = r.values().reduce((a, b) => a + b, 0);
  const out: TensorSummary = {
    dtype: r.dtype,
    shape: [...r.shape],
    device: 'cpu', // where load() puts it
    sum: Number.isFinite(sum) ? sum : Number.isNaN(sum) ? 'nan' : sum > 0 ? 'inf' : '-inf',
  };
  if (r.quantizer) out.quantization = quantizationOf(r.quantizer);
  return out;
}

function quantizationOf(q: Quantizer<ArrayRecord>): QuantizationSummary {
  if (q.scheme === 'per_tensor_affine') return { qscheme: q.scheme, scale: q.scale, zeroPoint: q.zeroPoint };
  const values = (x: ArrayRecord): number[] | { min: number; max: number; count: number } => {
    const flat = x.values();
    if (flat.length <= 8) return Array.from(flat);
    return { min: flat.reduce((a, b) => Math.min(a, b)), max: flat.reduce((a, b) => Math.max(a, b)), count: flat.length };
  };
  return { qscheme: q.scheme, axis: q.axis, scales: values(q.scales), zeroPoints: values(q.zeroPoints) };
}

function quantizationText(q: QuantizationSummary): string {
  if (q.scale !== undefined) return `${q.qscheme} scale=${q.scale} zero_point=${q.zeroPoint}`;
  const list = (v: QuantizationSummary['scales']): string =>
    Array.isArray(v) ? `[${v.join(', ')}]` : `${v!.min}..${v!.max} (${v!.count})`;
  return `${q.qscheme} axis=${q.axis} scales=${list(q.scales)} zero_points=${list(q.zeroPoints)}`;
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

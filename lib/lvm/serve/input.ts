// A request's sequences, checked value by value and written straight into the Float32Array the forward pass reads
// ([rows, steps, inputDim]: each step's vector, then its 16-D TMD code when the model reads one). Wrong types are
// 422s (FastAPI's schema errors); values that parse but cannot be served (a wrong width, NaN, Infinity, a number
// beyond float32's range, an empty sequence, a code out of range) are 400s naming where they are.
import { badRequest, invalid } from './errors.js';
import { isNaNToken } from './json-body.js';
import type { ServedModel } from './served-model.js';
import { tmdProblem, writeTmd } from './tmd.js';

type Loc = (string | number)[];

/** The number of steps of a sequence, after checking that it is a non-empty list. */
export function stepsOf(seq: unknown, loc: Loc, model: ServedModel): number {
  if (!Array.isArray(seq)) throw invalid(loc, 'list_type', 'Input should be a valid list', seq);
  if (seq.length === 0) throw badRequest(`${where(loc)} is empty: it needs at least one ${model.vectorDim}-D vector`);
  const maxLen = model.config.maxLen;
  if (maxLen !== undefined && seq.length > maxLen) {
    throw badRequest(`${where(loc)} has ${seq.length} vectors; this model reads at most ${maxLen}`);
  }
  return seq.length;
}

/** Checks a TMD code when the model reads one (null when it does not: the code is ignored). */
export function tmdOf(codes: unknown, loc: Loc, model: ServedModel): number[] | null {
  if (!model.readsTmd) return null;
  if (codes === undefined) throw invalid(loc, 'missing', 'Field required', null);
  const c = codes as number[];
  const problem = tmdProblem(c);
  if (problem) throw badRequest(problem);
  return c;
}

/** Writes one checked sequence (and its code) into `out` from row `row` on. */
export function writeSequence(seq: unknown[], codes: number[] | null, loc: Loc, model: ServedModel, out: Float32Array, row: number): void {
  const d = model.vectorDim;
  const width = model.config.inputDim;
  const steps = seq.length;
  for (let t = 0; t < steps; t++) {
    const vec = seq[t];
    const at = (row * steps + t) * width;
    if (!Array.isArray(vec)) throw invalid([...loc, t], 'list_type', 'Input should be a valid list', vec);
    if (vec.length !== d) throw badRequest(`Expected ${d}D vectors, got ${vec.length}D (${where(loc)}[${t}])`);
    writeVector(vec, [...loc, t], out, at);
    if (codes) writeTmd(codes, out, at + d);
  }
}

/** Copies one vector of numbers into `out` at `at`, each checked: a number, finite, and finite as a float32. */
export function writeVector(vec: unknown[], loc: Loc, out: Float32Array, at: number): void {
  for (let i = 0; i < vec.length; i++) {
    const v = vec[i];
    if (typeof v !== 'number') {
      if (isNaNToken(v)) throw badRequest(`${where([...loc, i])} is NaN: every value must be a finite number`);
      throw invalid([...loc, i], 'float_type', 'Input should be a valid number', v);
    }
    if (!Number.isFinite(v)) throw badRequest(`${where([...loc, i])} is ${v}: every value must be a finite number`);
    out[at + i] = v;
    if (!Number.isFinite(out[at + i])) {
      throw badRequest(`${where([...loc, i])} is ${v}, beyond float32's range (magnitudes up to 3.4028235e38): every value must be a finite float32`);
    }
  }
}

/** The mock baseline: the L2-normalised mean of the sequence's vectors (their topic, without the model). */
export function meanOfSequence(input: Float32Array, steps: number, model: ServedModel): Float32Array {
  const d = model.vectorDim;
  const width = model.config.inputDim;
  // In float64: float32 sums and squares of values near float32's limit would overflow.
  const mean = new Float64Array(d);
  for (let t = 0; t < steps; t++) for (let i = 0; i < d; i++) mean[i] += input[t * width + i];
  let norm = 0;
  for (let i = 0; i < d; i++) norm += mean[i] * mean[i];
  norm = Math.sqrt(norm);
  return Float32Array.from(mean, (x) => (norm > 0 ? x / norm : x));
}

function where(loc: Loc): string {
  return loc.slice(1).map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}

// Handlers for the few Python standard-library globals that ordinary pickles use for plain data: sets, bytes
// under protocol 2 (`_codecs.encode`), bytearray, complex, OrderedDict, and the copyreg helpers protocols 0-1
// use to make instances. Each builds data from its arguments; none runs anything. Callers layer their own
// tables on top (torch-pickle.ts) with `chainGlobals`.
import type { CallContext, GlobalHandler, GlobalResolver } from './reader.js';
import { FrozenSet, PickleGlobal, PickleObject, PyComplex, setPythonClass } from './values.js';

const handlers: Record<string, GlobalHandler> = {
  'builtins.set': { call: (args) => new Set(iterableArg(args, 'set')) },
  'builtins.frozenset': { call: (args) => new FrozenSet(iterableArg(args, 'frozenset')) },
  'builtins.bytes': { call: (args) => bytesOf(args, 'bytes') },
  'builtins.bytearray': { call: (args) => bytesOf(args, 'bytearray') },
  'builtins.complex': { call: (args) => complexOf(args) },
  'builtins.slice': { call: (args) => new PickleObject('builtins', 'slice', args) },
  'builtins.object': {}, // only ever an argument of copyreg._reconstructor
  '_codecs.encode': { call: (args) => encode(args) },
  'collections.OrderedDict': { call: (args) => orderedDictOf(args) },
  'copyreg._reconstructor': { call: (args, _kw, ctx) => reconstruct(args, ctx) },
  'copyreg.__newobj__': { call: (args, _kw, ctx) => ctx.call(args[0], args.slice(1), 'newobj') },
};

/** Python's own data globals: set, frozenset, bytes, bytearray, complex, slice, OrderedDict, copyreg helpers. */
export const pythonGlobals: GlobalResolver = (module, name) => handlers[`${module}.${name}`];

/** The first resolver that knows a global answers for it. */
export function chainGlobals(...resolvers: (GlobalResolver | undefined)[]): GlobalResolver {
  return (module, name) => {
    for (const r of resolvers) {
      const h = r?.(module, name);
      if (h) return h;
    }
    return undefined;
  };
}

function iterableArg(args: unknown[], what: string): unknown[] {
  if (args.length === 0) return [];
  const items = args[0];
  if (Array.isArray(items)) return items;
  if (items instanceof Set) return [...items];
  throw new TypeError(`${what}() of ${typeof items}`);
}

// bytes(), bytes(b'..'), bytearray(b'..'), and protocol 2's bytearray('latin-1 text', 'latin-1').
function bytesOf(args: unknown[], what: string): Uint8Array {
  const [data, encoding] = args;
  if (data === undefined) return new Uint8Array(0);
  if (data instanceof Uint8Array) return new Uint8Array(data);
  if (typeof data === 'string') return encode([data, encoding ?? 'latin1']);
  if (Array.isArray(data) && data.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Uint8Array.from(data as number[]);
  throw new TypeError(`${what}() of ${typeof data}`);
}

// _codecs.encode(text, 'latin1'): how protocols 0-2 carry bytes (as text whose characters are the byte values).
function encode(args: unknown[]): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== 'string') throw new TypeError('encode() needs a str');
  const enc = String(encoding ?? 'utf-8').toLowerCase().replace(/[-_]/g, '');
  if (enc === 'utf8') return new TextEncoder().encode(text);
  if (enc !== 'latin1' && enc !== 'iso88591') throw new TypeError(`encode() to ${String(encoding)} is not supported`);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new RangeError(`character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

function complexOf(args: unknown[]): PyComplex {
  const [re = 0, im = 0] = args;
  if (typeof re !== 'number' || typeof im !== 'number') throw new TypeError('complex() needs two floats');
  return new PyComplex(re, im);
}

function orderedDictOf(args: unknown[]): Map<unknown, unknown> {
  const m = setPythonClass(new Map<unknown, unknown>(), 'collections.OrderedDict');
  const [items] = args;
  if (items === undefined) return m;
  const pairs = items instanceof Map ? [...items] : items;
  if (!Array.isArray(pairs)) throw new TypeError('OrderedDict() needs a list of pairs');
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2) throw new TypeError('OrderedDict() needs a list of pairs');
    m.set(p[0], p[1]);
  }
  return m;
}

// copyreg._reconstructor(cls, object, None): protocols 0-1's `object.__new__(cls)`; BUILD then sets its state.
function reconstruct(args: unknown[], ctx: CallContext): unknown {
  const [cls, base, state] = args;
  if (!(cls instanceof PickleGlobal)) throw new TypeError('_reconstructor needs a class');
  if (!(base instanceof PickleGlobal) || base.qualifiedName !== 'builtins.object' || state !== null) {
    return new PickleObject('copyreg', '_reconstructor', args);
  }
  return ctx.call(cls, [], 'newobj');
}

// The generic pickle reader and writer against CPython's pickle module: what Python writes under every protocol
// decodes to the same values; what we write, Python reads back exactly; malicious pickles run nothing; malformed
// ones give a PickleError with an offset, never a crash or a hang.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import {
  OPCODES, PickleError, PickleObject, PyComplex, PyFloat, Tuple, FrozenSet, dumps, loads, pyFloat, pythonGlobals, tuple,
  orderedDict, pythonClass,
} from '../dist/formats/pickle/index.js';
import { PythonServer, pythonMissing } from './helpers/python-server.js';
import { skipUnless } from './helpers/skip.js';

// Python's own pickle module is the reference here: no torch needed. One Python process for the whole file.
const missing = pythonMissing([]);
const server = missing ? null : new PythonServer('pickle_cases.py');
afterAll(() => server?.close());
const py = <T>(input: unknown): Promise<T> => server!.call<T>(input);
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const read = (data: Uint8Array, strict = false): unknown => loads(data, { globals: pythonGlobals, strict });

// The tagged JSON form test/python/pickle_cases.py describes Python values in.
function tag(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { t: 'int', v: v.toString() };
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) return { t: 'float', v: Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : '-0.0' };
    return v;
  }
  if (v instanceof Uint8Array) return { t: 'bytes', hex: Buffer.from(v).toString('hex') };
  if (v instanceof Tuple) return { t: 'tuple', v: [...v].map(tag) };
  if (Array.isArray(v)) return v.map(tag);
  if (v instanceof Map) return { t: 'dict', items: [...v].map(([k, x]) => [tag(k), tag(x)]) };
  if (v instanceof Set) {
    return { t: v instanceof FrozenSet ? 'frozenset' : 'set', v: [...v].map(tag).sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b))) };
  }
  if (v instanceof PyComplex) return { t: 'complex', v: [v.re, v.im] };
  if (v instanceof PyFloat) return v.value;
  // Plain objects: array-index keys are Python ints (the writer's rule), the others strs.
  if (typeof v === 'object') return { t: 'dict', items: Object.entries(v as object).map(([k, x]) => [/^(0|[1-9]\d*)$/.test(k) ? Number(k) : k, tag(x)]) };
  throw new Error(`no tag for ${typeof v}`);
}
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('pickles CPython writes', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  let cases: { name: string; protocol: number; b64: string; expected: unknown }[] = [];
  beforeAll(async () => {
    if (missing) return; // its tests skip, saying why
    cases = await py({ mode: 'protocols' });
  });

  it('the opcode table is pickletools.py\'s', async () => {
    const ref = await py<{ name: string; code: number; arg: string; proto: number }[]>({ mode: 'opcodes' });
    expect(OPCODES.map((o) => ({ name: o.name, code: o.code, arg: o.arg, proto: o.proto }))).toEqual(ref);
  });

  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    it(`protocol ${protocol}: every case decodes to Python's values`, () => {
      const mine = cases.filter((x) => x.protocol === protocol && x.expected !== null);
      expect(mine.map((c) => c.name)).toEqual(['scalars', 'strings', 'bytes', 'containers', 'numbers']);
      for (const c of mine) expect(tag(read(b64(c.b64), true)), `${c.name} protocol ${protocol}`).toEqual(c.expected);
    });
  }

  it('shared references stay shared, cycles stay cycles (every protocol)', () => {
    for (const c of cases.filter((x) => x.name === 'shared')) {
      const [dict, cyclic] = read(b64(c.b64)) as [{ a: number[]; b: number[] }, unknown[]];
      expect(dict.a).toBe(dict.b);
      expect(dict.a).toEqual([1, 2]);
      expect(cyclic[1]).toBe(cyclic);
    }
  });

  it('dicts: plain objects for str keys, Maps otherwise, insertion order kept; OrderedDict remembered', () => {
    const [containers] = [cases.find((x) => x.name === 'containers' && x.protocol === 2)!];
    const v = read(b64(containers.b64)) as unknown[];
    expect(Object.getPrototypeOf(v[8])).toBe(Object.prototype);
    expect(Object.keys(v[8] as object)).toEqual(['a', 'b']);
    expect(v[9]).toBeInstanceOf(Map);
    expect(v[10]).toBeInstanceOf(Map); // '0' would be reordered by a JS object
    expect(Object.isFrozen(v[4])).toBe(true);
    const numbers = read(b64(cases.find((x) => x.name === 'numbers' && x.protocol === 2)!.b64)) as unknown[];
    expect(Object.keys(numbers[1] as object)).toEqual(['z', 'a']);
    expect(pythonClass(numbers[1] as object)).toBe('collections.OrderedDict');
  });
});

describe('pickles we write, CPython reads', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const values: unknown[] = [
    null, true, false, 0, 1, -1, 255, 256, 65535, 65536, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1,
    -(2 ** 53 - 1), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 200n, 0.5, -0, 1e300, 5e-324, Infinity, -Infinity, 2 ** 60,
    pyFloat(1), pyFloat(3),
    '', 'a', 'héllo wörld', '日本語', 'emoji \u{1F600}', 'quote \' " back \\ nl \n', '\0\x1a', 'x'.repeat(300), 'lone \ud800 surrogate',
    new Uint8Array(0), Uint8Array.from([0, 255, 0, 255]), Uint8Array.from({ length: 256 }, (_, i) => i), Buffer.from('buffer'),
    [], tuple(), {}, [1, [2, [3]]], tuple(1), tuple(1, 2), tuple(1, 2, 3), tuple(1, 2, 3, 4), { a: 1, b: [1, 2] },
    new Map<unknown, unknown>([[1, 'int key'], ['s', 'str'], [tuple(1, 2), 'tuple key'], [null, 0], [2.5, 'float key'], [2n ** 70n, 'big']]),
    { 0: 'a', 7: 'b', x: 'c' }, new Set([1, 2, 3]), new FrozenSet(['a']), new PyComplex(1, -2),
    Array.from({ length: 1500 }, (_, i) => tuple<unknown>(i, String(i))), Object.fromEntries(Array.from({ length: 1100 }, (_, i) => [`k${i}`, i])),
    orderedDict({ z: 1, a: 2 }),
  ];

  it('Python reads back exactly what we wrote', async () => {
    const pickles = values.map((v) => dumps(v).toString('base64'));
    const back = await py<unknown[]>({ mode: 'loads', pickles });
    values.forEach((v, i) => expect(back[i], `value ${i}`).toEqual(tag(v)));
  });

  it('we read back exactly what we wrote', () => {
    for (const v of values) expect(tag(read(dumps(v)))).toEqual(tag(v));
  });

  it('shared objects are written once and cycles survive', async () => {
    const shared = [1, 2];
    const cyclic: unknown[] = [0];
    cyclic.push(cyclic);
    const data = dumps({ a: shared, b: shared, c: cyclic });
    const v = read(data) as { a: unknown; b: unknown; c: unknown[] };
    expect(v.a).toBe(v.b);
    expect(v.c[1]).toBe(v.c);
    const back = await py<unknown[]>({ mode: 'loads', pickles: [dumps({ a: shared, b: shared }).toString('base64')] });
    expect(back[0]).toEqual({ t: 'dict', items: [['a', [1, 2]], ['b', [1, 2]]] });
  });

  it('refuses what it cannot write, naming where', () => {
    expect(() => dumps({ a: [1, () => 1] })).toThrow(/cannot pickle a function at \[a\]\[1\]/);
    expect(() => dumps({ a: new Float32Array(2) })).toThrow(/Float32Array/);
    expect(dumps({ a: 1, skipped: undefined })).toEqual(dumps({ a: 1 }));
  });
});

describe('malicious pickles', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-pickle-'));
  const marker = join(dir, 'pwned');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let pickles: Record<string, string> = {};
  beforeAll(async () => {
    if (missing) return; // its tests skip, saying why
    pickles = await py({ mode: 'malicious', marker });
  });

  // Python only runs __new__ for NEWOBJ and NEWOBJ_EX, so those two run nothing even there.
  const inPythonRuns = (name: string): boolean => !name.startsWith('NEWOBJ');

  it('each really runs a command when Python loads it (so the tests below mean something)', async () => {
    const ran = await py<Record<string, boolean>>({ mode: 'run', marker, pickles });
    expect(Object.keys(ran).length).toBeGreaterThanOrEqual(16);
    for (const [name, did] of Object.entries(ran)) expect(did, name).toBe(inPythonRuns(name));
    expect(existsSync(marker)).toBe(false);
  });

  it('decode to inert records, or are refused; nothing runs', () => {
    for (const [name, data] of Object.entries(pickles)) {
      if (name === 'getattr') continue;
      const v = read(b64(data));
      expect(v, name).toBeInstanceOf(PickleObject);
      expect(existsSync(marker), name).toBe(false);
    }
    const sys = read(b64(pickles['os.system/2'])) as PickleObject;
    expect([sys.module, sys.name]).toEqual(['posix', 'system']);
    expect(sys.args).toEqual([`touch ${marker}`]);
    expect(Object.isFrozen(sys.args)).toBe(true);
    for (const name of ['INST', 'OBJ', 'STACK_GLOBAL']) {
      const o = read(b64(pickles[name])) as PickleObject;
      expect([o.module, o.name, o.how, [...o.args]], name).toEqual(['os', 'system', 'reduce', [`touch ${marker}`]]);
    }
    const popen = read(b64(pickles.NEWOBJ)) as PickleObject;
    expect([popen.qualifiedName, popen.how, popen.args]).toEqual(['subprocess.Popen', 'newobj', [['touch', marker]]]);
    const popenEx = read(b64(pickles.NEWOBJ_EX)) as PickleObject;
    expect([popenEx.qualifiedName, popenEx.how, popenEx.kwargs]).toEqual(['subprocess.Popen', 'newobj', {}]);
    expect((read(b64(pickles['Popen/2'])) as PickleObject).qualifiedName).toBe('subprocess.Popen'); // written as commands.Popen
    // getattr(__import__('os'), 'system')(cmd): calling what an inert call returned is refused.
    expect(() => read(b64(pickles.getattr))).toThrow(/calls a builtins\.getattr object, which is not a class or function/);
    expect(existsSync(marker)).toBe(false);
  });

  it('strict mode refuses them, naming the global', () => {
    const refused: [string, RegExp][] = [
      ['os.system/0', /global posix\.system is not allowed/], ['os.system/2', /global posix\.system is not allowed/],
      ['os.system/4', /global posix\.system is not allowed \(at byte \d+, STACK_GLOBAL\)/],
      ['eval/0', /global builtins\.eval is not allowed/], ['eval/4', /global builtins\.eval is not allowed/],
      ['Popen/2', /global subprocess\.Popen is not allowed/], ['posix.system', /global posix\.system is not allowed/],
      ['INST', /global os\.system is not allowed \(at byte \d+, INST\)/], ['OBJ', /global os\.system is not allowed/],
      ['STACK_GLOBAL', /global os\.system is not allowed/], ['getattr', /global builtins\.getattr is not allowed/],
      ['NEWOBJ', /global subprocess\.Popen is not allowed/], ['NEWOBJ_EX', /global subprocess\.Popen is not allowed/],
    ];
    for (const [name, message] of refused) expect(() => read(b64(pickles[name]), true), name).toThrow(message);
    expect(existsSync(marker)).toBe(false);
  });

  it('__proto__ and constructor keys are plain data', () => {
    const evil = dumps(new Map<unknown, unknown>([
      ['__proto__', new Map([['polluted', 'yes']])],
      ['constructor', new Map([['prototype', new Map([['polluted2', 'yes']])]])],
    ]));
    const v = read(evil) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect(v.__proto__).toEqual({ polluted: 'yes' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor']);
  });
});

describe('malformed pickles', () => {
  const good = dumps({ a: [1, 2.5, 'text', tuple(1, 2)], b: new Map([[1, Uint8Array.from([1, 2, 3])]]), c: 2n ** 80n });

  it('every truncation is a PickleError', () => {
    for (let n = 0; n < good.length; n++) expect(() => read(good.subarray(0, n)), `cut at ${n}`).toThrow(PickleError);
  });

  it('random corruption never crashes: a value or a PickleError', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 3000; i++) {
      const bad = Buffer.from(good);
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
      try {
        read(bad);
      } catch (e) {
        expect(e, `mutation ${i}`).toBeInstanceOf(PickleError);
      }
    }
  });

  const cases: [string, number[], RegExp][] = [
    ['bad opcode', [0x80, 2, 0xff], /unknown opcode 0xff \(at byte 2\)/],
    ['stack underflow', [0x80, 2, 0x2e], /stack underflow \(at byte 2, STOP\)/],
    ['APPEND with nothing', [0x5d, 0x61, 0x2e], /stack underflow \(at byte 1, APPEND\)/],
    ['pop below a MARK', [0x5d, 0x28, 0x61, 0x2e], /pops below a MARK \(at byte 2, APPEND\)/],
    ['APPENDS without MARK', [0x5d, 0x65, 0x2e], /no MARK to pop to \(at byte 1, APPENDS\)/],
    ['lying BINUNICODE length', [0x58, 0xff, 0xff, 0xff, 0xff, 0x61, 0x2e], /needs 4294967295 bytes, only 2 left .* \(at byte 0, BINUNICODE\)/],
    ['lying BINBYTES8 length', [0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x2e], /exceeds the 1 bytes left \(at byte 0, BINBYTES8\)/],
    ['lying FRAME length', [0x80, 4, 0x95, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e], /FRAME/],
    ['missing memo', [0x68, 7, 0x2e], /memo key 7 was never stored \(at byte 0, BINGET\)/],
    ['odd SETITEMS', [0x7d, 0x28, 0x4e, 0x75, 0x2e], /odd number of items \(1\) for a dict/],
    ['SETITEM on a list', [0x5d, 0x4e, 0x4e, 0x73, 0x2e], /cannot set items on a list \(at byte 3, SETITEM\)/],
    ['APPEND on a tuple', [0x29, 0x4e, 0x61, 0x2e], /cannot append to a tuple/],
    ['REDUCE on a number', [0x4b, 1, 0x29, 0x52, 0x2e], /calls a number, which is not a class or function \(at byte 3, REDUCE\)/],
    ['EXT1', [0x80, 2, 0x82, 1, 0x2e], /extension registry .* \(at byte 2, EXT1\)/],
    ['protocol 6', [0x80, 6, 0x4e, 0x2e], /unsupported pickle protocol 6/],
    ['no STOP', [0x80, 2, 0x4e], /no STOP opcode/],
    ['INT without newline', [0x49, 0x31, 0x32], /no terminating newline \(at byte 0, INT\)/],
    ['bad INT text', [...Buffer.from('Iabc\n.')], /not a decimal integer/],
    ['negative LONG4 length', [0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e], /negative LONG4 length/],
    ['lying LONG4 length', [0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e], /needs 2147483647 bytes, only 1 left .*LONG4/],
    ['lying BINUNICODE8 length', [0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e], /length 18446744073709551615 exceeds the 1 bytes left/],
    ['lying BYTEARRAY8 length', [0x96, 0, 0, 0, 0, 1, 0, 0, 0, 0x2e], /length 4294967296 exceeds .*BYTEARRAY8/],
    ['lying SHORT_BINBYTES length', [0x43, 200, 1, 2, 0x2e], /needs 200 bytes, only 3 left/],
    ['memo key far away', [0x6a, 0xff, 0xff, 0xff, 0xff, 0x2e], /memo key 4294967295 was never stored \(at byte 0, LONG_BINGET\)/],
    ['GET with a bad index', [...Buffer.from('g-1\n.')], /invalid memo index -1/],
    ['TUPLE without MARK', [0x4e, 0x74, 0x2e], /no MARK to pop to/],
    ['STACK_GLOBAL of non-strings', [0x80, 4, 0x4b, 1, 0x4b, 2, 0x93, 0x2e], /STACK_GLOBAL needs two strings/],
    ['BUILD on a number', [0x4b, 1, 0x7d, 0x62, 0x2e], /cannot BUILD a number/],
    ['invalid UTF-8', [0x8c, 2, 0xc3, 0x28, 0x2e], /invalid UTF-8.*SHORT_BINUNICODE/],
    ['persistent id without a loader', [0x4e, 0x51, 0x2e], /no persistentLoad/],
    ['NEXT_BUFFER', [0x80, 5, 0x97, 0x2e], /out-of-band buffers/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      const err = (() => {
        try {
          read(Uint8Array.from(bytes));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(PickleError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('deep nesting is refused, not a stack overflow: lists, tuples, dicts, sets, objects', () => {
    const depth = 20_000;
    const lists = [0x80, 2, ...Array<number>(depth).fill(0x5d), ...Array<number>(depth - 1).fill(0x61), 0x2e];
    expect(() => read(Uint8Array.from(lists))).toThrow(/nested deeper than 1000/);
    const tuples = [0x80, 2, 0x4e, ...Array<number>(depth).fill(0x85), 0x2e]; // None, then TUPLE1 over and over
    expect(() => read(Uint8Array.from(tuples))).toThrow(/nested deeper than 1000/);
    // {0: {0: ...}}: EMPTY_DICT BININT1 0 ... then SETITEM from the inside out
    const dicts = [0x80, 2, ...Array.from({ length: depth }, () => [0x7d, 0x4b, 0]).flat(), 0x4e, ...Array<number>(depth).fill(0x73), 0x2e];
    expect(() => read(Uint8Array.from(dicts))).toThrow(/nested deeper than 1000/);
    const frozensets = [0x80, 4, ...Array<number>(depth).fill(0x28), ...Array<number>(depth).fill(0x91), 0x2e];
    expect(() => read(Uint8Array.from(frozensets))).toThrow(/nested deeper than 1000/);
    // m.C(m.C(...)) as inert objects, each the argument of the next
    const objects = [0x80, 2, 0x63, ...Buffer.from('m\nC\n'), 0x94, ...Array<number>(depth - 1).fill(0).flatMap(() => [0x68, 0]), 0x4e,
      ...Array<number>(depth).fill(0).flatMap(() => [0x85, 0x52]), 0x2e];
    expect(() => read(Uint8Array.from(objects))).toThrow(/nested deeper than 1000/);
    expect(() => read(Uint8Array.from(lists), true)).toThrow(PickleError);
  });

  it('the memo cannot blow values up: a list of 2^60 paths to one empty list loads in linear time', () => {
    // L0 = []; L(i) = [L(i-1), L(i-1)], each through the memo.
    const parts = [0x80, 2, 0x5d, 0x71, 0];
    for (let i = 1; i <= 60; i++) parts.push(0x30, 0x5d, 0x71, i, 0x28, 0x68, i - 1, 0x68, i - 1, 0x65);
    parts.push(0x2e);
    const t0 = performance.now();
    let v = read(Uint8Array.from(parts)) as unknown[];
    expect(performance.now() - t0).toBeLessThan(1000);
    for (let i = 60; i > 0; i--) {
      expect(v[0]).toBe(v[1]);
      v = v[0] as unknown[];
    }
    expect(v).toEqual([]);
    // Re-pickling it stays small too: the writer memoizes by identity.
    expect(dumps(read(Uint8Array.from(parts))).length).toBeLessThan(2000);
  });

  it('memo slots can be overwritten and far apart, as in Python', () => {
    // 'a' PUT 7, 'b' PUT 7, GET 7 -> 'b'; LONG_BINPUT 2^32-1 then LONG_BINGET it.
    const bytes = [0x80, 2, 0x8c, 1, 0x61, 0x71, 7, 0x30, 0x8c, 1, 0x62, 0x71, 7, 0x30, 0x4b, 5, 0x72, 0xff, 0xff, 0xff, 0xff, 0x30,
      0x68, 7, 0x6a, 0xff, 0xff, 0xff, 0xff, 0x86, 0x2e];
    expect([...(read(Uint8Array.from(bytes)) as unknown[])]).toEqual(['b', 5]);
  });

  it('the writer refuses nesting deeper than 1000; cycles through tuples survive, as CPython writes them', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 2000; i++) deep = [deep];
    expect(() => dumps(deep)).toThrow(/nesting deeper than 1000/);
    for (const size of [1, 5]) {
      const list: unknown[] = [];
      const cyc = tuple<unknown>(list, ...Array<number>(size - 1).fill(0));
      list.push(cyc);
      const v = read(dumps(cyc)) as unknown[][];
      expect(v[0][0], `size ${size}`).toBe(v);
      expect(v.length).toBe(size);
    }
  });

  it('huge integers in text are refused like Python does', () => {
    expect(() => read(Buffer.from(`L${'9'.repeat(5000)}L\n.`))).toThrow(/exceeds 4300/);
  });

  it('inputs built to be slow stay linear', () => {
    // One big dict fetched and BUILT onto many objects; many APPENDs onto one object; a long mark stack.
    const n = 50_000;
    const parts: number[] = [0x80, 2, 0x7d, 0x94, 0x28]; // {} MEMOIZE MARK
    for (let i = 0; i < 1000; i++) parts.push(0x4b, i & 0xff, 0x4b, 1);
    parts.push(0x75, 0x30, 0x5d); // SETITEMS POP []
    for (let i = 0; i < n; i++) parts.push(0x63, ...Buffer.from('m\nC\n'), 0x29, 0x52, 0x68, 0, 0x62, 0x61); // m.C() BUILD(memo0) APPEND
    parts.push(0x2e);
    const t0 = performance.now();
    const v = read(Uint8Array.from(parts)) as PickleObject[];
    expect(v.length).toBe(n);
    expect(v[0].state).toBe(v[1].state);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

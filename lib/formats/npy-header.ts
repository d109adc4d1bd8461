// The header of a .npy file: magic, version, and a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// (numpy/lib/format.py). Parsed by a small literal reader that knows strings, ints, booleans, tuples, lists and
// dicts, and nothing that runs code.

export const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** numpy refuses headers over 10000 bytes by default; we allow more, but not absurd amounts. */
export const MAX_HEADER = 1 << 20;
/** numpy pads the header so that the data starts at a multiple of this. */
export const ALIGN = 64;

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

type Literal = string | number | boolean | null | Literal[] | Map<string, Literal>;

/** Length of the fixed prefix before the header text: magic, version, and the header length field. */
export function prefixLength(major: number): number {
  return major === 1 ? 10 : 12;
}

export function parseHeader(text: string, fail: (m: string) => Error): NpyHeader {
  const value = new LiteralReader(text, fail).document();
  if (!(value instanceof Map)) throw fail('the header is not a dict');
  const descr = value.get('descr');
  const fortranOrder = value.get('fortran_order');
  const shape = value.get('shape');
  if (Array.isArray(descr)) throw fail('structured (record) dtypes are not supported');
  if (typeof descr !== 'string') throw fail(`the header's 'descr' is not a string`);
  if (typeof fortranOrder !== 'boolean') throw fail(`the header's 'fortran_order' is not True or False`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`the header's 'shape' is not a tuple of non-negative integers`);
  }
  return { descr, fortranOrder, shape: shape as number[] };
}

export function formatHeader(h: NpyHeader): Buffer {
  const shape = h.shape.length === 1 ? `(${h.shape[0]},)` : `(${h.shape.join(', ')})`;
  const dict = `{'descr': '${h.descr}', 'fortran_order': ${h.fortranOrder ? 'True' : 'False'}, 'shape': ${shape}, }`;
  for (const major of [1, 2]) {
    const unpadded = prefixLength(major) + dict.length + 1; // + the closing newline
    const total = Math.ceil(unpadded / ALIGN) * ALIGN;
    const length = total - prefixLength(major);
    if (major === 1 && length > 0xffff) continue;
    const out = Buffer.alloc(total, ' ');
    MAGIC.copy(out, 0);
    out[6] = major;
    out[7] = 0;
    if (major === 1) out.writeUInt16LE(length, 8);
    else out.writeUInt32LE(length, 8);
    out.write(dict, prefixLength(major), 'latin1');
    out[total - 1] = 0x0a;
    return out;
  }
  throw new Error('unreachable');
}

class LiteralReader {
  #p = 0;
  constructor(private readonly s: string, private readonly fail: (m: string) => Error) {}

  document(): Literal {
    const v = this.value(0);
    this.#skip();
    if (this.#p !== this.s.length) throw this.#error('unexpected text after the dict');
    return v;
  }

  value(depth: number): Literal {
    if (depth > 32) throw this.#error('nested too deeply');
    this.#skip();
    const c = this.s[this.#p];
    if (c === '{') return this.#dict(depth);
    if (c === '(' || c === '[') return this.#sequence(c === '(' ? ')' : ']', depth);
    if (c === "'" || c === '"') return this.#string();
    if (c !== undefined && /[-+0-9]/.test(c)) return this.#int();
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (this.s.startsWith(word, this.#p)) {
        this.#p += word.length;
        return v;
      }
    }
    throw this.#error('expected a value');
  }

  #dict(depth: number): Map<string, Literal> {
    const out = new Map<string, Literal>();
    this.#p++;
    while (!this.#eat('}')) {
      const key = this.value(depth + 1);
      if (typeof key !== 'string') throw this.#error('dict keys must be strings');
      if (!this.#eat(':')) throw this.#error("expected ':'");
      out.set(key, this.value(depth + 1));
      if (!this.#eat(',') && !this.#peek('}')) throw this.#error("expected ',' or '}'");
    }
    return out;
  }

  #sequence(close: string, depth: number): Literal[] {
    const out: Literal[] = [];
    this.#p++;
    while (!this.#eat(close)) {
      out.push(this.value(depth + 1));
      if (!this.#eat(',') && !this.#peek(close)) throw this.#error(`expected ',' or '${close}'`);
    }
    return out;
  }

  #string(): string {
    const quote = this.s[this.#p++];
    const start = this.#p;
    // numpy's descr strings have no escapes; refuse them rather than half-understand them.
    while (this.#p < this.s.length && this.s[this.#p] !== quote) {
      if (this.s[this.#p] === '\\') throw this.#error('escapes in strings are not supported');
      this.#p++;
    }
    if (this.#p >= this.s.length) throw this.#error('unterminated string');
    return this.s.slice(start, this.#p++);
  }

  #int(): number {
    const m = /^[-+]?[0-9]+L?/.exec(this.s.slice(this.#p, this.#p + 40));
    if (!m) throw this.#error('expected an integer');
    this.#p += m[0].length;
    const n = Number(m[0].replace('L', ''));
    if (!Number.isSafeInteger(n)) throw this.#error(`integer ${m[0]} is too large`);
    return n;
  }

  #skip(): void {
    while (this.#p < this.s.length && /\s/.test(this.s[this.#p])) this.#p++;
  }
  #peek(c: string): boolean {
    this.#skip();
    return this.s[this.#p] === c;
  }
  #eat(c: string): boolean {
    if (!this.#peek(c)) return false;
    this.#p++;
    return true;
  }
  #error(m: string): Error {
    return this.fail(`cannot parse the header at character ${this.#p}: ${m}`);
  }
}

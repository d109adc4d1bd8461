// The text arguments of protocol 0 (newline-terminated): decimal integers, float reprs, Python 2 string
// reprs and raw-unicode-escape. Each throws a RangeError on text CPython would refuse; the reader adds where.

/** Python refuses int() of longer decimal strings (sys.int_info.default_max_str_digits); so do we. */
const MAX_DIGITS = 4300;

/** A decimal integer (INT, LONG, GET, PUT): a number when exact, else a bigint. */
export function parseDecimal(text: string): number | bigint {
  const t = text.trim();
  if (!/^[+-]?[0-9]+$/.test(t)) throw new RangeError(`not a decimal integer: ${JSON.stringify(text.slice(0, 40))}`);
  if (t.length > MAX_DIGITS) throw new RangeError(`integer of ${t.length} digits exceeds ${MAX_DIGITS}`);
  return normalizeInt(BigInt(t));
}

/** An int as our object model holds it: a number within +-2^53, a bigint beyond. */
export function normalizeInt(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** A float repr (FLOAT), as Python's float() reads it. */
export function parseFloatText(text: string): number {
  const t = text.trim();
  const number = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
  const special = /^[+-]?(?:inf|infinity|nan)$/i;
  if (number.test(t)) return Number(t);
  if (special.test(t)) return /nan/i.test(t) ? NaN : t.startsWith('-') ? -Infinity : Infinity;
  throw new RangeError(`not a float: ${JSON.stringify(text.slice(0, 40))}`);
}

const SIMPLE_ESCAPES: Record<string, number> = {
  '\\': 0x5c, "'": 0x27, '"': 0x22, a: 0x07, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b,
};

/** A quoted Python 2 str repr (STRING): `'abc\n'` -> its bytes, escapes decoded as codecs.escape_decode does. */
export function decodeStringRepr(raw: Uint8Array): Uint8Array {
  const q = raw[0];
  if (raw.length < 2 || (q !== 0x27 && q !== 0x22) || raw[raw.length - 1] !== q) {
    throw new RangeError('the STRING opcode argument must be quoted');
  }
  const out: number[] = [];
  for (let i = 1; i < raw.length - 1; i++) {
    const c = raw[i];
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    i = decodeEscape(raw, i + 1, raw.length - 1, out);
  }
  return Uint8Array.from(out);
}

// Decodes the escape starting after a backslash at `i`; returns the index of its last byte.
function decodeEscape(raw: Uint8Array, i: number, end: number, out: number[]): number {
  if (i >= end) throw new RangeError('a STRING ends in a backslash');
  const ch = String.fromCharCode(raw[i]);
  if (ch in SIMPLE_ESCAPES) {
    out.push(SIMPLE_ESCAPES[ch]);
    return i;
  }
  if (ch === '\n') return i; // line continuation
  if (ch === 'x') {
    const hex = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
    if (i + 2 >= end || !/^[0-9a-fA-F]{2}$/.test(hex)) throw new RangeError('invalid \\x escape in a STRING');
    out.push(parseInt(hex, 16));
    return i + 2;
  }
  if (ch >= '0' && ch <= '7') {
    let j = i;
    let v = 0;
    while (j < end && j < i + 3 && raw[j] >= 0x30 && raw[j] <= 0x37) v = v * 8 + (raw[j++] - 0x30);
    out.push(v & 0xff);
    return j - 1;
  }
  out.push(0x5c, raw[i]); // Python keeps unknown escapes as they are
  return i;
}

/** raw-unicode-escape (UNICODE): bytes are Latin-1 characters, except \uXXXX and \UXXXXXXXX escapes. */
export function decodeRawUnicodeEscape(raw: Uint8Array): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    const kind = raw[i + 1];
    if (c === 0x5c && (kind === 0x75 || kind === 0x55)) {
      const n = kind === 0x75 ? 4 : 8;
      const hex = String.fromCharCode(...raw.subarray(i + 2, i + 2 + n));
      if (hex.length !== n || !/^[0-9a-fA-F]+$/.test(hex)) throw new RangeError('truncated \\uXXXX escape');
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw new RangeError('\\U escape beyond U+10FFFF');
      out += String.fromCodePoint(cp);
      i += 1 + n;
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}

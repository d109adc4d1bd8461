// UTF-8 as pickle uses it: CPython encodes str with 'surrogatepass', so a lone surrogate (legal in a Python str
// and in a JS string) travels as its 3-byte form instead of failing. TextDecoder/TextEncoder would replace it.

const strict = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Decodes UTF-8 (with lone surrogates allowed); throws a RangeError on bytes that are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    return decodeSurrogatePass(bytes);
  }
}

/** Encodes a string as UTF-8, lone surrogates as their 3-byte forms. */
export function encodeUtf8(s: string): Uint8Array {
  return LONE_SURROGATE.test(s) ? encodeSurrogatePass(s) : encoder.encode(s);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function decodeSurrogatePass(b: Uint8Array): string {
  const units: number[] = [];
  let out = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let cp: number;
    let n: number;
    if (c < 0x80) [cp, n] = [c, 1];
    else if (c >= 0xc2 && c < 0xe0) [cp, n] = [c & 0x1f, 2];
    else if (c >= 0xe0 && c < 0xf0) [cp, n] = [c & 0x0f, 3];
    else if (c >= 0xf0 && c < 0xf5) [cp, n] = [c & 0x07, 4];
    else throw new RangeError(`invalid UTF-8 byte 0x${c.toString(16)} at ${i}`);
    if (i + n > b.length) throw new RangeError(`truncated UTF-8 sequence at ${i}`);
    for (let k = 1; k < n; k++) {
      if ((b[i + k] & 0xc0) !== 0x80) throw new RangeError(`invalid UTF-8 continuation at ${i + k}`);
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    const min = n === 2 ? 0x80 : n === 3 ? 0x800 : n === 4 ? 0x10000 : 0;
    if (cp < min || cp > 0x10ffff) throw new RangeError(`overlong or out-of-range UTF-8 at ${i}`);
    if (cp >= 0x10000) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    i += n;
    if (units.length >= 4096) out += String.fromCharCode(...units.splice(0));
  }
  return out + String.fromCharCode(...units);
}

function encodeSurrogatePass(s: string): Uint8Array {
  const parts: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (cp >= 0xd800 && cp < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (cp < 0x80) parts.push(cp);
    else if (cp < 0x800) parts.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) parts.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else parts.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(parts);
}

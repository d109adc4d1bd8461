// Request bodies as the seed's clients write them: JSON, or Python's json dialect, whose `NaN`, `Infinity` and
// `-Infinity` JSON.parse refuses. Those tokens are rewritten outside strings in one linear pass (only when the body
// holds one), so that the answer can say where the bad value is: `Infinity` becomes a number that parses to
// Infinity (1e999), and `NaN`, which no JSON number parses to, the string "NaN", which the value checks read as NaN
// (pydantic reads that string as a NaN float too). The work per body is linear: no backtracking regular expression,
// no recursive parser.
import { invalid } from './errors.js';

/** The body, parsed; a 422 (pydantic's json_invalid) when it is not JSON. */
export function parseJsonBody(text: string): unknown {
  const source = text.includes('NaN') || text.includes('Infinity') ? pythonTokensToJson(text) : text;
  try {
    return JSON.parse(source);
  } catch (e) {
    throw invalid(['body', 0], 'json_invalid', 'JSON decode error', {}, { error: (e as Error).message });
  }
}

/** A value that stands for NaN in a parsed body: the string "NaN" (what a bare NaN becomes). */
export function isNaNToken(v: unknown): boolean {
  return v === 'NaN';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const N = 0x4e;
const I = 0x49;
const MINUS = 0x2d;

function pythonTokensToJson(text: string): string {
  const parts: string[] = [];
  let from = 0;
  const replace = (at: number, length: number, json: string): number => {
    parts.push(text.slice(from, at), json);
    from = at + length;
    return from - 1;
  };
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === N && text.startsWith('NaN', i)) {
      i = replace(i, 3, '"NaN"');
    } else if (c === I && text.startsWith('Infinity', i)) {
      i = replace(i, 8, '1e999');
    } else if (c === MINUS && text.charCodeAt(i + 1) === I && text.startsWith('-Infinity', i)) {
      i = replace(i, 9, '-1e999');
    }
  }
  if (from === 0) return text;
  parts.push(text.slice(from));
  return parts.join('');
}

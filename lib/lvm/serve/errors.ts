// The server's errors, shaped as FastAPI shapes them, so the seed server's clients read them unchanged: a 4xx
// with {detail: string} for a request the server understood and refuses (400 bad values, 403, 404, 413), and
// 422 with {detail: [{type, loc, msg, input}]} (pydantic's error list) for a body or query of the wrong shape.
import { LvmtorchError } from '../../errors.js';

/** One pydantic-style validation error. */
export interface FieldError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

export class HttpError extends LvmtorchError {
  readonly statusCode: number;
  readonly detail: string | FieldError[];
  constructor(statusCode: number, detail: string | FieldError[]) {
    super(typeof detail === 'string' ? detail : detail.map((d) => `${d.loc.join('.')}: ${d.msg}`).join('; '), 'ERR_HTTP');
    this.statusCode = statusCode;
    this.detail = detail;
  }
}

/** A 422 for one field, as FastAPI answers it. */
export function invalid(loc: (string | number)[], type: string, msg: string, input?: unknown, ctx?: Record<string, unknown>): HttpError {
  return new HttpError(422, [{ type, loc, msg, ...(input === undefined ? {} : { input: echo(input) }), ...(ctx ? { ctx } : {}) }]);
}

const ECHO_NODES = 256;
const ECHO_DEPTH = 8;
const ECHO_STRING = 256;

/**
 * What an error says of the input it refuses. pydantic echoes the input whole; here a large or deeply nested value
 * is described instead, so that an answer stays small and serialising it is cheap and cannot overflow the stack.
 */
export function echo(v: unknown): unknown {
  if (typeof v === 'string') return v.length > ECHO_STRING ? `${v.slice(0, ECHO_STRING)}... (${v.length} characters)` : v;
  if (v === null || typeof v !== 'object') return v;
  let budget = ECHO_NODES;
  const small = (x: unknown, depth: number): boolean => {
    if (--budget < 0 || depth > ECHO_DEPTH) return false;
    if (typeof x === 'string') return x.length <= ECHO_STRING;
    if (x === null || typeof x !== 'object') return true;
    const items = Array.isArray(x) ? x : Object.keys(x);
    if (items.length > budget) return false;
    return Array.isArray(x) ? x.every((y) => small(y, depth + 1)) : items.every((k) => small((x as Record<string, unknown>)[k], depth + 1));
  };
  if (small(v, 0)) return v;
  return Array.isArray(v) ? `(a list of ${v.length} items, too large to repeat)` : `(an object of ${Object.keys(v).length} keys, too large to repeat)`;
}

export const badRequest = (detail: string): HttpError => new HttpError(400, detail);

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const PYDANTIC_TYPES: Record<string, [string, string]> = {
  number: ['float_type', 'Input should be a valid number'],
  integer: ['int_type', 'Input should be a valid integer'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  array: ['list_type', 'Input should be a valid list'],
  object: ['model_attributes_type', 'Input should be a valid dictionary or object to extract fields from'],
  string: ['string_type', 'Input should be a valid string'],
};

/** Fastify's (ajv's) first schema error as pydantic's error list; `where` is 'body' or 'query'. */
export function fromSchemaErrors(errors: AjvError[], where: string, data: unknown): FieldError[] {
  return errors.slice(0, 1).map((e) => {
    const path = e.instancePath.split('/').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
    const input = echo(path.reduce<unknown>((v, k) => ownValue(v, k), data));
    const loc = [where, ...path];
    switch (e.keyword) {
      case 'required':
        return { type: 'missing', loc: [...loc, String(e.params.missingProperty)], msg: 'Field required', input: input ?? null };
      case 'type': {
        const [type, msg] = PYDANTIC_TYPES[String(e.params.type)] ?? ['type_error', e.message ?? 'wrong type'];
        return { type, loc, msg, input };
      }
      case 'minItems':
        return { type: 'too_short', loc, msg: `List should have at least ${e.params.limit} items after validation, not ${lengthAt(path, data)}`, input };
      case 'maxItems':
        return { type: 'too_long', loc, msg: `List should have at most ${e.params.limit} items after validation, not ${lengthAt(path, data)}`, input };
      case 'minimum':
        return { type: 'greater_than_equal', loc, msg: `Input should be greater than or equal to ${e.params.limit}`, input, ctx: { ge: e.params.limit } };
      case 'maximum':
        return { type: 'less_than_equal', loc, msg: `Input should be less than or equal to ${e.params.limit}`, input, ctx: { le: e.params.limit } };
      default:
        return { type: e.keyword, loc, msg: e.message ?? e.keyword, input };
    }
  });
}

// A request's own property only: a name such as `__proto__` or `constructor` in a path reads nothing inherited.
function ownValue(v: unknown, k: string | number): unknown {
  return v !== null && typeof v === 'object' && Object.hasOwn(v, k) ? (v as Record<string | number, unknown>)[k] : undefined;
}

function lengthAt(path: (string | number)[], data: unknown): number {
  return (path.reduce<unknown>((v, k) => ownValue(v, k), data) as unknown[]).length;
}

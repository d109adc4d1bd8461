// The pickle opcodes: one table for the reader and the writer. Names, bytes, argument kinds and protocols are
// CPython's, from Lib/pickletools.py (`opcodes = [...]` and the `ArgumentDescriptor`s above it), so a name here
// can be looked up there for its exact semantics.

/**
 * How an opcode's inline argument is encoded (pickletools.py's ArgumentDescriptor names). `*nl` arguments end
 * at a newline; the others have a fixed size or a length prefix (little-endian).
 */
export type ArgKind =
  | 'none'
  | 'uint1' | 'uint2' | 'int4' | 'uint4' | 'uint8'
  | 'long1' | 'long4' // little-endian two's complement integers with a 1- or 4-byte length prefix
  | 'float8' // big-endian IEEE 754 double
  | 'decimalnl_short' | 'decimalnl_long' | 'floatnl'
  | 'stringnl' | 'stringnl_noescape' | 'stringnl_noescape_pair' | 'unicodestringnl'
  | 'string1' | 'string4' // Python 2 str: bytes with a 1- or 4-byte length
  | 'bytes1' | 'bytes4' | 'bytes8' | 'bytearray8'
  | 'unicodestring1' | 'unicodestring4' | 'unicodestring8'; // UTF-8 with a 1-, 4- or 8-byte length

export interface Opcode {
  readonly name: string;
  readonly code: number;
  readonly arg: ArgKind;
  /** The protocol that introduced it. */
  readonly proto: number;
}

// [name, code, argument, protocol], in pickletools.py's order.
const TABLE = [
  // integers
  ['INT', 'I', 'decimalnl_short', 0], // also 01/00 for True/False
  ['BININT', 'J', 'int4', 1],
  ['BININT1', 'K', 'uint1', 1],
  ['BININT2', 'M', 'uint2', 1],
  ['LONG', 'L', 'decimalnl_long', 0],
  ['LONG1', 0x8a, 'long1', 2],
  ['LONG4', 0x8b, 'long4', 2],
  // strings and bytes
  ['STRING', 'S', 'stringnl', 0],
  ['BINSTRING', 'T', 'string4', 1],
  ['SHORT_BINSTRING', 'U', 'string1', 1],
  ['BINBYTES', 'B', 'bytes4', 3],
  ['SHORT_BINBYTES', 'C', 'bytes1', 3],
  ['BINBYTES8', 0x8e, 'bytes8', 4],
  ['BYTEARRAY8', 0x96, 'bytearray8', 5],
  ['NEXT_BUFFER', 0x97, 'none', 5],
  ['READONLY_BUFFER', 0x98, 'none', 5],
  // constants
  ['NONE', 'N', 'none', 0],
  ['NEWTRUE', 0x88, 'none', 2],
  ['NEWFALSE', 0x89, 'none', 2],
  // unicode
  ['UNICODE', 'V', 'unicodestringnl', 0],
  ['SHORT_BINUNICODE', 0x8c, 'unicodestring1', 4],
  ['BINUNICODE', 'X', 'unicodestring4', 1],
  ['BINUNICODE8', 0x8d, 'unicodestring8', 4],
  // floats
  ['FLOAT', 'F', 'floatnl', 0],
  ['BINFLOAT', 'G', 'float8', 1],
  // containers
  ['EMPTY_LIST', ']', 'none', 1],
  ['APPEND', 'a', 'none', 0],
  ['APPENDS', 'e', 'none', 1],
  ['LIST', 'l', 'none', 0],
  ['EMPTY_TUPLE', ')', 'none', 1],
  ['TUPLE', 't', 'none', 0],
  ['TUPLE1', 0x85, 'none', 2],
  ['TUPLE2', 0x86, 'none', 2],
  ['TUPLE3', 0x87, 'none', 2],
  ['EMPTY_DICT', '}', 'none', 1],
  ['DICT', 'd', 'none', 0],
  ['SETITEM', 's', 'none', 0],
  ['SETITEMS', 'u', 'none', 1],
  ['EMPTY_SET', 0x8f, 'none', 4],
  ['ADDITEMS', 0x90, 'none', 4],
  ['FROZENSET', 0x91, 'none', 4],
  // stack
  ['POP', '0', 'none', 0],
  ['DUP', '2', 'none', 0],
  ['MARK', '(', 'none', 0],
  ['POP_MARK', '1', 'none', 1],
  // memo
  ['GET', 'g', 'decimalnl_short', 0],
  ['BINGET', 'h', 'uint1', 1],
  ['LONG_BINGET', 'j', 'uint4', 1],
  ['PUT', 'p', 'decimalnl_short', 0],
  ['BINPUT', 'q', 'uint1', 1],
  ['LONG_BINPUT', 'r', 'uint4', 1],
  ['MEMOIZE', 0x94, 'none', 4],
  // extension registry (copyreg): refused by our reader
  ['EXT1', 0x82, 'uint1', 2],
  ['EXT2', 0x83, 'uint2', 2],
  ['EXT4', 0x84, 'int4', 2],
  // objects
  ['GLOBAL', 'c', 'stringnl_noescape_pair', 0],
  ['STACK_GLOBAL', 0x93, 'none', 4],
  ['REDUCE', 'R', 'none', 0],
  ['BUILD', 'b', 'none', 0],
  ['INST', 'i', 'stringnl_noescape_pair', 0],
  ['OBJ', 'o', 'none', 1],
  ['NEWOBJ', 0x81, 'none', 2],
  ['NEWOBJ_EX', 0x92, 'none', 4],
  // machine control
  ['PROTO', 0x80, 'uint1', 2],
  ['STOP', '.', 'none', 0],
  ['FRAME', 0x95, 'uint8', 4],
  // persistent ids
  ['PERSID', 'P', 'stringnl_noescape', 0],
  ['BINPERSID', 'Q', 'none', 1],
] as const satisfies readonly (readonly [string, string | number, ArgKind, number])[];

export type OpName = (typeof TABLE)[number][0];

export const OPCODES: readonly Opcode[] = TABLE.map(([name, code, arg, proto]) =>
  Object.freeze({ name, code: typeof code === 'string' ? code.charCodeAt(0) : code, arg, proto }));

/** Opcode bytes by name: `OP.MARK === 0x28`. */
export const OP = Object.freeze(Object.fromEntries(OPCODES.map((o) => [o.name, o.code]))) as Readonly<Record<OpName, number>>;

const BY_CODE: readonly (Opcode | undefined)[] = (() => {
  const table: (Opcode | undefined)[] = new Array(256).fill(undefined);
  for (const op of OPCODES) table[op.code] = op;
  return table;
})();

/** The opcode a byte stands for, or undefined for a byte that is none. */
export function opcodeOf(code: number): Opcode | undefined {
  return BY_CODE[code];
}

/** The highest protocol our reader understands (CPython's HIGHEST_PROTOCOL). */
export const HIGHEST_PROTOCOL = 5;

// The generic pickle layer (it knows nothing of torch); this file only re-exports.
export { PickleError } from './errors.js';
export { OPCODES, OP, opcodeOf, type Opcode, type ArgKind } from './opcodes.js';
export {
  loads, readPickle, type ReadOptions, type ReadResult, type GlobalHandler, type GlobalResolver, type CallContext,
} from './reader.js';
export { dumps, type WriteOptions } from './writer.js';
export { pythonGlobals, chainGlobals } from './python-globals.js';
export {
  Tuple, tuple, isTuple, FrozenSet, PyComplex, PyFloat, pyFloat, PickleGlobal, PickleObject, PersistentRef,
  BUILD_HOOK, type Buildable, pythonClass, pythonAttrs, orderedDict,
} from './values.js';

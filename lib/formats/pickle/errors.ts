// The one error a malformed or refused pickle gives: where (byte offset) and at which opcode it went wrong.
import { LvmtorchError } from '../../errors.js';

export class PickleError extends LvmtorchError {
  /** Byte offset of the opcode being read (or -1 when the error is not tied to one, e.g. after STOP). */
  readonly offset: number;
  /** The opcode's name, e.g. 'BINUNICODE', or '' where there is none. */
  readonly opcode: string;
  /** The data ended before the pickle did (truncated input, or a length that claims more than is there). */
  readonly endOfData: boolean;

  constructor(message: string, offset = -1, opcode = '', endOfData = false) {
    super(offset >= 0 ? `pickle: ${message} (at byte ${offset}${opcode ? `, ${opcode}` : ''})` : `pickle: ${message}`, 'ERR_PICKLE');
    this.offset = offset;
    this.opcode = opcode;
    this.endOfData = endOfData;
  }
}

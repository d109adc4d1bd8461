// The fixed parts of the zip format (APPNOTE.TXT 6.3.x) that reader and writer share.

export const SIG = {
  localHeader: 0x04034b50,
  centralHeader: 0x02014b50,
  end: 0x06054b50,
  zip64End: 0x06064b50,
  zip64Locator: 0x07064b50,
} as const;

export const SIZE = { localHeader: 30, centralHeader: 46, end: 22, zip64End: 56, zip64Locator: 20 } as const;

export const EXTRA = { zip64: 0x0001 } as const;

export const FLAG = { encrypted: 0x0001, dataDescriptor: 0x0008, utf8: 0x0800 } as const;

/** A 32-bit field holding this says "the real value is in the ZIP64 extra field". */
export const MAX32 = 0xffffffff;
export const MAX16 = 0xffff;

export const METHOD = { stored: 0, deflated: 8 } as const;

/** 1980-01-01 00:00:00, the first DOS date: a fixed time so that the same data makes the same file. */
export const DOS_DATE = (0 << 9) | (1 << 5) | 1;
export const DOS_TIME = 0;

// Names without the UTF-8 flag are code page 437 (as Python's zipfile reads them); the upper half of it.
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export function decodeCp437(bytes: Buffer): string {
  if (bytes.every((b) => b < 0x80)) return bytes.toString('latin1');
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return s;
}

/** A file offset or size from a 64-bit field, as a JS number, or null when it does not fit exactly. */
export function safeNumber(v: bigint | number): number | null {
  if (typeof v === 'number') return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

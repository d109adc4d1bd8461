// Reads what the loader and the packaging checks need from an ELF shared library, without loading it: the
// libraries it needs (DT_NEEDED), its SONAME and RUNPATH/RPATH, and the bytes of one section. Only 64-bit
// little-endian files (x86_64, aarch64 Linux); only the headers and the parts asked for are read.
import { closeSync, openSync, readSync } from 'node:fs';
import { LvmtorchError } from '../../errors.js';

export interface DynamicInfo {
  soname: string | null;
  needed: string[];
  runpath: string | null;
  rpath: string | null;
}

const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;

export class ElfError extends LvmtorchError {
  constructor(path: string, what: string) {
    super(`${path}: ${what}`, 'ERR_ELF');
  }
}

class ElfFile {
  readonly fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
  }

  read(offset: number | bigint, length: number): Buffer {
    const buf = Buffer.alloc(length);
    const n = readSync(this.fd, buf, 0, length, Number(offset));
    if (n !== length) throw new ElfError(this.path, `truncated at byte ${offset}`);
    return buf;
  }

  header(): Buffer {
    const h = this.read(0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(this.path, 'not an ELF file');
    if (h[4] !== 2 || h[5] !== 1) throw new ElfError(this.path, 'not a 64-bit little-endian ELF file');
    return h;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function withElf<T>(path: string, fn: (f: ElfFile, header: Buffer) => T): T {
  const f = new ElfFile(path);
  try {
    return fn(f, f.header());
  } finally {
    f.close();
  }
}

/** DT_NEEDED, DT_SONAME, DT_RUNPATH and DT_RPATH of a shared library. */
export function readDynamic(path: string): DynamicInfo {
  return withElf(path, (f, h) => {
    const phoff = h.readBigUInt64LE(32);
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const table = f.read(phoff, phentsize * phnum);
    const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
    let dynamic: { offset: bigint; size: bigint } | null = null;
    for (let i = 0; i < phnum; i++) {
      const p = table.subarray(i * phentsize);
      const type = p.readUInt32LE(0);
      if (type === PT_LOAD) loads.push({ offset: p.readBigUInt64LE(8), vaddr: p.readBigUInt64LE(16), filesz: p.readBigUInt64LE(32) });
      if (type === PT_DYNAMIC) dynamic = { offset: p.readBigUInt64LE(8), size: p.readBigUInt64LE(32) };
    }
    const info: DynamicInfo = { soname: null, needed: [], runpath: null, rpath: null };
    if (!dynamic) return info;
    const entries = f.read(dynamic.offset, Number(dynamic.size));
    const tags: [bigint, bigint][] = [];
    for (let at = 0; at + 16 <= entries.length; at += 16) {
      const tag = entries.readBigInt64LE(at);
      if (tag === 0n) break;
      tags.push([tag, entries.readBigUInt64LE(at + 8)]);
    }
    const strtabAddr = tags.find(([t]) => t === DT_STRTAB)?.[1];
    const strsz = tags.find(([t]) => t === DT_STRSZ)?.[1];
    if (strtabAddr === undefined || strsz === undefined) throw new ElfError(path, 'dynamic section without a string table');
    // DT_STRTAB is an address: the PT_LOAD segment holding it maps it back to a file offset.
    const seg = loads.find((l) => strtabAddr >= l.vaddr && strtabAddr < l.vaddr + l.filesz);
    if (!seg) throw new ElfError(path, 'string table outside every loaded segment');
    const strings = f.read(seg.offset + (strtabAddr - seg.vaddr), Number(strsz));
    const str = (at: bigint) => {
      const start = Number(at);
      const end = strings.indexOf(0, start);
      return strings.toString('utf8', start, end < 0 ? strings.length : end);
    };
    for (const [tag, value] of tags) {
      if (tag === DT_NEEDED) info.needed.push(str(value));
      else if (tag === DT_SONAME) info.soname = str(value);
      else if (tag === DT_RUNPATH) info.runpath = str(value);
      else if (tag === DT_RPATH) info.rpath = str(value);
    }
    return info;
  });
}

/** The bytes of the named section (say ".rodata"), or null when the file has none. */
export function readSection(path: string, name: string): Buffer | null {
  return withElf(path, (f, h) => {
    const shoff = h.readBigUInt64LE(40);
    const shentsize = h.readUInt16LE(58);
    const shnum = h.readUInt16LE(60);
    const shstrndx = h.readUInt16LE(62);
    if (shoff === 0n || shnum === 0) return null;
    const table = f.read(shoff, shentsize * shnum);
    const section = (i: number) => {
      const s = table.subarray(i * shentsize);
      return { name: s.readUInt32LE(0), offset: s.readBigUInt64LE(24), size: s.readBigUInt64LE(32) };
    };
    const names = section(shstrndx);
    const nameBytes = f.read(names.offset, Number(names.size));
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      const end = nameBytes.indexOf(0, s.name);
      if (nameBytes.toString('latin1', s.name, end) === name) return f.read(s.offset, Number(s.size));
    }
    return null;
  });
}

// Zip archives both ways, against Python's zipfile: archives Python writes (stored, deflated, ZIP64 extras via
// force_zip64, more than 65535 entries, a comment) read with exact bytes; archives ZipWriter writes (aligned as
// PyTorch aligns them, forced ZIP64, > 65535 entries, deflated entries) pass zipfile.testzip() with exact bytes,
// and a torch.save file repacked by ZipWriter loads in torch.load. Damaged and hostile archives (truncated,
// flipped bytes, lying sizes and offsets, CRC mismatch, zip bombs, overlapping and duplicate entries) end in a
// ZipError naming the file and entry. Also writeFileAtomic: the old file survives a failed write.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { writeFileAtomic, writeFileAtomicSync } from '../dist/formats/atomic.js';
import { ZipError, ZipReader, ZipWriter } from '../dist/formats/zip.js';
import { PYTHON, pythonTorchMissing, runPython } from './helpers/python.js';
import { skipUnless } from './helpers/skip.js';

const missing = pythonTorchMissing();
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-io-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const py = <T>(input: unknown): T => runPython<T>('io_formats.py', input);
const at = (name: string): string => join(dir, name);

type Contents = Record<string, string>; // entry name -> hex of its bytes

function readAllHex(r: ZipReader): Contents {
  return Object.fromEntries(r.entries.map((e) => [e.name, r.read(e).toString('hex')]));
}

function zipError(run: () => unknown): ZipError {
  try {
    run();
  } catch (e) {
    if (e instanceof ZipError) return e;
    throw new Error(`expected a ZipError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('expected a ZipError, and it succeeded');
}

/** Opens and reads every entry: what a consumer does with an archive it was handed. */
function openAndReadAll(buf: Uint8Array): void {
  const r = ZipReader.fromBuffer(buf, 'fuzzed.zip');
  for (const e of r.entries) r.read(e);
}

function writeZip(path: string, fill: (w: ZipWriter) => void, opts?: { align?: number; forceZip64?: boolean }): void {
  writeFileAtomicSync(path, (fd) => {
    const w = new ZipWriter(fd, opts);
    fill(w);
    w.finish();
  });
}

/** Offsets of the central directory and its records, read by hand from the end record (no ZIP64). */
function centralRecords(buf: Buffer): { cdOffset: number; records: number[] } {
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  const cdOffset = buf.readUInt32LE(end + 16);
  const records: number[] = [];
  for (let p = cdOffset, i = 0; i < count; i++) {
    records.push(p);
    p += 46 + buf.readUInt16LE(p + 28) + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return { cdOffset, records };
}

describe('archives Python writes', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  let expected: Record<string, Contents>;
  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    expected = py({ mode: 'write_zips', dir });
  });

  it.each(['stored', 'deflated', 'zip64'])('%s.zip reads with exact bytes', (kind) => {
    const r = ZipReader.open(at(`${kind}.zip`));
    const got = readAllHex(r);
    if (kind === 'zip64') expect(got.deflated64).toBe('');
    for (const [name, hex] of Object.entries(expected[kind])) expect(got[name], name).toBe(hex);
    expect(r.entries.every((e) => e.method === (kind === 'deflated' && e.size > 0 ? 8 : 0) || kind === 'deflated')).toBe(true);
    r.close();
  });

  it('a stored entry reads straight into a target buffer, and its dataOffset points at its bytes', () => {
    const r = ZipReader.open(at('stored.zip'));
    const e = r.entry('dir/b.bin')!;
    const target = new Uint8Array(e.size);
    r.readInto(e, target);
    expect(Buffer.from(target).toString('hex')).toBe(expected.stored['dir/b.bin']);
    const file = readFileSync(at('stored.zip'));
    expect(file.subarray(e.dataOffset, e.dataOffset + e.size).equals(target)).toBe(true);
    expect(zipError(() => r.readInto(e, new Uint8Array(3))).message).toMatch(/holds 10240 bytes, the target 3/);
    r.close();
  });

  it('a comment holding an end-record signature does not confuse the search for the end record', () => {
    const r = ZipReader.open(at('comment.zip'));
    expect(r.entries.map((e) => e.name)).toEqual(['x']);
    expect(r.read('x').toString()).toBe('PK\x05\x06 looks like an end record');
  });

  it('more than 65535 entries (the ZIP64 end record) all list, and read', () => {
    const r = ZipReader.open(at('many.zip'));
    expect(r.entries.length).toBe(65541);
    expect(r.read('last').toString()).toBe('the end');
    expect(r.read('e65539').length).toBe(0);
    r.close();
  });

  it('errors name the file and the entry', () => {
    const r = ZipReader.open(at('stored.zip'));
    expect(zipError(() => r.read('nope')).message).toBe(`${at('stored.zip')}: no entry named 'nope'`);
    r.close();
    expect(zipError(() => r.read('a.txt')).message).toMatch(/closed/);
  });
});

describe('archives ZipWriter writes, read by zipfile', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  const chunked = [Buffer.from('abc'), new Uint8Array(0), new Uint8Array([0, 255, 7]), Buffer.alloc(1000, 0x5a)];
  const contents: Contents = {
    'archive/data.pkl': Buffer.from('pickle bytes').toString('hex'),
    'archive/data/0': Buffer.concat(chunked).toString('hex'),
    'archive/empty': '',
    'archive/ünï €.txt': Buffer.from('utf-8 name').toString('hex'),
    'archive/version': Buffer.from('3\n').toString('hex'),
  };
  const fill = (w: ZipWriter): void => {
    for (const [name, hex] of Object.entries(contents)) {
      w.add(name, name === 'archive/data/0' ? chunked : Buffer.from(hex, 'hex'));
    }
  };
  let report: Record<string, { testzip: string | null; count: number; last: string; entries: Record<string, { size: number; method: number; hex: string | null }> }>;

  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    writeZip(at('w-plain.zip'), fill);
    writeZip(at('w-aligned.zip'), fill, { align: 64 });
    writeZip(at('w-zip64.zip'), fill, { align: 64, forceZip64: true });
    writeZip(at('w-deflated.zip'), (w) => {
      w.add('text', Buffer.from('squeeze me '.repeat(500)), { compress: true });
      w.add('empty', new Uint8Array(0), { compress: true });
      w.add('stored', Buffer.from('plain'));
    }, { align: 64 });
    writeZip(at('w-many.zip'), (w) => {
      for (let i = 0; i < 65540; i++) w.add(`e${i}`, new Uint8Array(0));
      w.add('last', Buffer.from('the end'));
    });
    report = py({ mode: 'read_zips', paths: ['w-plain', 'w-aligned', 'w-zip64', 'w-deflated', 'w-many'].map((n) => at(`${n}.zip`)) });
  });

  it.each(['w-plain', 'w-aligned', 'w-zip64'])('%s.zip passes testzip with exact bytes', (name) => {
    const r = report[at(`${name}.zip`)];
    expect(r.testzip).toBeNull();
    expect(Object.fromEntries(Object.entries(r.entries).map(([k, v]) => [k, v.hex]))).toEqual(contents);
  });

  it('deflated entries pass testzip', () => {
    const r = report[at('w-deflated.zip')];
    expect(r.testzip).toBeNull();
    expect(Buffer.from(r.entries.text.hex!, 'hex').toString()).toBe('squeeze me '.repeat(500));
    expect(r.entries.text.method).toBe(8);
    expect(r.entries.stored.method).toBe(0);
  });

  it('more than 65535 entries are all listed by zipfile', () => {
    const r = report[at('w-many.zip')];
    expect(r.count).toBe(65541);
    expect(Buffer.from(r.last, 'hex').toString()).toBe('the end');
  });

  it('aligned data starts at multiples of 64, padded by an "FB" extra field as PyTorch pads it', () => {
    for (const name of ['w-aligned.zip', 'w-zip64.zip']) {
      const file = readFileSync(at(name));
      const r = ZipReader.open(at(name));
      for (const e of r.entries) {
        expect(e.dataOffset % 64, e.name).toBe(0);
        // The local header's last extra field is FB + padding length + that many 'Z's.
        let p = file.indexOf(Buffer.from('FB'), e.dataOffset - 4 - 64);
        while (file.readUInt16LE(p + 2) + p + 4 !== e.dataOffset) p = file.indexOf(Buffer.from('FB'), p + 1);
        expect(file.subarray(p + 4, e.dataOffset).every((b) => b === 0x5a)).toBe(true);
      }
      r.close();
    }
  });

  it('ZIP64 records read back (the reader takes sizes and offsets from the ZIP64 extra fields)', () => {
    const r = ZipReader.open(at('w-zip64.zip'));
    expect(readAllHex(r)).toEqual(contents);
    expect(readFileSync(at('w-zip64.zip')).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
  });

  it('a torch.save file repacked by ZipWriter (align 64) loads in torch.load', async () => {
    const child = spawn(PYTHON, [fileURLToPath(new URL('./python/io_formats.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stdin.write(JSON.stringify({ mode: 'torch_repack' }) + '\n' + dir + '\n');
    expect((await lines.next()).value).toBe('saved');
    const source = ZipReader.open(at('orig.pt'));
    writeZip(at('repacked.pt'), (w) => {
      for (const e of source.entries) w.add(e.name, source.read(e));
    }, { align: 64 });
    source.close();
    child.stdin.write('go\n');
    expect(JSON.parse((await lines.next()).value as string)).toEqual({ equal: true });
  });
});

describe('ZipWriter refuses what would make a bad archive', () => {
  it('duplicate names, adding after finish, finishing twice, a bad align', () => {
    const path = at('refusals.zip');
    const fd = openSync(path, 'w');
    try {
      const w = new ZipWriter(fd);
      w.add('a', Buffer.from('1'));
      expect(zipError(() => w.add('a', Buffer.from('2'))).message).toMatch(/duplicate zip entry name 'a'/);
      w.finish();
      expect(zipError(() => w.add('b', Buffer.from('2'))).message).toMatch(/cannot add 'b': .* already finished/);
      expect(zipError(() => w.finish()).message).toMatch(/already finished/);
      expect(() => new ZipWriter(fd, { align: 0 })).toThrow(RangeError);
      expect(() => new ZipWriter(fd).add('', Buffer.alloc(1))).toThrow(TypeError);
    } finally {
      closeSync(fd);
    }
  });
});

describe('damaged and hostile archives end in a ZipError', () => {
  beforeEach((ctx) => skipUnless(ctx, missing));
  let stored: Buffer;
  let deflated: Buffer;
  beforeAll(() => {
    if (missing) return; // its tests skip, saying why
    if (!existsSync(at('stored.zip'))) py({ mode: 'write_zips', dir });
    stored = readFileSync(at('stored.zip'));
    deflated = readFileSync(at('deflated.zip'));
  });
  const patched = (buf: Buffer, edit: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(buf);
    edit(b);
    return b;
  };

  it('not a zip, empty, truncated anywhere', () => {
    expect(zipError(() => ZipReader.fromBuffer(Buffer.from('just text'), 'x.zip')).message)
      .toBe('x.zip: not a zip file, or truncated: no end of central directory record in its last 9 bytes');
    zipError(() => ZipReader.fromBuffer(new Uint8Array(0)));
    writeFileSync(at('empty.zip'), '');
    expect(zipError(() => ZipReader.open(at('empty.zip'))).message).toMatch(/empty\.zip: not a zip file/);
    for (let cut = 1; cut < stored.length; cut += 97) zipError(() => openAndReadAll(stored.subarray(0, cut)));
    // Cut inside the data: the directory survives (it is copied to the end), the data does not.
    const tail = stored.subarray(centralRecords(stored).cdOffset);
    zipError(() => openAndReadAll(Buffer.concat([stored.subarray(0, 40), tail])));
  });

  it('a flipped byte in stored data fails the CRC check, naming the entry', () => {
    const r = ZipReader.open(at('stored.zip'));
    const offset = r.entry('dir/b.bin')!.dataOffset;
    const bad = patched(stored, (b) => (b[offset + 100] ^= 1));
    expect(zipError(() => ZipReader.fromBuffer(bad, 'bad.zip').read('dir/b.bin')).message)
      .toMatch(/^bad\.zip: entry 'dir\/b\.bin' fails its CRC-32 check \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)$/);
  });

  it('flipped bytes in deflated data end in a CRC or deflate error', () => {
    const r = ZipReader.open(at('deflated.zip'));
    const e = r.entry('dir/b.bin')!;
    for (let i = 0; i < e.compressedSize; i += 7) {
      const bad = patched(deflated, (b) => (b[e.dataOffset + i] ^= 0x10));
      expect(zipError(() => ZipReader.fromBuffer(bad, 'bad.zip').read('dir/b.bin')).message).toMatch(/dir\/b\.bin/);
    }
  });

  it('lying sizes and offsets in the central directory', () => {
    const { records, cdOffset } = centralRecords(stored);
    const second = records[1]; // dir/b.bin, 10240 bytes
    const cases: [string, (b: Buffer) => void, RegExp][] = [
      ['compressed size grows', (b) => b.writeUInt32LE(10241, second + 20), /stored, yet its size 10240 differs from its compressed size 10241/],
      ['both sizes grow', (b) => { b.writeUInt32LE(20000, second + 20); b.writeUInt32LE(20000, second + 24); }, /overlaps the next record|runs into the central directory/],
      ['both sizes huge', (b) => { b.writeUInt32LE(0xfffffff0, second + 20); b.writeUInt32LE(0xfffffff0, second + 24); }, /runs into the central directory/],
      ['size 0xFFFFFFFF without ZIP64', (b) => { b.writeUInt32LE(0xffffffff, second + 20); b.writeUInt32LE(0xffffffff, second + 24); }, /no ZIP64 extra field/],
      ['local header offset past the directory', (b) => b.writeUInt32LE(cdOffset + 5, second + 42), /runs into the central directory/],
      ['local header offset onto another entry', (b) => b.writeUInt32LE(0, second + 42), /overlaps the next record|no local header|differs/],
      ['entry count too large', (b) => { const end = b.length - 22; b.writeUInt16LE(999, end + 8); b.writeUInt16LE(999, end + 10); }, /too small for 999 entries/],
      ['directory offset past the end', (b) => b.writeUInt32LE(b.length, b.length - 22 + 16), /does not fit before offset/],
      ['method 12 (bzip2)', (b) => b.writeUInt16LE(12, second + 10), /compression method 12 is not supported/],
      ['encrypted', (b) => b.writeUInt16LE(1, second + 8), /encrypted entries are not supported/],
      ['split archive', (b) => b.writeUInt16LE(1, b.length - 22 + 4), /multi-disk/],
      ['CRC differs from the local header', (b) => (b[second + 16] ^= 0xff), /CRC-32 .* differs from the central directory's/],
    ];
    for (const [what, edit, message] of cases) {
      const error = zipError(() => openAndReadAll(patched(stored, edit)));
      expect(error.message, what).toMatch(message);
      expect(error.message, what).toMatch(/^fuzzed\.zip: /);
    }
  });

  it('a local header that disagrees with the central one', () => {
    const r = ZipReader.open(at('stored.zip'));
    const e = r.entry('a.txt')!;
    const local = e.dataOffset - 30 - 'a.txt'.length;
    expect(zipError(() => openAndReadAll(patched(stored, (b) => (b[local + 30] = 0x62)))).message)
      .toMatch(/entry 'a\.txt' \(local header at offset 0\): its name differs/);
    expect(zipError(() => openAndReadAll(patched(stored, (b) => b.writeUInt32LE(0x12345678, local)))).message)
      .toMatch(/no local header signature/);
    expect(zipError(() => openAndReadAll(patched(stored, (b) => b.writeUInt16LE(8, local + 8)))).message)
      .toMatch(/method 8 differs/);
  });

  it('duplicate names are refused', () => {
    const buf = patched(stored, (b) => {
      const { records } = centralRecords(b);
      // 'empty' and 'a.txt' have names of the same length: renaming one central record makes a duplicate.
      const name = Buffer.from('a.txt');
      const target = records.find((p) => b.toString('latin1', p + 46, p + 46 + 5) === 'empty')!;
      name.copy(b, target + 46);
    });
    expect(zipError(() => ZipReader.fromBuffer(buf, 'dup.zip')).message).toBe("dup.zip: duplicate entry name 'a.txt'");
  });

  it('a zip bomb stops at its declared size; a declared size deflate cannot reach is refused at once', () => {
    const bomb = deflateRawSync(Buffer.alloc(50 << 20)); // 50 MiB of zeros in ~50 KiB
    const build = (declared: number): Buffer => {
      const name = Buffer.from('bomb');
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(8, 8);
      local.writeUInt32LE(0, 14);
      local.writeUInt32LE(bomb.length, 18);
      local.writeUInt32LE(declared, 22);
      local.writeUInt16LE(name.length, 26);
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(20, 4);
      central.writeUInt16LE(20, 6);
      central.writeUInt16LE(8, 10);
      central.writeUInt32LE(bomb.length, 20);
      central.writeUInt32LE(declared, 24);
      central.writeUInt16LE(name.length, 28);
      const cdOffset = 30 + name.length + bomb.length;
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(1, 8);
      end.writeUInt16LE(1, 10);
      end.writeUInt32LE(46 + name.length, 12);
      end.writeUInt32LE(cdOffset, 16);
      return Buffer.concat([local, name, bomb, central, name, end]);
    };
    const before = process.memoryUsage().rss;
    expect(zipError(() => openAndReadAll(build(1000))).message).toMatch(/'bomb' inflates to more than its declared size of 1000 bytes/);
    expect(process.memoryUsage().rss - before).toBeLessThan(40 << 20);
    expect(zipError(() => openAndReadAll(build(0xfffffff0))).message).toMatch(/declares 4294967280 bytes from \d+ deflated bytes/);
  });

  it('random byte flips and truncations never end in anything but success or a ZipError', () => {
    let seed = 12345;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    let errors = 0;
    for (const source of [stored, deflated, readFileSync(at('zip64.zip'))]) {
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(source);
        for (let k = 1 + rand(3); k > 0; k--) b[rand(b.length)] = rand(256);
        const cut = rand(4) === 0 ? b.subarray(0, rand(b.length)) : b;
        try {
          openAndReadAll(cut);
        } catch (e) {
          if (!(e instanceof ZipError)) throw new Error(`iteration ${i}: ${(e as Error).stack}`);
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});

describe('writeFileAtomic', () => {
  const temps = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  it('replaces the file when the write succeeds', async () => {
    const path = at('atomic.txt');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, (fd) => void writeFileSync(fd, 'new'));
    expect(readFileSync(path, 'utf8')).toBe('new');
    writeFileAtomicSync(path, (fd) => writeFileSync(fd, 'newer'));
    expect(readFileSync(path, 'utf8')).toBe('newer');
    expect(temps()).toEqual([]);
  });

  it('leaves the old file untouched and no temporary file when the write throws (sync, async, rejected)', async () => {
    const path = at('keep.txt');
    writeFileSync(path, 'precious');
    const boom = new Error('boom');
    expect(() => writeFileAtomicSync(path, (fd) => {
      writeFileSync(fd, 'half');
      throw boom;
    })).toThrow(boom);
    await expect(writeFileAtomic(path, (fd) => {
      writeFileSync(fd, 'half');
      throw boom;
    })).rejects.toBe(boom);
    await expect(writeFileAtomic(path, async (fd) => {
      writeFileSync(fd, 'half');
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw boom;
    })).rejects.toBe(boom);
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(temps()).toEqual([]);
  });

  it('writes beside the target in its own directory, and refuses a directory that does not exist', async () => {
    let seen = '';
    await writeFileAtomic(at('beside.txt'), (fd) => {
      seen = readdirSync(dir).find((f) => f.startsWith('.beside.txt.') && f.endsWith('.tmp')) ?? '';
      writeFileSync(fd, 'x');
    });
    expect(seen).not.toBe('');
    await expect(writeFileAtomic(at('no/such/dir/f'), () => {})).rejects.toThrow(/ENOENT/);
  });

  it('concurrent writers each write a whole file', async () => {
    const path = at('race.txt');
    await Promise.all(Array.from({ length: 8 }, (_, i) => writeFileAtomic(path, async (fd) => {
      await new Promise((resolve) => setTimeout(resolve, 1 + (i % 3)));
      writeFileSync(fd, String(i).repeat(1000));
    })));
    expect(readFileSync(path, 'utf8')).toMatch(/^(\d)\1{999}$/);
    expect(temps()).toEqual([]);
  });
});

// Fuzzing a file reader: seeded mutations of a valid file's bytes, each read must end in a value or one of the
// readers' own errors, never a crash, a hang or a foreign exception. test/io-fuzz.test.ts and
// test/io-quantized.test.ts share these.
import { closeSync, openSync, readFileSync } from 'node:fs';

import { expect } from 'vitest';

import { Tensor } from '../../dist/index.js';
import { ZipReader, ZipWriter } from '../../dist/io/zip.js';
import { mulberry32 } from './random.js';

export interface Outcome { loaded: number; errors: Record<string, number>; slowestMs: number }

/** The mutations: `interesting` bytes to write, and `field(b, at, pick)` making a multi-byte field lie. */
export interface Mutations {
  interesting: number[];
  field: (b: Buffer, pick: (n: number) => number) => void;
  /** The longest slice repeated or removed. */
  slice: number;
}

/** One seeded mutation of `src`: bytes changed, cut short, a field made to lie, a slice repeated or removed. */
export function mutate(src: Buffer, random: () => number, m: Mutations): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  const b = Buffer.from(src);
  switch (pick(5)) {
    case 0: // a few bytes changed
      for (let i = 1 + pick(4); i > 0; i--) b[pick(b.length)] = random() < 0.5 ? pick(256) : m.interesting[pick(m.interesting.length)];
      return b;
    case 1: // cut short
      return b.subarray(0, pick(b.length));
    case 2: // a field made to lie
      m.field(b, pick);
      return b;
    case 3: { // a slice repeated
      const from = pick(b.length);
      const at = pick(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(from, from + 1 + pick(m.slice)), b.subarray(at)]);
    }
    default: { // a slice removed
      const at = pick(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + pick(m.slice / 2))]);
    }
  }
}

/** Disposes every tensor in a loaded value (containers, Maps, Sets; cycles are fine). */
export function disposeAll(v: unknown, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) return v.dispose();
  for (const x of v instanceof Map ? v.values() : Array.isArray(v) || v instanceof Set ? v : Object.values(v)) disposeAll(x, seen);
}

/** Reads `cases` seeded mutations; each must load or throw one of `ownErrors` with a message, within maxMs. */
export function fuzz(name: string, seed: number, cases: number, make: (random: () => number) => Buffer,
  read: (b: Buffer) => unknown, ownErrors: (new (...args: never[]) => Error)[], maxMs = 2000): Outcome {
  const random = mulberry32(seed);
  const out: Outcome = { loaded: 0, errors: {}, slowestMs: 0 };
  for (let i = 0; i < cases; i++) {
    const bytes = make(random);
    const t0 = performance.now();
    try {
      disposeAll(read(bytes));
      out.loaded++;
    } catch (e) {
      const where = `${name} case ${i} (seed ${seed})`;
      expect(e, where).toBeInstanceOf(Error);
      const err = e as Error;
      expect(err.message, where).not.toBe('');
      expect(ownErrors.some((C) => err instanceof C), `${where}: ${err.constructor.name}: ${err.message}`).toBe(true);
      out.errors[err.constructor.name] = (out.errors[err.constructor.name] ?? 0) + 1;
    }
    out.slowestMs = Math.max(out.slowestMs, performance.now() - t0);
  }
  expect(out.slowestMs).toBeLessThan(maxMs);
  console.log(`${name}: ${cases} cases, ${out.loaded} loaded, errors ${JSON.stringify(out.errors)}, slowest ${out.slowestMs.toFixed(1)} ms`);
  return out;
}

/** A torch.save zip file's pickle, and a function that puts another pickle into a copy of the file. */
export function pickleOf(pt: Buffer, scratch: string): { pickle: Buffer; rezip: (p: Buffer) => Buffer } {
  const zip = ZipReader.fromBuffer(pt);
  const entries = zip.entries.map((e): [string, Buffer] => [e.name, zip.read(e)]);
  zip.close();
  const [pickleName, pickle] = entries.find(([n]) => n.endsWith('data.pkl'))!;
  const rezip = (p: Buffer): Buffer => {
    const fd = openSync(scratch, 'w');
    try {
      const w = new ZipWriter(fd, { align: 64 });
      for (const [n, d] of entries) w.add(n, n === pickleName ? p : d);
      w.finish();
    } finally {
      closeSync(fd);
    }
    return readFileSync(scratch);
  };
  return { pickle, rezip };
}

// Native memory under load: a million short-lived tensors leave nothing behind, forgotten tensors are reclaimed
// by the GC (lib/torch/lifetime.ts) as long as the loop yields to the event loop, tidy() scopes free exactly what they
// should, and a disposed tensor can no longer be used. Measured numbers are printed for the record.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { torch } from '../dist/index.js';

const MB = 2 ** 20;
const rssMB = (): number => process.memoryUsage().rss / MB;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// A full GC without --expose-gc on the command line (vitest's workers are started without it).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Lets the FinalizationRegistry run: a full GC, then event-loop turns for the cleanup callbacks. */
async function collect(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a million create/dispose cycles', () => {
  const CYCLES = 1_000_000;
  const a = torch.ones([16]);
  const b = torch.ones([16]);

  // Each workload makes and frees small tensors; none may leak a native tensor or grow RSS.
  const workloads: [string, () => void][] = [
    ['zeros([16]) then dispose()', () => torch.zeros([16]).dispose()],
    ['a.add(b) then dispose()', () => a.add(b).dispose()],
    ['`using` a.add(b)', () => {
      using c = a.add(b);
      void c;
    }],
    ['tidy(() => a.add(b).mul(2)), result disposed', () => torch.tidy(() => a.add(b).mul(2)).dispose()],
  ];

  it.each(workloads)('%s: RSS grows < 50 MB and every tensor is freed', async (name, step) => {
    for (let i = 0; i < 20_000; i++) step(); // warm-up: allocator pools, JIT, the slot table
    await collect(1);
    const before = { rss: rssMB(), live: torch.memory() };
    const t0 = performance.now();
    for (let i = 0; i < CYCLES; i++) step();
    const ms = performance.now() - t0;
    await collect(1);
    const growth = rssMB() - before.rss;
    console.log(`${name}: ${CYCLES} cycles in ${ms.toFixed(0)} ms, RSS ${before.rss.toFixed(0)} MB -> ` +
      `${(before.rss + growth).toFixed(0)} MB (${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB)`);
    expect(torch.memory()).toEqual(before.live);
    expect(growth).toBeLessThan(50);
  });
});

describe('forgotten tensors', () => {
  it('reclaims 100,000 forgotten 1 MB tensors through the GC while the loop yields', async () => {
    await collect();
    const start = torch.memory();
    let peakRss = rssMB();
    let peakNative = 0;
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) {
      torch.zeros([262144]); // 1 MB of float32, never disposed
      if (i % 100 === 99) {
        // FinalizationRegistry callbacks only run between event-loop turns (lib/torch/lifetime.ts).
        await turn();
        peakRss = Math.max(peakRss, rssMB());
        peakNative = Math.max(peakNative, torch.memory().bytes - start.bytes);
      }
    }
    const ms = performance.now() - t0;
    await collect();
    const after = torch.memory();
    console.log(`100,000 forgotten 1 MB tensors in ${ms.toFixed(0)} ms: peak RSS ${peakRss.toFixed(0)} MB, ` +
      `peak live native ${(peakNative / MB).toFixed(0)} MB, after GC ${after.tensors - start.tensors} tensors / ` +
      `${((after.bytes - start.bytes) / MB).toFixed(1)} MB above the start`);
    expect(peakRss).toBeLessThan(2048);       // 100 GB were made in all; the machine has 24 GB
    expect(peakNative).toBeLessThan(1024 * MB); // V8 hears of native bytes and collects well before that
    expect(after).toEqual(start);
  });
});

describe('forgotten tensors that were in a tidy() scope', () => {
  // Scopes free their tensors themselves, so the GC only hears of a tensor once it leaves the last scope alive.
  it('are reclaimed when a top-level tidy() returned them or keep() exempted them', async () => {
    await collect();
    const start = torch.memory().tensors;
    for (let i = 0; i < 1000; i++) {
      torch.tidy(() => torch.ones([4]).add(1));
      torch.tidy(() => { torch.keep(torch.ones([4]).mul(2)); });
      torch.tidy(() => torch.tidy(() => [torch.zeros([2])]));
    }
    expect(torch.memory().tensors - start).toBe(3000);
    await collect();
    expect(torch.memory().tensors).toBe(start);
  });
});

describe('tidy()', () => {
  const live = (): number => torch.memory().tensors;

  it('disposes intermediates but not the returned tensor', () => {
    const before = live();
    let intermediate!: torch.Tensor;
    const out = torch.tidy(() => {
      intermediate = torch.ones([3]).mul(2);
      return intermediate.add(1);
    });
    expect(intermediate.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(out.toArray()).toEqual([3, 3, 3]);
    expect(live()).toBe(before + 1);
    out.dispose();
    expect(live()).toBe(before);
  });

  // Models return tensors in arrays, objects and Maps; every one of them survives, everything else is freed.
  const containers: [string, (x: torch.Tensor, y: torch.Tensor) => unknown, (r: any) => torch.Tensor[]][] = [
    ['an array', (x, y) => [x, y], (r) => r],
    ['a plain object', (x, y) => ({ x, nested: { y } }), (r) => [r.x, r.nested.y]],
    ['an array inside an object', (x, y) => ({ pair: [x, y] }), (r) => r.pair],
    ['a Map', (x, y) => new Map([['x', x], ['y', y]]), (r) => [r.get('x'), r.get('y')]],
  ];
  it.each(containers)('keeps tensors returned inside %s', (_, pack, unpack) => {
    const before = live();
    let dropped!: torch.Tensor;
    const result = torch.tidy(() => {
      dropped = torch.zeros([2]);
      return pack(dropped.add(1), dropped.add(2));
    });
    const kept = unpack(result);
    expect(dropped.isDisposed).toBe(true);
    expect(kept.map((t) => t.toArray())).toEqual([[1, 1], [2, 2]]);
    expect(live()).toBe(before + 2);
    kept.forEach((t) => t.dispose());
  });

  it('nests: an inner result belongs to the outer scope, which frees it unless it returns it too', () => {
    const before = live();
    let innerResult!: torch.Tensor;
    let innerTemp!: torch.Tensor;
    const out = torch.tidy(() => {
      innerResult = torch.tidy(() => {
        innerTemp = torch.ones([2]);
        return innerTemp.mul(3);
      });
      expect(innerTemp.isDisposed).toBe(true);   // freed when the inner scope closed
      expect(innerResult.isDisposed).toBe(false);
      return innerResult.add(1);
    });
    expect(innerResult.isDisposed).toBe(true);   // freed by the outer scope
    expect(out.toArray()).toEqual([4, 4]);
    expect(live()).toBe(before + 1);
    out.dispose();
  });

  it('never frees a tensor made outside the scope, even when an inner scope returns it', () => {
    const param = torch.ones([2]);
    torch.tidy(() => {
      const same = torch.tidy(() => param);
      expect(same).toBe(param);
      return 0;
    });
    expect(param.isDisposed).toBe(false);
    param.dispose();
  });

  it('keep() exempts a tensor from every enclosing scope', () => {
    let kept!: torch.Tensor;
    let other!: torch.Tensor;
    torch.tidy(() => {
      torch.tidy(() => {
        kept = torch.keep(torch.ones([2]));
        other = torch.ones([2]);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(other.isDisposed).toBe(true);
    kept.dispose();
  });

  it('disposes what it made and rethrows when fn throws', () => {
    const before = live();
    const boom = new Error('boom');
    let made!: torch.Tensor;
    expect(() =>
      torch.tidy(() => {
        made = torch.ones([4]);
        throw boom;
      }),
    ).toThrow(boom);
    expect(made.isDisposed).toBe(true);
    expect(live()).toBe(before);
  });

  it('refuses an async function with a TypeError, and frees what it made before the first await', () => {
    const before = live();
    let made!: torch.Tensor;
    expect(() =>
      torch.tidy((async () => {
        made = torch.ones([2]);
        await turn();
      }) as () => unknown),
    ).toThrow(TypeError);
    expect(() => torch.tidy((async () => 1) as () => unknown)).toThrow(/async/);
    expect(made.isDisposed).toBe(true);
    expect(live()).toBe(before);
  });

  it('refuses what is not a function', () => {
    expect(() => torch.tidy(42 as unknown as () => unknown)).toThrow(TypeError);
  });
});

describe('disposed tensors', () => {
  // Every way of touching a disposed tensor throws a plain Error saying so.
  const uses: [string, (t: torch.Tensor, live: torch.Tensor) => unknown][] = [
    ['toArray()', (t) => t.toArray()],
    ['item()', (t) => t.item()],
    ['an op on it', (t) => t.add(1)],
    ['as the other operand', (t, live) => live.add(t)],
    ['matmul', (t, live) => live.matmul(t)],
    ['a reduction', (t) => t.sum()],
    ['stride()', (t) => t.stride()],
    ['in torch.cat', (t, live) => torch.cat([live, t])],
    ['an in-place op', (t) => t.add_(1)],
    ['requiresGrad', (t) => t.requiresGrad],
  ];
  it.each(uses)('%s throws an Error saying it was disposed', (_, use) => {
    const live = torch.ones([1]);
    const t = torch.ones([1]);
    t.dispose();
    let error: unknown;
    try {
      use(t, live);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor).toBe(Error);
    expect((error as Error).message).toMatch(/was disposed/);
    live.dispose();
  });

  it('disposing twice is harmless and counts once; isDisposed tells', () => {
    const before = torch.memory().tensors;
    const t = torch.zeros([8]);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    t.dispose();
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
    expect(torch.memory().tensors).toBe(before);
  });

  it('`using` disposes at the end of the block', () => {
    let escaped!: torch.Tensor;
    {
      using t = torch.zeros([2]);
      escaped = t;
      expect(t.isDisposed).toBe(false);
    }
    expect(escaped.isDisposed).toBe(true);
  });

  // Slot ids carry a 7-bit generation; once a freed slot has been reused 127 times the old id would name the
  // newest tensor in it. A disposed Tensor must never read someone else's data.
  it('stays disposed after its native slot has been reused many times', () => {
    const stale = torch.zeros([1]);
    stale.dispose();
    for (let i = 0; i < 300; i++) {
      const other = torch.full([5], 7);
      expect(() => stale.toArray()).toThrow(/was disposed/);
      other.dispose();
    }
  });
});

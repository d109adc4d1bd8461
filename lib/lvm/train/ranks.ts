// What the ranks of a data-parallel fit() agree on, so that every decision is the same everywhere: rank 0's initial
// weights, rank 0's val scores, a stop asked on any rank; and only rank 0 writes files.
import type { World } from '../../torch/distributed/world.js';
import type { Module } from '../../torch/nn/module.js';
import type { CentredMetrics } from './metrics.js';

/** Rank 0's weights (parameters and buffers) on every rank: each drew its own, or fitted its own ridge start. */
export async function sameWeightsOnEveryRank(world: World | undefined, model: Module): Promise<void> {
  await world?.broadcast(model.parameters().concat(model.buffers()), 0);
}

/**
 * Rank 0's val scores on every rank: ranks with other thread counts can differ in the last bits, and every decision
 * taken on them (the best epoch, the lr plateau, early stopping) must be the same everywhere.
 */
export async function sameOnEveryRank(world: World | undefined, val: CentredMetrics): Promise<CentredMetrics> {
  if (!world) return val;
  const keys = (Object.keys(val) as (keyof CentredMetrics)[]).filter((k) => typeof val[k] === 'number');
  const values = await world.broadcastNumbers(keys.map((k) => val[k] as number), 0);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as unknown as CentredMetrics;
}

/** Whether stop() was asked on any rank (each stops after this epoch). */
export async function stopOnAnyRank(world: World | undefined, stop: boolean): Promise<boolean> {
  if (!world) return stop;
  return (await world.allReduceNumbers([stop ? 1 : 0]))[0] > 0;
}

/** Where this process writes: outDir, on rank 0 only. */
export function writerOutDir(o: { world?: World; outDir?: string }): string | undefined {
  return o.world && !o.world.isMain ? undefined : o.outDir;
}

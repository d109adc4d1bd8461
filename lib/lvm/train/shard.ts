// Which training rows each rank takes in an epoch: whole documents, dealt out afresh every epoch from the seed,
// the same on every rank (each computes every rank's share; nothing is sent). Every rank then keeps as many rows as
// the smallest share has, chosen at random, so that all take the same number of steps of the same size (a rank with
// one step more would wait for the others forever) and the mean of the ranks' gradients is the whole batch's.
import { Random } from '../data/random.js';

/**
 * The rows of `rank`'s share for this seed: documents (`docIds`; every row is its own document without them) are
 * shuffled, then each goes to the rank with the fewest rows so far; every share is cut to the smallest.
 */
export function shardRows(docIds: ArrayLike<number> | undefined, size: number, rank: number, worldSize: number,
  seed: number): Int32Array {
  const docs = new Map<number, number[]>();
  for (let i = 0; i < size; i++) {
    const d = docIds ? docIds[i] : i;
    let rows = docs.get(d);
    if (!rows) docs.set(d, rows = []);
    rows.push(i);
  }
  const random = new Random(seed);
  const lists = [...docs.values()];
  const shares: number[][] = Array.from({ length: worldSize }, () => []);
  for (const k of random.permutation(lists.length)) {
    let smallest = 0;
    for (let r = 1; r < worldSize; r++) if (shares[r].length < shares[smallest].length) smallest = r;
    shares[smallest].push(...lists[k]);
  }
  const keep = Math.min(...shares.map((s) => s.length));
  const mine = shares[rank];
  const order = random.permutation(mine.length);
  return Int32Array.from(order.subarray(0, keep), (i) => mine[i]).sort();
}

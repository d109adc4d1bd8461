// A torch.distributed process group (native/torch/distributed/): c10d's TCPStore for the rendezvous, Gloo for the
// collectives. Ranks find each other as torchrun's do (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE), so a Python
// rank with the same libtorch can join (`dist.TCPStore` + `dist.ProcessGroupGloo` on the same store).
import { native, type ProcessGroupHandle } from '../native.js';
import { rawOf, type Tensor } from '../tensor.js';
import * as torch from '../functions.js';
import { LvmtorchError, nativeCode } from '../../errors.js';

export interface WorldOptions {
  /** This process's rank, 0 ... worldSize - 1; rank 0 hosts the store. */
  rank: number;
  worldSize: number;
  /** Rank 0's address (default 127.0.0.1). */
  masterAddr?: string;
  /** The store's port on rank 0 (default 29500, torchrun's). */
  masterPort?: number;
  /** The rank on this machine (torchrun's LOCAL_RANK; default rank). */
  localRank?: number;
  /** How long the rendezvous and each collective may take before they fail (default 300,000 ms). */
  timeoutMs?: number;
}

/** A rank died or is unreachable, the ranks disagree on the world, or a collective timed out. */
export class DistributedError extends LvmtorchError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_DISTRIBUTED', options);
  }
}

export type ReduceOp = 'sum' | 'mean';

export class World {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  #handle: ProcessGroupHandle | undefined;

  private constructor(o: Required<WorldOptions>, handle: ProcessGroupHandle) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.localRank = o.localRank;
    this.masterAddr = o.masterAddr;
    this.masterPort = o.masterPort;
    this.#handle = handle;
  }

  /** Joins the group: resolves once every rank has (or rejects with DistributedError after timeoutMs). */
  static async init(opts: WorldOptions): Promise<World> {
    const o: Required<WorldOptions> = {
      masterAddr: '127.0.0.1', masterPort: 29500, timeoutMs: 300_000, localRank: opts.rank, ...opts,
    };
    const int = (v: number, name: string, min: number) => {
      if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
    };
    int(o.worldSize, 'worldSize', 1);
    int(o.rank, 'rank', 0);
    if (o.rank >= o.worldSize) throw new RangeError(`rank must be below worldSize ${o.worldSize}, got ${o.rank}`);
    int(o.masterPort, 'masterPort', 1);
    if (o.masterPort > 65535) throw new RangeError(`masterPort must be <= 65535, got ${o.masterPort}`);
    int(o.timeoutMs, 'timeoutMs', 1);
    const handle = await settle(native().processGroupInit(o.masterAddr, o.masterPort, o.rank, o.worldSize, o.timeoutMs));
    return new World(o, handle);
  }

  /**
   * torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, LOCAL_RANK; LVMTORCH_DIST_TIMEOUT_MS), or
   * undefined when WORLD_SIZE is not set. A variable that is set but malformed is an error naming it.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): WorldOptions | undefined {
    if (env.WORLD_SIZE === undefined) return undefined;
    const read = (name: string, fallback?: number): number => {
      const v = env[name];
      if (v === undefined || v === '') {
        if (fallback !== undefined) return fallback;
        throw new RangeError(`${name} must be set when WORLD_SIZE is (torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)`);
      }
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got '${v}'`);
      return n;
    };
    const rank = read('RANK');
    return {
      rank, worldSize: read('WORLD_SIZE'), localRank: read('LOCAL_RANK', rank), masterAddr: env.MASTER_ADDR || '127.0.0.1',
      masterPort: read('MASTER_PORT', 29500), timeoutMs: read('LVMTORCH_DIST_TIMEOUT_MS', 300_000),
    };
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  /**
   * This rank's device for `device`: 'cuda' becomes `cuda:<localRank>`, one GPU per rank of a machine (what a
   * torchrun script sets with torch.cuda.set_device(LOCAL_RANK)); 'cpu' and an explicit 'cuda:N' stay as they are.
   */
  device(device: string): string {
    return device === 'cuda' ? `cuda:${this.localRank}` : device;
  }

  // The collectives are async functions, so that a bad argument (a disposed tensor, a closed world) rejects as a
  // failed collective does, rather than throwing before the Promise exists.

  /** In place on every rank: the sum (or mean) over the ranks, packed into 25 MiB buckets. */
  async allReduce(tensors: Tensor[], op: ReduceOp = 'sum'): Promise<void> {
    if (op !== 'sum' && op !== 'mean') throw new RangeError(`op must be 'sum' or 'mean', got ${String(op)}`);
    return settle(native().processGroupCollective(this.handle, op, tensors.map(rawOf), 0));
  }

  /** In place: `root`'s values on every rank. */
  async broadcast(tensors: Tensor[], root = 0): Promise<void> {
    return settle(native().processGroupCollective(this.handle, 'broadcast', tensors.map(rawOf), root));
  }

  async barrier(): Promise<void> {
    return settle(native().processGroupCollective(this.handle, 'barrier', [], 0));
  }

  /** The sums over the ranks of each number (float64). */
  async allReduceNumbers(values: number[]): Promise<number[]> {
    const t = torch.tensor(values, { dtype: 'float64' });
    try {
      await this.allReduce([t], 'sum');
      return Array.from(t.toTypedArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** `root`'s numbers (float64), on every rank. */
  async broadcastNumbers(values: number[], root = 0): Promise<number[]> {
    const t = torch.tensor(values, { dtype: 'float64' });
    try {
      await this.broadcast([t], root);
      return Array.from(t.toTypedArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** Leaves the group (its threads and sockets); a train step still running keeps it until it ends. */
  close(): void {
    if (this.#handle) native().processGroupClose(this.#handle);
    this.#handle = undefined;
  }

  /** @internal */
  get handle(): ProcessGroupHandle {
    if (!this.#handle) throw new Error('the world was closed and can no longer be used');
    return this.#handle;
  }

  toString(): string {
    return `World(rank ${this.rank} of ${this.worldSize}, master ${this.masterAddr}:${this.masterPort})`;
  }
}

/** A native rejection with code ERR_DISTRIBUTED becomes a DistributedError. */
export async function settle<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (nativeCode(e) === 'ERR_DISTRIBUTED') throw new DistributedError((e as Error).message, { cause: e });
    throw e;
  }
}

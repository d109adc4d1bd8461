// `lvmtorch train --nproc N`: torchrun's job on one machine. Starts N copies of this command, each with torchrun's
// variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT on a free loopback port) and its share of the
// cores as intra-op threads; rank 0's output is passed through, the others' only when they fail. When a rank exits
// with an error or a signal, the others are given `graceMs` to stop on their own (their collectives fail and name
// it), then killed; the launcher's result names the rank that failed first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';

export interface LaunchOptions {
  /** The command each rank runs (default: this process's own, process.argv). */
  argv?: string[];
  /** Intra-op threads of each rank (default: the cores divided among the ranks, at least 1). */
  threads?: number;
  /** How long the other ranks may take to stop after one failed (default 30,000 ms). */
  graceMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface LaunchResult {
  /** 0 when every rank succeeded. */
  exitCode: number;
  /** The rank that failed first, and how ("exit code 1", "signal SIGKILL"). */
  failed?: { rank: number; how: string };
}

/** A TCP port free on loopback now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function launch(nproc: number, opts: LaunchOptions = {}): Promise<LaunchResult> {
  if (!Number.isSafeInteger(nproc) || nproc < 1) throw new RangeError(`nproc must be a positive integer, got ${nproc}`);
  const [node, ...args] = opts.argv ?? process.argv;
  const port = await freePort();
  const threads = opts.threads ?? Math.max(1, Math.floor(availableParallelism() / nproc));
  const ranks: ChildProcess[] = [];
  const logs: string[][] = [];
  let failed: LaunchResult['failed'];
  const exits = Array.from({ length: nproc }, (_, rank) => new Promise<number>((resolve) => {
    const env = {
      ...(opts.env ?? process.env), RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(nproc),
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), LVMTORCH_NUM_THREADS: String(threads),
    };
    const child = spawn(node, args, { env, stdio: rank === 0 ? ['inherit', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
    ranks.push(child);
    const log: string[] = [];
    logs.push(log);
    const keep = (d: Buffer) => {  // the last of a rank's output, shown if it fails
      log.push(d.toString());
      if (log.length > 200) log.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code, signal) => {
      if ((code !== 0 || signal) && !failed) {
        failed = { rank, how: signal ? `signal ${signal}` : `exit code ${code}` };
        if (rank !== 0) process.stderr.write(`lvmtorch launch: rank ${rank} failed (${failed.how}):\n${log.join('').trimEnd()}\n`);
        stopOthers(ranks, rank, opts.graceMs ?? 30_000);
      }
      resolve(code ?? 1);
    });
  }));
  const codes = await Promise.all(exits);
  return { exitCode: failed ? (codes.find((c) => c !== 0) ?? 1) : 0, ...(failed && { failed }) };
}

// After one rank failed: the others get graceMs to notice (a collective with a dead peer fails) and exit, then are
// killed, so that the launcher never hangs.
function stopOthers(ranks: ChildProcess[], failedRank: number, graceMs: number): void {
  const timer = setTimeout(() => {
    for (const [r, child] of ranks.entries()) if (r !== failedRank && child.exitCode === null) child.kill('SIGKILL');
  }, graceMs);
  timer.unref();
}

// `lvmtorch serve`: the inference server (lib/lvm/serve/server.ts) on a port, loopback by default. SIGTERM or SIGINT
// stops accepting connections, lets the requests in flight finish, and exits 0.
import { Command } from 'commander';

import { createServer, DEFAULT_TIMEOUTS } from '../lvm/serve/server.js';
import { loadFactory } from './user-model.js';

interface ServeFlags {
  checkpoint: string;
  model?: string;
  host: string;
  port: number;
  device: string;
  bank?: string;
  maxBatch: number;
  maxWaitMs: number;
  allowLoad?: string;
  cors?: string;
  bodyLimitMb: number;
  maxBatchRows: number;
  loadTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  log?: boolean;
}

const number = (name: string, integer: boolean) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0) throw new Error(`${name} must be a ${integer ? 'whole ' : ''}number >= 0, got ${v}`);
  return n;
};

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a model over HTTP with the seed server\'s API (POST /infer, /infer/batch, /nearest, /model/load; ' +
      'GET /, /health, /model/info, /metrics), micro-batched')
    .requiredOption('--checkpoint <file>', 'the model: any checkpoint or state dict lvmtorch reads (ours, the seed trainers\', the seed server\'s LatentMamba)')
    .option('--model <file>', 'a model of your own: an ES module (./my-model.js) whose default export builds a torch.nn module ' +
      'from the checkpoint\'s model_config (as for lvmtorch train --model)')
    .option('--host <host>', 'the address to listen on', '127.0.0.1')
    .option('--port <n>', 'the port', number('--port', true), 8003)
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .option('--bank <file>', 'an .npz of vectors and their texts (target_vectors + target_texts) for /nearest and /infer\'s k')
    .option('--max-batch <n>', 'rows per forward pass at most', number('--max-batch', true), 64)
    .option('--max-wait-ms <ms>', 'how long an idle model waits to gather a batch (0: requests gather behind the running pass)', number('--max-wait-ms', false), 0)
    .option('--allow-load <dir>', 'let POST /model/load load files inside this folder (off by default: 403)')
    .option('--cors <origin>', 'allow this CORS origin (* for any)')
    .option('--body-limit-mb <n>', 'the largest request body, in MiB', number('--body-limit-mb', false), 16)
    .option('--max-batch-rows <n>', 'the most sequences one /infer/batch may hold (more: 422)', number('--max-batch-rows', true), 1024)
    .option('--load-timeout-ms <ms>', 'how long /model/load may take to read its file', number('--load-timeout-ms', true), 30_000)
    .option('--headers-timeout-ms <ms>', 'slow clients: the time to send a request\'s headers', number('--headers-timeout-ms', true), DEFAULT_TIMEOUTS.headersMs)
    .option('--request-timeout-ms <ms>', 'slow clients: the time to send a whole request', number('--request-timeout-ms', true), DEFAULT_TIMEOUTS.requestMs)
    .option('--keep-alive-timeout-ms <ms>', 'how long an idle kept-alive connection stays open', number('--keep-alive-timeout-ms', true), DEFAULT_TIMEOUTS.keepAliveMs)
    .option('--idle-timeout-ms <ms>', 'a connection with no traffic for this long is closed', number('--idle-timeout-ms', true), DEFAULT_TIMEOUTS.idleMs)
    .option('--log', 'log every request (Fastify\'s logger)')
    .action(async (f: ServeFlags) => {
      const server = await createServer({
        checkpoint: f.checkpoint, factory: f.model === undefined ? undefined : await loadFactory(f.model), device: f.device, bank: f.bank, maxBatch: f.maxBatch, maxWaitMs: f.maxWaitMs,
        allowLoad: f.allowLoad, cors: f.cors, bodyLimit: Math.round(f.bodyLimitMb * 1024 * 1024), logger: f.log === true,
        maxBatchRows: f.maxBatchRows, loadTimeoutMs: f.loadTimeoutMs,
        timeouts: { headersMs: f.headersTimeoutMs, requestMs: f.requestTimeoutMs, keepAliveMs: f.keepAliveTimeoutMs, idleMs: f.idleTimeoutMs },
      });
      const address = await server.listen({ host: f.host, port: f.port });
      const m = server.lvmtorch.model;
      console.log(`lvmtorch serve: ${m.version} (${m.module.numParameters().toLocaleString('en-US')} parameters, ${m.device}) ` +
        `listening on ${address.replace('0.0.0.0', '127.0.0.1')}`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`lvmtorch serve: ${signal}, finishing the requests in flight`);
        server.close().then(() => process.exit(0), (e: Error) => {
          console.error(`lvmtorch serve: ${e.message}`);
          process.exit(1);
        });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}

// The inference server: the seed's port-8003 API (GET /, /health, /model/info; POST /infer, /infer/batch,
// /model/load) with its field names, so its clients work unchanged, plus POST /nearest and GET /metrics. Fastify
// parses and validates (its JSON schemas, through ajv), prom-client counts. Every refusal is a 4xx with FastAPI's
// `detail`; a forward pass never runs on the JS thread (lib/lvm/serve/batcher.ts). Every request's work on the event
// loop is linear in its body and bounded by the limits below (body size, rows per batch), checked before the values
// are read; after start-up nothing here touches the file system synchronously; slow clients are cut off by the
// timeouts.
//
//   const server = await createServer({ checkpoint: 'best_model.pt' }); await server.listen({ port: 8003 });
//   app.register(lvmtorchServe, { state: await ServingState.create({ checkpoint }) , prefix: '/lvm' });  // in your app
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { isAbsolute, relative, resolve, sep } from 'node:path';

import cors from '@fastify/cors';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';

import { parseDevice } from '../../torch/device.js';
import { Batcher } from './batcher.js';
import { VectorBank, type Neighbour } from './bank.js';
import { badRequest, fromSchemaErrors, HttpError, invalid } from './errors.js';
import { meanOfSequence, stepsOf, tmdOf, writeSequence, writeVector } from './input.js';
import { parseJsonBody } from './json-body.js';
import { withTimeout } from '../../formats/read-file.js';
import { ServerMetrics } from './metrics.js';
import { ServedModel, type ModelFactory } from './served-model.js';

export interface ServeOptions {
  /** The file to serve (any checkpoint or state dict lvmtorch reads), or an already loaded model. */
  checkpoint?: string;
  /** Builds a torch.nn module of the user's from each checkpoint's model_config (here and in /model/load). */
  factory?: ModelFactory;
  model?: ServedModel;
  /** 'cpu' (default) or 'cuda[:N]'. */
  device?: string;
  /** An .npz of vectors and texts for /nearest and /infer's `k`, or a loaded bank. */
  bank?: string | VectorBank;
  /** Rows per forward pass at most (default 64). */
  maxBatch?: number;
  /** How long an idle model waits to gather a batch (default 0: under load, requests gather behind the running pass). */
  maxWaitMs?: number;
  /** POST /model/load loads files inside this folder only; without it, /model/load answers 403. */
  allowLoad?: string;
  /** Allowed CORS origin ('*' for any); none by default. */
  cors?: string;
  /** The largest request body, in bytes (default 16 MiB: a batch of 64 sequences of 5 x 768 is ~5 MB of JSON). */
  bodyLimit?: number;
  /** The most sequences one /infer/batch may hold (default 1024); more is a 422 before any of them is read. */
  maxBatchRows?: number;
  /** How long /model/load may take to read its file (default 30,000 ms; a stalled file system is a 400 then). */
  loadTimeoutMs?: number;
  /** Slow clients: see ServeTimeouts. */
  timeouts?: Partial<ServeTimeouts>;
  /** Fastify's logger (default off). */
  logger?: boolean;
}

/** How long the server waits for a client, in ms; a client slower than these is disconnected. */
export interface ServeTimeouts {
  /** For a request's headers, from its first byte (default 10,000). */
  headersMs: number;
  /** For a whole request, headers and body (default 30,000). */
  requestMs: number;
  /** For the next request on a kept-alive connection (default 5,000, as uvicorn's and Node's). */
  keepAliveMs: number;
  /** For any sign of life on a connection, an answer being written included (default 60,000). */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: ServeTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, idleMs: 60_000 };

const SERVICE = {
  name: 'LVM Inference API',
  version: '1.0.0',
  description: 'Latent Vector Model inference for tokenless sequence prediction (lvmtorch)',
  endpoints: [
    'POST /infer - Single sequence inference',
    'POST /infer/batch - Batch inference',
    'POST /nearest - Nearest texts of a vector in the bank',
    'GET /model/info - Model metadata',
    'POST /model/load - Load model from path',
    'GET /health - Health check',
    'GET /metrics - Prometheus metrics',
  ],
};

/** What the routes share: the model being served (swapped atomically), the bank, the batcher, the metrics. */
export class ServingState {
  model: ServedModel;
  readonly bank: VectorBank | null;
  readonly batcher: Batcher;
  readonly metrics = new ServerMetrics();
  readonly allowLoad: string | null;
  /** Builds the user's torch.nn module from a checkpoint's model_config, when serving one. */
  readonly factory: ModelFactory | undefined;
  readonly maxBatchRows: number;
  readonly loadTimeoutMs: number;
  #loading: Promise<unknown> = Promise.resolve();

  private constructor(model: ServedModel, bank: VectorBank | null, opts: ServeOptions) {
    this.model = model;
    this.bank = bank;
    this.allowLoad = opts.allowLoad ? realpathSync(opts.allowLoad) : null;
    this.factory = opts.factory;
    this.maxBatchRows = positiveInteger(opts.maxBatchRows ?? 1024, 'maxBatchRows');
    this.loadTimeoutMs = positiveInteger(opts.loadTimeoutMs ?? 30_000, 'loadTimeoutMs');
    this.batcher = new Batcher({
      maxBatch: opts.maxBatch ?? 64,
      maxWaitMs: opts.maxWaitMs ?? 0,
      onBatch: (rows, seconds) => {
        this.metrics.batchRows.observe(rows);
        this.metrics.forwardSeconds.observe(seconds);
      },
    });
  }

  static async create(opts: ServeOptions): Promise<ServingState> {
    const model = opts.model ?? (opts.checkpoint ? await ServedModel.load(opts.checkpoint, opts.device, { factory: opts.factory }) : null);
    if (!model) throw new TypeError('serve: give a checkpoint (a file) or a model');
    const bank = typeof opts.bank === 'string' ? VectorBank.load(opts.bank) : (opts.bank ?? null);
    if (bank && bank.dim !== model.outputDim) {
      throw new RangeError(`serve: the bank's vectors are ${bank.dim}-D, the model predicts ${model.outputDim}-D`);
    }
    return new ServingState(model, bank, opts);
  }

  /** Loads `path` and swaps it in; requests already running finish on the old model. One load at a time. */
  swap(path: string, device: string): Promise<ServedModel> {
    const next = this.#loading.then(async () => {
      const loaded = await ServedModel.load(path, device, { timeoutMs: this.loadTimeoutMs, factory: this.factory });
      const old = this.model;
      this.model = loaded;
      old.retire();
      return loaded;
    });
    this.#loading = next.catch(() => undefined);
    return next;
  }
}

// ---- request bodies (ajv schemas: shape only; the numbers are checked as they are copied, lib/lvm/serve/input.ts) ----

const code3 = { type: 'array', items: { type: 'integer' }, minItems: 3, maxItems: 3 };
const temperature = { type: 'number', minimum: 0.1, maximum: 2.0 };
const k = { type: 'integer', minimum: 1, maximum: 1000 };
const inferBody = {
  type: 'object', required: ['vector_sequence'],
  properties: { vector_sequence: { type: 'array' }, tmd_codes: code3, temperature, use_mock: { type: 'boolean' }, k },
};
const batchBody = (maxRows: number) => ({
  type: 'object', required: ['sequences'],
  properties: {
    sequences: { type: 'array', maxItems: maxRows }, tmd_codes_batch: { type: 'array', items: code3, maxItems: maxRows },
    temperature: { type: 'number' }, use_mock: { type: 'boolean' }, k,
  },
});
const nearestBody = { type: 'object', required: ['vector'], properties: { vector: { type: 'array' }, k } };
const loadQuery = { type: 'object', required: ['model_path'], properties: { model_path: { type: 'string' }, device: { type: 'string' } } };

interface InferBody { vector_sequence: unknown[]; tmd_codes?: number[]; temperature?: number; use_mock?: boolean; k?: number }
interface BatchBody { sequences: unknown[]; tmd_codes_batch?: number[][]; temperature?: number; use_mock?: boolean; k?: number }

/** The routes, as a Fastify plugin: register it in your own app (with a prefix, if you like). */
export const lvmtorchServe: FastifyPluginAsync<{ state: ServingState }> = async (app, { state }) => {
  // JSON only (application/json and +json types; any other type is a 415), in Python's dialect (lib/lvm/serve/json-body.ts).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPE, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (e) {
      done(e as HttpError, undefined);
    }
  });
  app.setErrorHandler((error: FastifyError | HttpError, req, reply) => errorReply(error, req, reply));
  // As FastAPI: a known path asked with another method is a 405 that says which methods it takes.
  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0];
    const allowed = METHODS.filter((method) => app.hasRoute({ method, url }));
    if (allowed.length === 0) return reply.code(404).send({ detail: 'Not Found' });
    return reply.code(405).header('allow', allowed.join(', ')).send({ detail: 'Method Not Allowed' });
  });
  app.addHook('onRequest', async () => state.metrics.inFlight.inc());
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    state.metrics.inFlight.dec();
    state.metrics.requests.inc({ route, status: String(reply.statusCode) });
    state.metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.get('/', async () => ({ ...SERVICE, model: state.model.version }));

  app.get('/health', async () => ({
    status: 'healthy', model_loaded: true, device: state.model.device, mock_mode_available: true,
  }));

  app.get('/model/info', async () => modelInfo(state));

  app.post<{ Body: InferBody }>('/infer', { schema: { body: inferBody } }, async (req) => {
    const t0 = performance.now();
    const b = req.body;
    const model = state.model;
    const release = model.acquire();
    try {
      const steps = stepsOf(b.vector_sequence, ['body', 'vector_sequence'], model);
      const codes = tmdOf(b.tmd_codes, ['body', 'tmd_codes'], model);
      const input = new Float32Array(steps * model.config.inputDim);
      writeSequence(b.vector_sequence, codes, ['body', 'vector_sequence'], model, input, 0);
      const [predicted] = b.use_mock ? [meanOfSequence(input, steps, model)] : await state.batcher.run(model, input, 1, steps);
      checkFinite(predicted, ['body', 'vector_sequence']);
      return {
        predicted_vector: Array.from(predicted),
        confidence: b.use_mock ? 0 : (model.valCosine ?? 0),
        latency_ms: Math.round(performance.now() - t0),
        model_version: b.use_mock ? 'mock: normalised mean of the input' : model.version,
        is_mock: b.use_mock === true,
        ...(b.k ? { nearest: (await nearestOf(state, [predicted], b.k))[0] } : {}),
      };
    } finally {
      release();
    }
  });

  app.post<{ Body: BatchBody }>('/infer/batch', { schema: { body: batchBody(state.maxBatchRows) } }, async (req) => {
    const t0 = performance.now();
    const b = req.body;
    const model = state.model;
    const release = model.acquire();
    try {
      const codes = b.tmd_codes_batch;
      if (model.readsTmd && codes === undefined) throw invalid(['body', 'tmd_codes_batch'], 'missing', 'Field required', null);
      if (codes && codes.length !== b.sequences.length) {
        throw badRequest(`Number of sequences must match number of TMD code sets (${b.sequences.length} sequences, ${codes.length} codes)`);
      }
      const predictions = await predictBatch(state, model, b.sequences, codes, b.use_mock === true);
      const total = performance.now() - t0;
      return {
        predictions: predictions.map((p) => Array.from(p)),
        count: predictions.length,
        total_latency_ms: Math.round(total),
        avg_latency_ms: predictions.length ? total / predictions.length : 0,
        is_mock: b.use_mock === true,
        ...(b.k ? { nearest: await nearestOf(state, predictions, b.k) } : {}),
      };
    } finally {
      release();
    }
  });

  app.post<{ Body: { vector: unknown[]; k?: number } }>('/nearest', { schema: { body: nearestBody } }, async (req) => {
    const { vector, k: kk = 5 } = req.body;
    const bank = requireBank(state);
    if (vector.length !== bank.dim) throw badRequest(`Expected a ${bank.dim}D vector, got ${vector.length}D`);
    const q = new Float32Array(bank.dim);
    writeVector(vector, ['body', 'vector'], q, 0);
    return { results: (await nearestOf(state, [q], kk))[0], bank_size: bank.size };
  });

  app.post<{ Querystring: { model_path: string; device?: string } }>('/model/load', { schema: { querystring: loadQuery } }, async (req) => {
    const { model_path: asked, device = 'cpu' } = req.query;
    if (!state.allowLoad) throw new HttpError(403, 'model loading is off: start the server with --allow-load DIR');
    const path = await withTimeout(insideAllowed(state.allowLoad, asked), state.loadTimeoutMs,
      `${asked}: not reached within ${state.loadTimeoutMs} ms (a stalled file system?)`).catch((e: Error) => {
      throw e instanceof HttpError ? e : badRequest(`Model loading failed, the previous model is still served: ${e.message}`);
    });
    try {
      parseDevice(device);
    } catch (e) {
      throw invalid(['query', 'device'], 'value_error', (e as Error).message, device);
    }
    try {
      const loaded = await state.swap(path, device);
      state.metrics.modelLoads.inc({ result: 'success' });
      return { status: 'success', message: `Model loaded from ${path}`, num_parameters: loaded.module.numParameters(), device: loaded.device };
    } catch (e) {
      state.metrics.modelLoads.inc({ result: 'failed' });
      throw badRequest(`Model loading failed, the previous model is still served: ${(e as Error).message}`);
    }
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', state.metrics.registry.contentType);
    return state.metrics.registry.metrics();
  });
};

/** A Fastify app with the routes, and its state (the model being served, the bank, the metrics). */
export type LvmtorchServer = FastifyInstance & { readonly lvmtorch: ServingState };

/** A Fastify app serving one model: `await server.listen({ port: 8003, host: '127.0.0.1' })`. */
export async function createServer(opts: ServeOptions): Promise<LvmtorchServer> {
  const state = await ServingState.create(opts);
  const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  for (const [k, v] of Object.entries(t)) positiveInteger(v, `timeouts.${k}`);
  if (t.headersMs > t.requestMs) throw new RangeError(`timeouts.headersMs (${t.headersMs}) must not exceed timeouts.requestMs (${t.requestMs})`);
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 16 * 1024 * 1024,
    // Node checks the headers and request timeouts every connectionsCheckingInterval (30 s by default): once a second
    // here, so that a slow client is cut off close to its timeout.
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: 1000 },
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionTimeout: t.idleMs,
    // Shapes are checked, values are not changed: no coercion, no removed properties.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    clientErrorHandler: clientError,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  if (opts.cors) await app.register(cors, { origin: opts.cors === '*' ? true : opts.cors });
  await app.register(lvmtorchServe, { state });
  app.addHook('onClose', async () => state.bank?.dispose());
  // Once closing, every answer ends its keep-alive connection: close() would otherwise wait for each client's idle
  // connection to time out (Fastify's keepAliveTimeout, 72 s) after the requests in flight have been answered.
  let closing = false;
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onSend', async (_req, reply) => { if (closing) reply.header('connection', 'close'); });
  app.decorate('lvmtorch', state);
  return app as unknown as LvmtorchServer;
}

// The media type with its parameters, as Fastify tests it: application/json; charset=utf-8, application/vnd.api+json.
const JSON_TYPE = /^application\/([\w.+-]+\+)?json(;.*)?$/i;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

function positiveInteger(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`serve: ${name} must be a whole number >= 1, got ${v}`);
  return v;
}

function modelInfo(state: ServingState): Record<string, unknown> {
  const m = state.model;
  const c = m.config;
  return {
    loaded: true, model_path: m.path, d_input: c.inputDim, d_hidden: c.dModel, n_layers: c.numLayers,
    device: m.device, num_parameters: m.module.numParameters(),
    kind: c.kind, output_dim: c.outputDim, vector_dim: m.vectorDim, model_version: m.version,
    tmd_codes: m.readsTmd ? 'required: appended to every step as 16-D bits' : `ignored: this model reads ${m.vectorDim}-D vectors only`,
    confidence: m.valCosine ?? 0,
    confidence_source: m.valCosine !== null
      ? "the checkpoint's val_cosine: the mean cosine between its predictions and the true next vectors on held-out data"
      : 'none: the file holds no validation score, so confidence is 0',
    bank: state.bank ? { path: state.bank.path, size: state.bank.size } : null,
  };
}

// Sequences grouped by length, each group one job (and so one forward pass, unless it meets other requests).
// Every sequence is checked and copied before the first job starts: a bad one fails the request with no pass
// running on the model, which the request's release may then free.
async function predictBatch(state: ServingState, model: ServedModel, sequences: unknown[], codes: number[][] | undefined,
  mock: boolean): Promise<Float32Array[]> {
  const width = model.config.inputDim;
  const groups = new Map<number, number[]>();
  sequences.forEach((seq, i) => {
    const steps = stepsOf(seq, ['body', 'sequences', i], model);
    const members = groups.get(steps);
    if (members) members.push(i);
    else groups.set(steps, [i]);
  });
  const jobs = [...groups].map(([steps, members]) => {
    const input = new Float32Array(members.length * steps * width);
    members.forEach((i, row) => {
      const c = model.readsTmd ? tmdOf(codes![i], ['body', 'tmd_codes_batch', i], model) : null;
      writeSequence(sequences[i] as unknown[], c, ['body', 'sequences', i], model, input, row);
    });
    return { steps, members, input };
  });
  const out: Float32Array[] = new Array(sequences.length);
  const done = await Promise.allSettled(jobs.map(async ({ steps, members, input }) => {
    const predicted = mock
      ? members.map((_, row) => meanOfSequence(input.subarray(row * steps * width, (row + 1) * steps * width), steps, model))
      : await state.batcher.run(model, input, members.length, steps);
    members.forEach((i, row) => (out[i] = predicted[row]));
  }));
  const failed = done.find((d) => d.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  out.forEach((p, i) => checkFinite(p, ['body', 'sequences', i]));
  return out;
}

// A served model's weights are finite (ServedModel.load checks), so a prediction that is not comes from its input:
// values that overflow inside the model. A 400 then, never a vector of nulls.
function checkFinite(prediction: Float32Array, loc: (string | number)[]): void {
  if (prediction.every(Number.isFinite)) return;
  const where = loc.slice(1).map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('');
  throw badRequest(`the model's prediction for ${where} is not finite: its values are too large for this model ` +
    '(they overflow float32 inside it); send smaller values, e.g. unit-norm vectors as the model was trained on');
}

function requireBank(state: ServingState): VectorBank {
  if (!state.bank) throw badRequest('this server has no bank of texts: start it with --bank FILE (an .npz of vectors and texts)');
  return state.bank;
}

function nearestOf(state: ServingState, vectors: Float32Array[], kk: number): Promise<Neighbour[][]> {
  return requireBank(state).nearest(vectors, kk);
}

// The asked path, resolved against the allowed folder, must stay inside it once symlinks are followed.
async function insideAllowed(root: string, asked: string): Promise<string> {
  const path = isAbsolute(asked) ? asked : resolve(root, asked);
  const inside = isInside(root, resolve(path));
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new HttpError(inside ? 404 : 403, inside ? `Model file not found: ${asked}` : forbidden(asked, root));
  }
  if (!isInside(root, real)) throw new HttpError(403, forbidden(asked, root));
  return real;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function forbidden(asked: string, root: string): string {
  return `${asked} is outside the folder this server may load from (${root})`;
}

// Requests that never reached a route: malformed HTTP, headers too large, or a client too slow (the timeouts). The
// answer is FastAPI-shaped like every other, and the connection is closed.
function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout: the request was not received in time']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large']
      : [400, `Bad Request: malformed HTTP (${err.code ?? err.message})`];
  const body = JSON.stringify({ detail });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

function errorReply(error: FastifyError | HttpError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  // A route that does not exist is a 404 whatever its body was (Fastify parses it before knowing).
  if (req.is404) return reply.code(404).send({ detail: 'Not Found' });
  if (error instanceof HttpError) return reply.code(error.statusCode).send({ detail: error.detail });
  const e = error as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (e.validation) {
    const where = e.validationContext === 'querystring' ? 'query' : (e.validationContext ?? 'body');
    const data = where === 'query' ? req.query : req.body;
    return reply.code(422).send({ detail: fromSchemaErrors(e.validation as never, where, data) });
  }
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send({ detail: `Request body is larger than this server's limit of ${req.routeOptions.bodyLimit} bytes` });
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply.code(415).send({ detail: `Unsupported Media Type: ${req.headers['content-type'] ?? '(none)'}; send application/json` });
  }
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return reply.code(422).send({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] });
  }
  if (e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return reply.code(400).send({ detail: 'Content-Length does not match the body' });
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return reply.code(e.statusCode).send({ detail: e.message });
  req.log.error(error);
  return reply.code(500).send({ detail: `Internal error: ${e.message}` });
}

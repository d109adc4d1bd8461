// GET /metrics: Prometheus' text format through prom-client, on a registry of the server's own (two servers in
// one process do not mix their counts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'lvmtorch_requests_total', help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'status'], registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'lvmtorch_request_duration_seconds', help: 'Time from request to response, by route',
    labelNames: ['route'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'lvmtorch_batch_rows', help: 'Sequences per forward pass (micro-batches and /infer/batch groups)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry],
  });
  readonly forwardSeconds = new Histogram({
    name: 'lvmtorch_forward_seconds', help: 'Time of one forward pass',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: 'lvmtorch_requests_in_flight', help: 'Requests being answered', registers: [this.registry] });
  readonly modelLoads = new Counter({
    name: 'lvmtorch_model_loads_total', help: 'POST /model/load attempts, by result', labelNames: ['result'], registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'lvmtorch_' });
  }
}

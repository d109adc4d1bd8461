// loss: the composite loss (seed weights: InfoNCE 1, moment 0.1, variance 0.01, tau 0.07), forward + backward,
// on [B, 768] float32 at B = 32, 64, 256, 1024: the fused native op (compositeLoss) against the unfused reference
// made of Tensor ops with autograd (compositeLossReference, written as the seed writes it: two GEMMs for the two
// directions of InfoNCE; and with the second product a transpose of the first: one GEMM) and against Python
// PyTorch running the seed's own compute_losses (bench/python/loss.py). Each implementation is a worker process
// with one intra-op thread and one BLAS thread; they are interleaved in rounds and the medians are reported.
//
//   npm run bench -- loss [--rounds=5] [--sample=0.5] [--sizes=32,64,256,1024]
//
// Run as `node bench/loss.js --worker` this file is the lvmtorch worker.
import { fileURLToPath } from 'node:url';

import { formatTable, median, startWorker, timeRepeated } from './lib/harness.js';

export const description = 'composite loss forward+backward: fused native op vs unfused Tensor ops vs Python (seed)';

const D = 768;
const TARGET = 0.6; // fused <= 0.6 x the unfused reference

const IMPLS = [
  { id: 'fused', worker: 'lvmtorch', label: 'lvmtorch fused', code: 'compositeLoss(pred, target, w).total.backward()' },
  { id: 'reference', worker: 'lvmtorch', label: 'lvmtorch unfused (seed form)',
    code: 'compositeLossReference(pred, target, w).total.backward()   (target_cos @ pred_cos.T: 2 GEMMs fwd, 2 bwd)' },
  { id: 'reference-t', worker: 'lvmtorch', label: 'lvmtorch unfused (transpose)',
    code: "compositeLossReference(..., { logitsT: 'transpose' })   (logits.t(): 1 GEMM fwd, 1 bwd)" },
  { id: 'python', worker: 'python', label: 'python seed', code: 'compute_losses(pred, F.normalize(pred), target, w)[0].backward()' },
];

export async function run({ options = {}, log = console.log } = {}) {
  // Python PyTorch of the libtorch this process loads by default (2.13 here): like for like with lvmtorch's worker.
  const python = (await import('./lib/variants.js')).defaultPython();
  const rounds = Number(options.rounds ?? 5);
  const sample = Number(options.sample ?? 0.5);
  const sizes = String(options.sizes ?? '32,64,256,1024').split(',').map(Number);
  const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };
  const workers = Object.fromEntries(await Promise.all([
    startWorker('lvmtorch', process.execPath, [fileURLToPath(import.meta.url), '--worker'], { env }),
    startWorker('python', python, ['bench/python/loss.py'], { env }),
  ].map(async (w) => { const x = await w; return [x.name, x]; })));
  for (const w of Object.values(workers)) log(`  ${w.name}: ${JSON.stringify(w.hello)}`);

  const samples = Object.fromEntries(sizes.map((B) => [B, Object.fromEntries(IMPLS.map((i) => [i.id, []]))]));
  const t0 = Date.now();
  for (let round = 0; round <= rounds; round++) {
    process.stderr.write(round === 0 ? '  warm-up round' : ` ${round}`);
    for (const B of sizes) {
      for (let k = 0; k < IMPLS.length; k++) {
        const impl = IMPLS[(k + round) % IMPLS.length];
        const r = await workers[impl.worker].request({ impl: impl.id, B, D, seconds: round === 0 ? 0.1 : sample });
        if (round > 0) samples[B][impl.id].push(r.ms);
      }
    }
  }
  process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  await Promise.all(Object.values(workers).map((w) => w.close()));

  const rows = [];
  const results = [];
  for (const B of sizes) {
    const med = Object.fromEntries(IMPLS.map((i) => [i.id, median(samples[B][i.id])]));
    for (const impl of IMPLS) {
      const s = samples[B][impl.id];
      const fusedRatio = med.fused / med[impl.id];
      rows.push([
        impl === IMPLS[0] ? `B=${B}` : '', impl.label, med[impl.id].toFixed(3),
        `${Math.min(...s).toFixed(3)}–${Math.max(...s).toFixed(3)}`,
        impl.id === 'fused' ? '' : `${fusedRatio.toFixed(2)}×`,
        impl.id === 'reference' ? (fusedRatio <= TARGET ? 'PASS' : 'MISS') : '',
      ]);
      results.push({ B, D, impl: impl.id, code: impl.code, medianMs: med[impl.id], samplesMs: s,
        fusedOverThis: impl.id === 'fused' ? 1 : fusedRatio });
    }
  }
  const table = [
    `ms per forward+backward, [B, ${D}] float32, seed weights (info 1, moment 0.1, variance 0.01, tau 0.07); median of ` +
      `${rounds} interleaved rounds of ~${sample} s (min–max); one intra-op thread and one BLAS thread everywhere`,
    '',
    formatTable(['<batch', '<implementation', 'ms', 'min–max', 'fused ÷ this', `≤${TARGET}×`], rows),
    '',
    ...IMPLS.map((i) => `  ${i.label.padEnd(30)} ${i.code}`),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, sampleSeconds: sample, sizes, D, threads: 1, blasThreads: 1 },
      target: { fusedOverReference: TARGET },
      workers: Object.fromEntries(Object.values(workers).map((w) => [w.name, w.hello])),
      results,
    },
  };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { torch, compositeLoss, LOSS_PRESETS } = await import('../dist/index.js');
  const { compositeLossReference } = await import('../dist/lvm/loss/reference.js');
  torch.setNumThreads(1);
  torch.setBlasThreads(1);
  torch.manualSeed(0);
  const inputs = new Map();
  const inputsFor = (B, D) => {
    if (!inputs.has(B)) {
      const pred = torch.randn([B, D]).requiresGrad_();
      const target = torch.tidy(() => torch.randn([B, D]).normalize({ dim: 1 }));
      inputs.set(B, { pred, target });
    }
    return inputs.get(B);
  };
  const w = LOSS_PRESETS.seed;
  const steps = {
    fused: (pred, target) => torch.tidy(() => { compositeLoss(pred, target, w).total.backward(); }),
    reference: (pred, target) => torch.tidy(() => { compositeLossReference(pred, target, w).total.backward(); }),
    'reference-t': (pred, target) =>
      torch.tidy(() => { compositeLossReference(pred, target, { ...w, logitsT: 'transpose' }).total.backward(); }),
  };
  console.log(JSON.stringify({ impl: 'lvmtorch', node: process.version, threads: torch.getNumThreads() }));
  for await (const line of createInterface({ input: process.stdin })) {
    const { impl, B, D, seconds } = JSON.parse(line);
    const step = steps[impl];
    if (!step) {
      console.log(JSON.stringify({ error: `unknown impl ${impl}` }));
      continue;
    }
    const { pred, target } = inputsFor(B, D);
    const once = () => {
      step(pred, target);
      pred.grad = null;
    };
    console.log(JSON.stringify(timeRepeated(once, seconds)));
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) {
  await worker();
}

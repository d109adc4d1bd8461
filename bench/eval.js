// eval: what `lvmtorch eval` does with a checkpoint, timed: read it and rebuild the model (readCheckpoint +
// models.fromCheckpoint), build the default corpus (datasets.synthetic({ seed: 0 }): 500 documents, 9,500
// windows), and evaluate(model, data): split by document, score the model on train/val/test, fit and score the
// baselines (mean, copy-last, context-mean, ridge with its strength chosen on val, and the oracle); every score's
// centred cosine, MRR and median rank too. The checkpoint is the GRU at
// npm start's size (models.gru({ dModel: 256, numLayers: 2 }), written by writeCheckpoint). lvmtorch runs on each
// libtorch variant at its defaults; against it, the same work written in PyTorch 2.13 (bench/python/eval.py:
// torch.load + the seed's class + load_state_dict; the model scored and the baselines fitted as lib/train does, in
// the same float32/float64 and the same chunks) at OMP 1 and 2 (the faster is the anchor), on the same split
// (its vectors and row indices written by lvmtorch; Python gathers each batch from them as lvmtorch does). The
// corpus has no Python counterpart (Python reads it from that file instead): its row is lvmtorch's alone.
// Scores are checked to agree (within 1e-4) before the times are reported. Ratios are Python's best time ÷
// lvmtorch's (> 1 = lvmtorch is faster); the issue sets no target for these rows.
//
//   npm run bench -- eval [--rounds=3] [--variants=torch-2.13-cpu,torch-1.13-cpu] [--python=auto]
//
// Run as `node bench/eval.js --worker` this file is the lvmtorch worker (the variant is the one its environment
// selects: LIBTORCH).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { formatTable, median, outDir, spread } from './lib/harness.js';

export const description = '`lvmtorch eval` of a checkpoint (npm start\'s GRU) on the default corpus: lvmtorch per variant vs the same in Python 2.13 (best threads), seconds';

const SIZE = { dModel: 256, numLayers: 2 }; // npm start's --d-model 256 --layers 2
const SEED = 0;
const SPLIT = { train: 0.8, val: 0.1, test: 0.1 };
const TOLERANCE = 1e-4;
const STAGES = {
  load: 'checkpoint → model',
  data: 'default corpus (datasets.synthetic)',
  evaluate: 'evaluate(): score 3 splits + baselines',
};

export async function run({ options = {}, log = console.log } = {}) {
  const {
    discover, selectVariants, anchorPython, DEFAULTS, startPlan, explicitSettings, settingLabel, settingsFrom,
    threadArgs, threadEnv
  } = await import('./lib/variants.js');
  const { torch, models, datasets, writeCheckpoint, optim } = await import('../dist/index.js');
  const rounds = Number(options.rounds ?? 3);
  const cores = cpus().length;

  // The checkpoint, as the Trainer writes one, and the split for Python (the shared vectors and each split's rows).
  const checkpoint = join(outDir, 'eval-gru.pt');
  const dataFile = join(outDir, 'eval-data.npz');
  torch.manualSeed(SEED);
  const model = models.gru(SIZE);
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
  const params = model.numParameters();
  await writeCheckpoint(checkpoint, {
    epoch: 1, val_loss: NaN, val_cosine: NaN, args: { seed: SEED, d_model: SIZE.dModel, layers: SIZE.numLayers },
    model_config: { ...model.config }, loss_weights: {}, best_val_loss: NaN, history: [],
  }, model, opt);
  opt.dispose();
  model.dispose();
  const data = datasets.synthetic({ seed: SEED });
  const s = datasets.splitByDocument(data, { ...SPLIT, seed: SEED });
  const sizes = { train: s.train.size, val: s.val.size, test: s.test.size };
  torch.saveNpz({
    vectors: s.train.vectors,
    ...Object.fromEntries(['train', 'val', 'test'].flatMap((k) => [
      [`${k}_context`, s[k].contextIndex], [`${k}_target`, s[k].targetIndex], ...(s[k].oracle ? [[`${k}_oracle`, s[k].oracle]] : []),
    ])),
  }, dataFile);
  for (const d of [s.train, s.val, s.test, data]) d.dispose();

  const found = discover();
  const variants = selectVariants(found, options.variants, log);
  const anchor = anchorPython(found);
  const plan = [
    ...variants.map((v) => ({
      id: `lvmtorch-${v.minor}`, group: `lvmtorch ${v.minor}`, kind: 'lvmtorch', variant: v.variant, setting: DEFAULTS,
      command: process.execPath, args: [fileURLToPath(import.meta.url), '--worker'], env: threadEnv(v.env),
    })),
    ...settingsFrom(options.python, explicitSettings(anchor.openblas, cores)).map((st) => ({
      id: `python-${anchor.minor}/${st.spec}`, group: `python ${anchor.minor}`, kind: 'python', setting: st,
      command: anchor.python, args: ['bench/python/eval.py', ...threadArgs(st)], env: threadEnv(process.env),
    })),
  ];
  log(`  checkpoint: gru ${JSON.stringify(SIZE)}, ${params.toLocaleString('en-US')} parameters; corpus split ` +
    `${sizes.train}/${sizes.val}/${sizes.test} windows (train/val/test); starting ${plan.length} workers ...`);
  const workers = await startPlan(plan, log, 9);

  const samples = Object.fromEntries(workers.map((w) => [w.id, { load: [], data: [], evaluate: [] }]));
  const answers = {};
  // No warm-up round: one evaluate() is ~15 s of float64 GEMMs and Cholesky factorisations, next to which the
  // first call's costs are nothing.
  process.stderr.write('  round');
  for (let round = 1; round <= rounds; round++) {
    const t0 = Date.now();
    process.stderr.write(` ${round}`);
    for (let k = 0; k < workers.length; k++) {
      const w = workers[(k + round) % workers.length];
      const r = await w.worker.request({ checkpoint, data: dataFile, seed: SEED, split: SPLIT });
      answers[w.id] = r;
      for (const stage of Object.keys(STAGES)) if (r.seconds[stage] !== undefined) samples[w.id][stage].push(r.seconds[stage]);
    }
    process.stderr.write(` (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  await Promise.all(workers.map((w) => w.worker.close().catch(() => {})));

  // The scores every side computed, against the first Python's.
  const pyWorkers = workers.filter((w) => w.kind === 'python');
  const ref = answers[pyWorkers[0]?.id];
  const check = Object.fromEntries(workers.map((w) => [w.id, compareScores(answers[w.id], ref)]));
  const worst = Math.max(...Object.values(check).map((c) => c.maxAbsDiff));
  const agree = worst <= TOLERANCE && Object.values(check).every((c) => c.sameLambda);

  const med = (id, stage) => (samples[id][stage].length ? median(samples[id][stage]) : NaN);
  const tableRows = [];
  const results = [];
  for (const stage of Object.keys(STAGES)) {
    const best = pyWorkers.filter((w) => !Number.isNaN(med(w.id, stage)))
      .reduce((b, w) => (!b || med(w.id, stage) < med(b.id, stage) ? w : b), null);
    let first = true;
    for (const w of workers) {
      const m = med(w.id, stage);
      if (Number.isNaN(m)) continue;
      const ratio = best ? med(best.id, stage) / m : NaN;
      const digits = m < 1 ? 3 : 2;
      tableRows.push([
        first ? STAGES[stage] : '', `${w.group} ${settingLabel(w.setting)}${w === best && pyWorkers.length > 1 ? ' (best)' : ''}`,
        w.threads, m.toFixed(digits), spread(samples[w.id][stage], digits), Number.isNaN(ratio) ? '' : `${ratio.toFixed(2)}×`,
      ]);
      first = false;
      results.push({ stage, id: w.id, threads: w.threads, medianSeconds: m, seconds: samples[w.id][stage],
        speedupOverBestPython: ratio });
    }
  }
  const lam = ref?.baselines?.ridgeLambda;
  const summary = { agree, worstScoreDiff: worst, ridgeLambda: lam };
  const table = [
    `seconds (median of ${rounds} interleaved rounds, min–max); "py best ÷ this" = the faster Python setting's time ÷ this ` +
      `row's (> 1 = faster than Python); GRU ${JSON.stringify(SIZE)} (${params.toLocaleString('en-US')} parameters) on ` +
      `${sizes.train}/${sizes.val}/${sizes.test} windows`,
    '',
    formatTable(['<stage', '<implementation', '<threads (as run)', 's', 'min–max', 'py best ÷ this'], tableRows),
    '',
    `scores checked: max |Δ| of every model and baseline score (cosine, mse, top-1, top-5, centred cosine, MRR; median rank equal) against ${pyWorkers[0]?.id}: ` +
      `${worst.toExponential(1)}; ridge strength ${lam} on every side: ${Object.values(check).every((c) => c.sameLambda) ? 'yes' : 'NO'}` +
      `${agree ? '' : ' — THE SIDES DISAGREE: the times compare different work'}`,
    ref ? `scores (val cosine): model ${ref.scores.val.cosine.toFixed(4)}, ` +
      Object.entries(ref.baselines.scores).map(([k, v]) => `${k} ${v.val.cosine.toFixed(4)}`).join(', ') : '',
    `the corpus row has no Python counterpart (Python reads the split from ${dataFile.replace(/.*\/bench\//, 'bench/')} instead, untimed)`,
    ...(found.skipped.length ? [`not run: ${found.skipped.join('; ')}`] : []),
  ].join('\n');
  return {
    table,
    results: {
      config: { rounds, model: { kind: 'gru', ...SIZE, params }, seed: SEED, split: SPLIT, sizes },
      tolerance: TOLERANCE, check, summary,
      workers: workers.map((w) => ({ id: w.id, command: w.command, args: w.args, setting: w.setting.spec, hello: w.worker.hello })),
      answers,
      results,
    },
  };
}

// Every score of the model (train/val/test) and of the baselines (val/test), against the reference's.
function compareScores(a, ref) {
  if (!a || !ref) return { maxAbsDiff: Infinity, sameLambda: false };
  let m = 0;
  const metrics = (x, y) => {
    for (const k of ['cosine', 'mse', 'top1', 'top5', 'centredCosine', 'mrr']) m = Math.max(m, Math.abs(x[k] - y[k]));
    if (x.count !== y.count || x.medianRank !== y.medianRank) m = Infinity;
  };
  for (const split of ['train', 'val', 'test']) metrics(a.scores[split], ref.scores[split]);
  for (const [name, bySplit] of Object.entries(ref.baselines.scores)) {
    for (const split of Object.keys(bySplit)) {
      if (!a.baselines.scores[name]?.[split]) m = Infinity;
      else metrics(a.baselines.scores[name][split], bySplit[split]);
    }
  }
  return { maxAbsDiff: m, sameLambda: a.baselines.ridgeLambda === ref.baselines.ridgeLambda };
}

// ---- the lvmtorch worker ----------------------------------------------------------------------------------

async function worker() {
  const { createInterface } = await import('node:readline');
  const { doctor, torch, models, datasets, evaluate, readCheckpoint, optim } = await import('../dist/index.js');
  const d = doctor();
  console.log(JSON.stringify({
    impl: 'lvmtorch', node: process.version, variant: d.variant, libtorch: d.libtorch?.version, binary: d.binary?.path,
    threads: torch.getNumThreads(),
    blas: { kind: d.blas?.kind, threads: d.blas?.threads ?? null, core: d.blas?.core?.name ?? null },
  }));
  for await (const line of createInterface({ input: process.stdin })) {
    const { checkpoint, seed, split } = JSON.parse(line);
    try {
      // As lib/cli/eval.ts does it.
      let t = performance.now();
      const ckpt = await readCheckpoint(checkpoint);
      const model = models.fromCheckpoint(ckpt);
      const load = (performance.now() - t) / 1e3;
      for (const v of Object.values(ckpt.model_state_dict)) v.dispose();
      t = performance.now();
      const data = datasets.synthetic({ seed });
      const dataSeconds = (performance.now() - t) / 1e3;
      t = performance.now();
      const result = await evaluate(model, data, { seed, split }); // evaluate() may be sync or async
      const evalSeconds = (performance.now() - t) / 1e3;
      model.dispose();
      data.dispose();
      console.log(JSON.stringify({
        seconds: { load, data: dataSeconds, evaluate: evalSeconds },
        scores: result.scores, baselines: result.baselines,
      }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.stack ?? e.message }));
    }
  }
}

if (process.argv[2] === '--worker' && process.argv[1] === fileURLToPath(import.meta.url)) await worker();

// `lvmtorch train`: a Trainer run from the shell, on a .npz (the seed's layout) or the built-in synthetic corpus,
// with a progress bar on a terminal and one log line per epoch otherwise, ending with the model-vs-baselines table.
import { basename, extname } from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';

import * as datasets from '../lvm/data/index.js';
import { launch } from '../torch/distributed/launch.js';
import { World } from '../torch/distributed/world.js';
import type { Dataset } from '../lvm/data/dataset.js';
import { LOSS_PRESETS, type CompositeWeights, type LossPreset } from '../lvm/loss/composite.js';
import * as models from '../lvm/models/index.js';
import type { ModelKind } from '../lvm/models/config.js';
import { modelConfig } from '../lvm/models/trainable.js';
import type { Module } from '../torch/nn/module.js';
import { isModelFile, loadUserModel, parseModelConfig } from './user-model.js';
import * as torch from '../torch/functions.js';
import { MONITORS, type Monitor } from '../lvm/train/monitor.js';
import { formatSummary } from '../lvm/train/summary.js';
import { Trainer, type TrainerCallbacks, type TrainerOptions } from '../lvm/train/trainer.js';

interface TrainFlags {
  data?: string;
  context: number;
  // Not latent_mamba: the seed server's model predicts a 784-D output the training losses do not take. Or a file.
  model: Exclude<ModelKind, 'latent_mamba'> | string;
  modelConfig?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay?: number;
  optimizer: 'adamw' | 'adam';
  schedule: 'plateau' | 'cosine' | 'none';
  clipNorm: number;
  precision: 'fp32' | 'bf16';
  loss: LossPreset;
  tau?: number;
  cosMse?: number;
  dModel?: number;
  layers?: number;
  heads?: number;
  dropout?: number;
  residual: 'none' | 'ridge' | 'copy-last';
  device: string;
  out?: string;
  seed: number;
  resume?: string;
  patience?: number;
  monitor: Monitor;
  threads?: number;
  nproc?: number;
  progress: boolean;
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return n;
};

export function trainCommand(): Command {
  return new Command('train')
    .description('train a latent vector model; prints every epoch and, at the end, the model against the ' +
      'baselines (global mean, copy-last, context mean, ridge, and the oracle on the built-in data) on held-out documents')
    .option('--data <file>', 'a .npz in the seed\'s layout (context_sequences, target_vectors[, doc_ids]) or an ordered ' +
      'vectors file (vectors [N, D], doc_ids [N]: windows are cut here); default: the built-in synthetic corpus')
    .option('--context <n>', 'context vectors per window, for an ordered vectors file', int('--context'), 5)
    .option('--model <kind|file>', 'architecture: gru, lstm, transformer, mamba2, or an ES module (./my-model.js) whose default ' +
      'export builds a torch.nn module from a config ({ inputDim, outputDim, context } and --model-config)', modelKind, 'gru')
    .option('--model-config <json>', 'with --model FILE: more of the config its factory is given (a JSON object)')
    .option('--epochs <n>', 'epochs', int('--epochs'), 20)
    .option('--batch-size <n>', 'rows per step', int('--batch-size'), 32)
    .option('--lr <x>', 'learning rate', num('--lr'), 5e-4)
    .option('--weight-decay <x>', 'weight decay (default 0.01 for adamw, 0 for adam)', num('--weight-decay'))
    .addOption(new Option('--optimizer <name>', 'optimiser').choices(['adamw', 'adam']).default('adamw'))
    .addOption(new Option('--schedule <name>', 'lr schedule').choices(['plateau', 'cosine', 'none']).default('plateau'))
    .option('--clip-norm <x>', 'max gradient norm (0: no clipping)', num('--clip-norm'), 1)
    .addOption(new Option('--precision <p>', 'bf16: forward under bf16 autocast, fp32 weights and checkpoints (fast on CPUs ' +
      'with AVX-512 BF16 or AMX: see lvmtorch doctor)').choices(['fp32', 'bf16']).default('fp32'))
    .addOption(new Option('--loss <recipe>', 'cosine: MSE of the normalised prediction; contrastive: InfoNCE with in-batch ' +
      'negatives (tau 0.05); document: InfoNCE against the sentences of the row\'s own document, its context left out ' +
      '(tau 0.05; needs documents); seed: InfoNCE (tau 0.07) 1 + moment 0.1 + variance 0.01')
      .choices(['cosine', 'contrastive', 'document', 'seed']).default('cosine'))
    .option('--tau <x>', 'the InfoNCE temperature (default: the recipe\'s)', num('--tau'))
    .option('--cos-mse <w>', 'adds the cosine-regression term with this weight to the recipe\'s loss', num('--cos-mse'))
    .option('--d-model <n>', 'model width (default: the seed\'s, 512)', int('--d-model'))
    .option('--layers <n>', 'layers (default: the seed\'s for the architecture)', int('--layers'))
    .option('--heads <n>', 'attention heads (transformer)', int('--heads'))
    .option('--dropout <p>', 'dropout', num('--dropout'))
    .addOption(new Option('--residual <base>', 'ridge: the model learns the residual over the ridge baseline (fitted on ' +
      'train, kept in the checkpoint as ridge.weight / ridge.bias) and starts from its predictions; copy-last: over the ' +
      'last context vector (kept the same way)').choices(['none', 'ridge', 'copy-last']).default('none'))
    .option('--device <device>', 'cpu, cuda or cuda:N (cuda with --nproc or torchrun\'s variables: cuda:LOCAL_RANK)', 'cpu')
    .option('--out <dir>', 'where best_model.pt, final_model.pt, training_history.json and report.html go ' +
      '(default artifacts/lvm/models/<model>)')
    .option('--seed <n>', 'seeds the data, the split, the shuffling and the weights', (v) => Number(v), 0)
    .option('--resume <checkpoint>', 'continue from a checkpoint (ours or a seed-style one)')
    .option('--patience <n>', 'stop after n epochs without a better val metric', int('--patience'))
    .addOption(new Option('--monitor <metric>', 'the val score that picks best_model.pt and counts --patience (its ' +
      'training_history.json key; in-doc ones need the documents)').choices(MONITORS).default('val_loss'))
    .option('--threads <n>', 'libtorch intra-op threads (default: every core; with --nproc, each rank its share)', int('--threads'))
    .option('--nproc <n>', 'data-parallel ranks on this machine (torch.distributed with Gloo; --batch-size stays the ' +
      'global batch). For several machines start each rank with torchrun\'s variables (RANK, WORLD_SIZE, MASTER_ADDR, ' +
      'MASTER_PORT) instead', int('--nproc'))
    .option('--no-progress', 'plain log lines even on a terminal')
    .action(async (flags: TrainFlags) => {
      if (flags.nproc && flags.nproc > 1 && process.env.WORLD_SIZE === undefined) {
        const r = await launch(flags.nproc, { threads: flags.threads });
        if (r.failed) throw new Error(`rank ${r.failed.rank} of ${flags.nproc} failed (${r.failed.how}); the run stopped`);
        return;
      }
      const threads = flags.threads ?? (Number(process.env.LVMTORCH_NUM_THREADS) || undefined);
      if (threads) torch.setNumThreads(threads);
      torch.manualSeed(flags.seed);
      const worldOptions = World.fromEnv();
      const world = worldOptions && await World.init(worldOptions);
      const quiet = world !== undefined && !world.isMain;  // every rank has the same numbers: rank 0 prints them
      const data = await loadData(flags, quiet);
      const model = await makeModel(flags, data.dim, data.context);
      const device = (world ? world.device(flags.device) : flags.device) as torch.Device;  // cuda: one GPU per rank
      if (device !== 'cpu') model.to(device);
      if (device !== 'cpu') data.to(device);
      const out = flags.out ?? `artifacts/lvm/models/${isModelFile(flags.model) ? basename(flags.model, extname(flags.model)) : flags.model}`;
      const trainer = new Trainer(model, { ...trainerOptions(flags, out, quiet), world });
      process.once('SIGINT', () => {
        console.error('\nstopping after this epoch (Ctrl-C again to quit now)');
        trainer.stop();
        process.once('SIGINT', () => process.exit(130));
      });
      const result = await trainer.fit(data);
      world?.close();
      if (quiet) return;
      if (world) console.log(`\ndata-parallel over ${world.worldSize} ranks (torch.distributed, Gloo), global batch ${flags.batchSize}`);
      const { kind } = modelConfig(model);
      console.log(`\n${kind} (${model.numParameters().toLocaleString('en')} parameters), best epoch ${result.best.epoch}:\n`);
      console.log(formatSummary(result, kind));
      console.log(`\nfiles: ${Object.values(result.files).filter(Boolean).join(', ')}`);
      model.dispose();
      data.dispose();
    });
}

async function loadData(flags: TrainFlags, quiet: boolean): Promise<Dataset> {
  if (flags.data) return datasets.fromNpz(flags.data, { context: flags.context });
  if (!quiet) console.log(`data: the built-in synthetic corpus (seed ${flags.seed}); write it with \`lvmtorch data synth --out x.npz\``);
  return datasets.synthetic({ seed: flags.seed });
}

async function makeModel(flags: TrainFlags, inputDim: number, context: number): Promise<Module> {
  if (isModelFile(flags.model)) {
    if (flags.residual !== 'none') throw new RangeError('--residual needs one of the built-in models');
    return loadUserModel(flags.model, { inputDim, outputDim: inputDim, context, ...parseModelConfig(flags.modelConfig) });
  }
  if (flags.modelConfig !== undefined) throw new RangeError('--model-config goes with --model FILE');
  const opts: models.ModelOptions = { inputDim, outputDim: inputDim };
  if (flags.residual !== 'none') opts.ridgeContext = context;
  if (flags.dModel !== undefined) opts.dModel = flags.dModel;
  if (flags.layers !== undefined) opts.numLayers = flags.layers;
  if (flags.heads !== undefined) opts.heads = flags.heads;
  if (flags.dropout !== undefined) opts.dropout = flags.dropout;
  return models[flags.model as Exclude<ModelKind, 'latent_mamba'>](opts);
}

const KINDS = ['gru', 'lstm', 'transformer', 'mamba2'];

function modelKind(value: string): string {
  if (KINDS.includes(value) || isModelFile(value)) return value;
  throw new InvalidArgumentError(`a model kind (${KINDS.join(', ')}) or an ES module file (.js, .mjs), got "${value}"`);
}

function trainerOptions(flags: TrainFlags, outDir: string, quiet: boolean): TrainerOptions {
  return {
    epochs: flags.epochs, batchSize: flags.batchSize, lr: flags.lr, weightDecay: flags.weightDecay,
    optimizer: flags.optimizer, schedule: flags.schedule, clipNorm: flags.clipNorm, precision: flags.precision,
    loss: lossWeights(flags),
    residualOf: flags.residual === 'copy-last' ? 'copy-last' : 'ridge',
    seed: flags.seed, outDir, resume: flags.resume, patience: flags.patience, monitor: flags.monitor,
    args: { ...flags, model_type: flags.model } as Record<string, unknown>,
    callbacks: quiet ? {} : process.stdout.isTTY && flags.progress ? progressBar() : logLines(),
  };
}

function lossWeights(flags: TrainFlags): CompositeWeights {
  const recipe = LOSS_PRESETS[flags.loss];
  return { ...recipe, ...(flags.tau !== undefined && { tau: flags.tau }), ...(flags.cosMse !== undefined && { cosMse: flags.cosMse }) };
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

function describeStart(info: Parameters<NonNullable<TrainerCallbacks['onTrainBegin']>>[0]): string {
  const b = info.baselines.scores;
  const sizes = Object.entries(info.sizes).map(([k, n]) => `${k} ${n}`).join(', ');
  const lines = Object.entries(b).map(([name, s]) => `${name} ${pct(s!.val.cosine)} (${pct(s!.val.centredCosine)})`).join(', ');
  const inDoc = Object.entries(b).filter(([, s]) => s!.val.inDocMrr !== undefined).map(([name, s]) => `${name} ${s!.val.inDocMrr!.toFixed(4)}`);
  return [...info.warnings.map((w) => `warning: ${w}`), `rows: ${sizes}; ${info.stepsPerEpoch} steps per epoch`,
    `baselines, val cosine (centred): ${lines}`, ...(inDoc.length ? [`baselines, val in-document MRR: ${inDoc.join(', ')}`] : [])].join('\n');
}

function epochLine(e: Parameters<NonNullable<TrainerCallbacks['onEpochEnd']>>[1]): string {
  return `epoch ${e.epoch}: train loss ${e.train_loss.toFixed(5)} cosine ${pct(e.train_cosine)} | val loss ` +
    `${e.val_loss.toFixed(5)} cosine ${pct(e.val_cosine)} centred ${pct(e.val_centred_cosine)} top-1 ${pct(e.val_top1)}` +
    (e.val_in_doc_mrr === undefined ? '' : ` in-doc MRR ${e.val_in_doc_mrr.toFixed(4)}`) + ' | ' +
    `lr ${e.lr.toExponential(2)} | ${Math.round(e.samples_per_second)} samples/s`;
}

function logLines(): TrainerCallbacks {
  return {
    onTrainBegin: (info) => console.log(describeStart(info)),
    onEpochEnd: (_, e) => console.log(epochLine(e)),
  };
}

// One bar per epoch on a terminal: epoch, batch, running loss and cosine, samples/s, ETA; the epoch's line stays.
function progressBar(): TrainerCallbacks {
  let bar: cliProgress.SingleBar | undefined;
  let epochs = 0;
  return {
    onTrainBegin: (info) => {
      epochs = info.epochs;
      console.log(describeStart(info));
    },
    onEpochBegin: () => {
      bar = new cliProgress.SingleBar({
        format: 'epoch {epoch}/{epochs} [{bar}] {value}/{total} | loss {loss} | cosine {cosine} | {speed} samples/s | ETA {eta_formatted}',
        hideCursor: true, clearOnComplete: true,
      }, cliProgress.Presets.shades_classic);
    },
    onBatchEnd: (_, b) => {
      const payload = { epoch: b.epoch, epochs, loss: b.loss.toFixed(4), cosine: pct(b.cosine), speed: Math.round(b.samplesPerSecond) };
      if (b.done === 1) bar!.start(b.steps, 1, payload);
      else bar!.update(b.done, payload);
    },
    onEpochEnd: (_, e) => {
      bar?.stop();
      console.log(epochLine(e));
    },
  };
}

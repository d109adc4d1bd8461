// The Trainer: fits a model on a dataset split by document, scores it every epoch on held-out data against the
// baselines, and keeps seed-compatible files (best_model.pt, final_model.pt, training_history.json, report.html).
// Each batch is one native train step off the JS thread (lib/train/step.ts), and the baselines and the scoring are
// native jobs off it too (lib/train/baselines.ts, evaluate.ts): the event loop stays free during a whole fit().
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { Dataset } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { splitByDocument, validate } from '../data/index.js';
import { shardRows } from '../distributed/shard.js';
import type { World } from '../distributed/world.js';
import { COSINE_REGRESSION_WEIGHTS, compositeWeights, NonFiniteLossError, type CompositeWeights } from '../loss/composite.js';
import type { Module } from '../models/module.js';
import { Adam, type AdamOptions } from '../optim/adam.js';
import { AdamW } from '../optim/adamw.js';
import type { Optimizer } from '../optim/optimizer.js';
import { CosineWarmupLR, ReduceLROnPlateau } from '../optim/schedulers.js';
import type { Tensor } from '../tensor.js';
import * as torch from '../torch.js';
import { baselinesAndRidge, computeBaselines, fitRidge, type BaselineResult, type RidgeMap } from './baselines.js';
import { readCheckpoint, writeCheckpoint, type BestEpoch, type Checkpoint, type LoadedCheckpoint } from './checkpoint.js';
import { HistoryFile, type HistoryEntry } from './history.js';
import { checkMonitor, isBetter, modeOf, monitored, monitoredEntry, NEEDS_DOCUMENTS, worst, type Monitor } from './monitor.js';
import { scoreModel } from './evaluate.js';
import { targetMean, type CentredMetrics, type Metrics } from './metrics.js';
import type { FitResult, SplitScores } from './fit-result.js';
import { writeReport } from './run-report.js';
import { trainStep, type Precision } from './step.js';
import { LvmtorchError } from '../errors.js';

export type { FitResult, SplitScores } from './fit-result.js';

export interface TrainerOptions {
  /** Epochs to run (default 20, the seed's). */
  epochs?: number;
  /** Rows per step (default 32, the seed's). */
  batchSize?: number;
  /** 'adamw' (default; weightDecay 0.01) or 'adam' (weightDecay 0; the seed's LSTM). */
  optimizer?: 'adamw' | 'adam';
  lr?: number;
  weightDecay?: number;
  /** 'plateau' (default: halve the lr after 3 epochs without a better val_loss), 'cosine' (per step, after warm-up), 'none'. */
  schedule?: 'plateau' | 'cosine' | 'none';
  /** Linear warm-up steps of the cosine schedule (default: one epoch). */
  warmupSteps?: number;
  /** Gradient clipping: max total L2 norm (default 1, the seed's; 0 turns it off). */
  clipNorm?: number;
  /**
   * 'bf16': train steps run their forward under bf16 autocast (fp32 weights and optimiser state; checkpoints stay
   * fp32); val/test scoring stays fp32. Pays on CPUs with AVX-512 BF16 or AMX (`lvmtorch doctor` says). Default 'fp32'.
   */
  precision?: Precision;
  /**
   * The composite loss's weights. Default: cosine regression (MSE of the normalised prediction), which wins on
   * held-out data; the seed's InfoNCE-led loss is SEED_COMPOSITE_WEIGHTS.
   */
  loss?: Partial<CompositeWeights>;
  /**
   * The val score that picks best_model.pt, counts `patience` and drives the plateau schedule, by its history key:
   * 'val_loss' (lowest; the seed's, the default) or the highest of val_cosine, val_centred_cosine, val_mrr,
   * val_in_doc_mrr, val_in_doc_top1 (these two need the documents) and val_contrastive_accuracy.
   */
  monitor?: Monitor;
  /**
   * What a model with ridgeContext learns the residual over: 'ridge' (default), the ridge fitted on train, or
   * 'copy-last', the last context vector (its linear map: the identity on the last vector): on real text it ranks
   * the next sentence in its document better than ridge does, and the model starts from it.
   */
  residualOf?: 'ridge' | 'copy-last';
  /** Stop after this many epochs without improvement of the monitored metric (default: never). */
  patience?: number;
  /** Seeds the shuffling, the split and the model's dropout (reseeded each epoch from it, so a resumed run draws the same; default 0). */
  seed?: number;
  /** Split fractions by document when fit() is given one dataset (default 0.8 / 0.1 / 0.1). */
  split?: { train: number; val: number; test: number };
  /** Where the files go; without it nothing is written. */
  outDir?: string;
  /**
   * Continue from this checkpoint (ours or a seed-style one written by Python). Ours hold everything the run needs
   * to go on as if unbroken; final_model.pt (written after every epoch) is the one to resume a killed run from. The
   * best weights are read from best_model.pt beside it when the checkpoint is not the best epoch.
   */
  resume?: string;
  /** Baselines already computed on the same split (computeBaselines), to spare fitting them again. */
  baselines?: BaselineResult;
  /**
   * Data-parallel training over a process group (World.init), with DistributedDataParallel's semantics: rank 0's
   * initial weights on every rank, each step's gradients averaged over the ranks, the train split dealt out by
   * document afresh each epoch. `batchSize` stays the global batch (each rank steps on batchSize / worldSize rows),
   * so a run gives the same dynamics at any world size. Every rank scores the whole val and test splits and reports
   * the same numbers; only rank 0 writes files. A fit that fails on one rank (a NaN loss, a throwing callback)
   * closes the world there, so that the others fail at once instead of at the timeout.
   */
  world?: World;
  /** Recorded as the checkpoints' `args` (the CLI records its options). */
  args?: Record<string, unknown>;
  callbacks?: TrainerCallbacks;
}

/** In the style of tfjs's model.fit callbacks; each may return a Promise, which is awaited. */
export interface TrainerCallbacks {
  onTrainBegin?(info: TrainBeginInfo): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: HistoryEntry): void | Promise<void>;
  onTrainEnd?(result: FitResult): void | Promise<void>;
}

export interface TrainBeginInfo {
  epochs: number;
  firstEpoch: number;
  stepsPerEpoch: number;
  sizes: Record<string, number>;
  baselines: BaselineResult;
  warnings: string[];
}

export interface BatchLogs {
  epoch: number;
  /** Batches done in this epoch, of `steps`. */
  done: number;
  steps: number;
  size: number;
  loss: number;
  cosine: number;
  /** Rows per second over the epoch so far. */
  samplesPerSecond: number;
}

/** Raised when training cannot go on (a NaN loss): the message names the epoch and batch. */
export class TrainingError extends LvmtorchError {
  constructor(message: string, readonly epoch: number, readonly batch: number) {
    super(message, 'ERR_TRAINING');
  }
}

type Splits = { train: Dataset; val: Dataset; test?: Dataset };
type OptionalKeys = 'outDir' | 'resume' | 'patience' | 'callbacks' | 'warmupSteps' | 'baselines' | 'world';

export class Trainer {
  readonly model: Module;
  readonly options: Readonly<Required<Omit<TrainerOptions, OptionalKeys>>> & Pick<TrainerOptions, OptionalKeys>;
  readonly weights: CompositeWeights;
  #stop = false;
  // During fit(): the train split's target mean, which every score of the run is centred on.
  #centre: Tensor | undefined;

  constructor(model: Module, opts: TrainerOptions = {}) {
    const optimizer = opts.optimizer ?? 'adamw';
    this.model = model;
    this.options = {
      epochs: opts.epochs ?? 20, batchSize: opts.batchSize ?? 32, optimizer, lr: opts.lr ?? 5e-4,
      weightDecay: opts.weightDecay ?? (optimizer === 'adamw' ? 0.01 : 0), schedule: opts.schedule ?? 'plateau',
      clipNorm: opts.clipNorm ?? 1, precision: opts.precision ?? 'fp32', loss: opts.loss ?? COSINE_REGRESSION_WEIGHTS,
      monitor: opts.monitor ?? 'val_loss', residualOf: opts.residualOf ?? 'ridge',
      seed: opts.seed ?? 0, split: opts.split ?? { train: 0.8, val: 0.1, test: 0.1 }, args: opts.args ?? {},
      outDir: opts.outDir, resume: opts.resume, patience: opts.patience, callbacks: opts.callbacks,
      warmupSteps: opts.warmupSteps, baselines: opts.baselines, world: opts.world,
    };
    this.weights = compositeWeights(this.options.loss);
    checkOptions(this.options);
  }

  /** Asks a running fit() to stop after the current epoch (its files are written as at a normal end). */
  stop(): void {
    this.#stop = true;
  }

  /** Trains on `data` (one dataset, split by document here, or the splits themselves). */
  async fit(data: Dataset | Splits): Promise<FitResult> {
    const warnings: string[] = [];
    const splits = this.#splits(data, warnings);
    try {
      return await this.#fit(splits, warnings);
    } catch (e) {
      // This rank's collectives are now out of step with the others', which would wait for the next one until the
      // timeout: leaving the group fails theirs at once, naming this rank as stopped.
      this.options.world?.close();
      throw e;
    } finally {
      this.#centre?.dispose();
      this.#centre = undefined;
      if (data instanceof Dataset) for (const d of Object.values(splits)) d.dispose();  // the splits made here
    }
  }

  async #fit(splits: Splits, warnings: string[]): Promise<FitResult> {
    const o = this.options;
    const cb = o.callbacks ?? {};
    this.#check(splits);
    this.#centre = targetMean(splits.train);  // once per fit: the model and the baselines are centred on it
    const evalSplits: Record<string, Dataset> & { val: Dataset } = { val: splits.val, ...(splits.test && { test: splits.test }) };
    const baselines = await this.#baselines(splits, evalSplits);
    torch.manualSeed(o.seed);
    const params = this.#paramGroups();
    const optimizer = o.optimizer === 'adam'
      ? new Adam(params, { lr: o.lr, weightDecay: o.weightDecay })
      : new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay });
    const stepsPerEpoch = this.#stepsPerEpoch(splits.train);
    const scheduler = this.#scheduler(optimizer, stepsPerEpoch);
    const outDir = this.#outDir();
    const history = new HistoryFile(outDir && join(outDir, 'training_history.json'));
    history.finalParams = this.model.numParameters();
    const best: BestEpoch = { epoch: 0, val_loss: Infinity, val_cosine: -Infinity, monitor: o.monitor, value: worst(o.monitor) };
    let firstEpoch = 1;
    let badEpochs = 0;
    let resumed: Resumed | undefined;
    if (o.resume) {
      resumed = await this.#resume(o.resume, optimizer, scheduler, history, warnings);
      firstEpoch = resumed.epoch + 1;
      Object.assign(best, resumed.best);
      badEpochs = resumed.badEpochs;
    }
    // Rank 0's weights everywhere (each rank drew its own, or fitted its own ridge start).
    await o.world?.broadcast(this.model.parameters().concat(this.model.buffers()), 0);
    if (outDir) mkdirSync(outDir, { recursive: true });
    const files: FitResult['files'] = {};
    // The best weights so far go on being outDir's best_model.pt: best_model.pt beside the resumed checkpoint, or the
    // resumed weights when they are the best epoch's (saved as that epoch saved them).
    const bestPath = outDir && join(outDir, 'best_model.pt');
    if (bestPath && resumed?.bestFile) files.best = await keepAs(resumed.bestFile, bestPath);
    else if (bestPath && resumed && best.epoch === resumed.epoch) {
      const val = { mse: best.val_loss, cosine: best.val_cosine };
      files.best = resolve(o.resume!) === resolve(bestPath) ? bestPath
        : await this.#save('best_model.pt', best.epoch, optimizer, scheduler, val, history, { best, badEpochs });
    }

    history.baselines = baselines;
    await cb.onTrainBegin?.({
      epochs: o.epochs, firstEpoch, stepsPerEpoch, baselines, warnings,
      sizes: Object.fromEntries(Object.entries(splits).map(([k, d]) => [k, d.size])),
    });

    let bestState = resumed?.bestState ?? this.#snapshot();
    let stoppedEarly = false;
    // A model that starts from ridge has an epoch 0, its start (ridge's predictions exactly): the first candidate for
    // the best weights, so that training keeps ridge's val score unless an epoch beats it.
    const fromRidge = this.model.config.ridgeContext !== undefined && !o.resume;
    if (fromRidge) {
      const val = await this.#sameOnEveryRank(await this.#score(splits.val));
      Object.assign(best, { epoch: 0, val_loss: val.mse, val_cosine: val.cosine, value: monitored(o.monitor, val) });
      history.bestValLoss = val.mse;
      if (outDir) files.best = await this.#save('best_model.pt', 0, optimizer, scheduler, val, history, { best, badEpochs });
    }
    try {
      for (let epoch = firstEpoch; epoch <= o.epochs; epoch++) {
        await cb.onEpochBegin?.(epoch);
        // Dropout's draws depend on (seed, epoch) only, so that a resumed run draws what an unbroken one does.
        torch.manualSeed(dropoutSeed(o.seed, epoch));
        const train = await this.#trainEpoch(splits.train, optimizer, scheduler, epoch, cb);
        const val = await this.#sameOnEveryRank(await this.#score(splits.val));
        const entry: HistoryEntry = {
          epoch, train_loss: train.loss, train_cosine: train.cosine, train_loss_info: train.info,
          train_loss_moment: train.moment, train_loss_variance: train.variance, train_loss_cos_mse: train.cosMse,
          ...(this.weights.document > 0 && { train_loss_document: train.document }),
          val_loss: val.mse, val_cosine: val.cosine, val_centred_cosine: val.centredCosine, val_top1: val.top1,
          val_top5: val.top5, val_mrr: val.mrr, val_median_rank: val.medianRank,
          ...(val.contrastiveAccuracy !== undefined && { val_contrastive_accuracy: val.contrastiveAccuracy }),
          ...(val.inDocMrr !== undefined && { val_in_doc_mrr: val.inDocMrr, val_in_doc_top1: val.inDocTop1 }),
          lr: train.lr,
          seconds: train.seconds, samples_per_second: train.samplesPerSecond,
        };
        if (scheduler instanceof ReduceLROnPlateau) scheduler.step(monitored(o.monitor, val));
        const improved = this.#improves(val, best);
        if (improved) {
          Object.assign(best, { epoch, val_loss: val.mse, val_cosine: val.cosine, value: monitored(o.monitor, val) });
          bestState.forEach((t) => t.dispose());
          bestState = this.#snapshot();
          badEpochs = 0;
        } else {
          badEpochs++;
        }
        // The epoch's entry first: each file written below holds the history up to and including this epoch. In
        // this order (best_model.pt, final_model.pt, training_history.json), a kill between two writes leaves
        // best_model.pt at most one epoch ahead of final_model.pt, and training_history.json never ahead of it.
        history.add(entry, best.val_loss);
        const state = { best, badEpochs };
        if (outDir && improved) files.best = await this.#save('best_model.pt', epoch, optimizer, scheduler, val, history, state);
        if (outDir) files.final = await this.#save('final_model.pt', epoch, optimizer, scheduler, val, history, state);
        await history.write();
        await cb.onEpochEnd?.(epoch, entry);
        if (o.patience !== undefined && badEpochs >= o.patience && epoch < o.epochs) {
          stoppedEarly = true;
          break;
        }
        if (await this.#stopRequested()) break;
      }
      // No epoch left to run after a resume: final_model.pt is the resumed weights (unless it was that file).
      const last = history.entries.at(-1);
      const finalPath = outDir && join(outDir, 'final_model.pt');
      if (finalPath && !files.final && last) {
        if (resolve(o.resume!) !== resolve(finalPath)) {
          const val = { mse: last.val_loss, cosine: last.val_cosine } as Metrics;
          await this.#save('final_model.pt', last.epoch, optimizer, scheduler, val, history, { best, badEpochs });
        }
        files.final = finalPath;
      }
    } catch (e) {
      bestState.forEach((t) => t.dispose());
      throw e;
    } finally {
      optimizer.dispose();
    }

    // The model ends with the best weights, and is judged with them.
    if (best.epoch > 0 || fromRidge || resumed) this.model.loadStateDict(Object.fromEntries(this.#stateKeys().map((k, i) => [k, bestState[i]])));
    bestState.forEach((t) => t.dispose());
    const scores: SplitScores = {
      train: await this.#score(splits.train), val: await this.#score(splits.val),
      ...(splits.test && { test: await this.#score(splits.test) }),
    };
    history.scores = scores;
    const result: FitResult = { history: history.entries, best, scores, baselines, stoppedEarly, warnings, files };
    if (outDir) {
      files.history = await history.write();
      files.report = await writeReport(join(outDir, 'report.html'), result, this.model, o);
    }
    await cb.onTrainEnd?.(result);
    return result;
  }

  /**
   * The model's scores on a dataset (eval mode, no graph), computed on worker threads; the centred cosine about
   * `opts.centre` where given (fit() centres on the train split's target mean: targetMean(train)).
   */
  score(ds: Dataset, opts: { centre?: Tensor } = {}): Promise<Metrics> {
    return scoreModel(this.model, ds, opts);
  }

  #score(ds: Dataset): Promise<CentredMetrics> {
    return scoreModel(this.model, ds, { centre: this.#centre! });
  }

  #splits(data: Dataset | Splits, warnings: string[]): Splits {
    const o = this.options;
    let splits: Splits;
    if (data instanceof Dataset) {
      const s = splitByDocument(data, { ...o.split, seed: o.seed });
      warnings.push(...s.warnings);
      splits = { train: s.train, val: s.val, test: s.test };
    } else if (data && data.train instanceof Dataset && data.val instanceof Dataset) {
      splits = data;
    } else {
      throw new TypeError('fit() takes a Dataset or { train, val, test? } of Datasets');
    }
    return splits;
  }

  // Every problem with the data, before the first step.
  #check(splits: Splits): void {
    const o = this.options;
    const inputDim = this.model.config.inputDim;
    if (splits.train.dim !== inputDim) {
      throw new RangeError(`the data's vectors are ${splits.train.dim}-D but the model reads ${inputDim}-D (inputDim)`);
    }
    validate(splits.train, { batchSize: o.batchSize, name: 'train' });
    validate(splits.val, { name: 'val' });
    if (splits.test) validate(splits.test, { name: 'test' });
    if (this.weights.document > 0 && !splits.train.docIds) {
      throw new RangeError('the loss\'s document term ranks each row among its document\'s sentences, but the train split ' +
        'has no document ids (an ordered vectors file, or a windowed one with doc_ids, has them)');
    }
    if (NEEDS_DOCUMENTS.includes(o.monitor) && !splits.val.docIds) {
      throw new RangeError(`monitor ${o.monitor} ranks each sentence among its document's, but the val split has no document ids ` +
        '(an ordered vectors file, or a windowed one with doc_ids, has them)');
    }
  }

  // The baselines (the ones given, or fitted here), and for a model with ridgeContext starting afresh its start:
  // the ridge fitted once for both.
  async #baselines(splits: Splits, evalSplits: Record<string, Dataset> & { val: Dataset }): Promise<BaselineResult> {
    const o = this.options;
    if (!this.model.config.ridgeContext || o.resume) {
      return o.baselines ?? await computeBaselines(splits.train, evalSplits, { centre: this.#centre });
    }
    this.#checkRidgeContext(splits.train);
    if (o.residualOf === 'copy-last') {
      this.#startFromRidge(copyLastMap(splits.train.context, splits.train.dim));
      return o.baselines ?? await computeBaselines(splits.train, evalSplits, { centre: this.#centre });
    }
    if (o.baselines) {
      this.#startFromRidge(await fitRidge(splits.train, splits.val));
      return o.baselines;
    }
    const { result, ridge } = await baselinesAndRidge(splits.train, evalSplits, { centre: this.#centre });
    this.#startFromRidge(ridge);
    return result;
  }

  #checkRidgeContext(train: Dataset): void {
    const t = this.model.config.ridgeContext!;
    if (train.context !== t) throw new RangeError(`the model's ridge reads ${t} context vectors but the data's windows have ${train.context}`);
  }

  // A model with ridgeContext learns the residual over the ridge baseline: its ridge buffers get the ridge fitted on
  // train (strength chosen on val, as the baseline's) and its head's last layer starts at zero, so that the first
  // epoch starts from exactly the ridge baseline's predictions. Takes (disposes) the ridge's tensors.
  #startFromRidge({ weight, bias }: RidgeMap): void {
    const sd = this.model.stateDict();
    const zeros = { 'head.3.weight': torch.zerosLike(sd['head.3.weight']), 'head.3.bias': torch.zerosLike(sd['head.3.bias']) };
    for (const x of Object.values(sd)) x.dispose();
    try {
      this.model.loadStateDict({ 'ridge.weight': weight, 'ridge.bias': bias, ...zeros }, { strict: false });
    } finally {
      for (const x of [weight, bias, ...Object.values(zeros)]) x.dispose();
    }
  }

  #scheduler(optimizer: Optimizer<AdamOptions>, stepsPerEpoch: number): ReduceLROnPlateau | CosineWarmupLR | undefined {
    const o = this.options;
    // On the monitored score: a contrastive run's val_loss (the MSE of the normalised prediction) grows as it learns.
    if (o.schedule === 'plateau') return new ReduceLROnPlateau(optimizer, { mode: modeOf(o.monitor), factor: 0.5, patience: 3 });
    if (o.schedule === 'cosine') {
      const total = stepsPerEpoch * o.epochs;
      return new CosineWarmupLR(optimizer, { warmupSteps: Math.min(o.warmupSteps ?? stepsPerEpoch, total), totalSteps: total });
    }
    return undefined;
  }

  async #trainEpoch(ds: Dataset, optimizer: Optimizer<AdamOptions>, scheduler: unknown, epoch: number, cb: TrainerCallbacks) {
    const o = this.options;
    this.model.train();
    const lr = optimizer.lr;
    const sums = { loss: 0, info: 0, moment: 0, variance: 0, cosMse: 0, document: 0, cosine: 0 };
    let rows = 0;
    let done = 0;
    const world = o.world;
    const seed = o.seed * 100003 + epoch;
    // This rank's share of the epoch's documents, or all of them.
    const share = world ? ds.subset(shardRows(ds.docIds, ds.size, world.rank, world.worldSize, seed)) : ds;
    const batchSize = o.batchSize / (world?.worldSize ?? 1);
    const steps = Math.ceil(share.size / batchSize);
    const start = performance.now();
    // A last batch of one row has no std for the moment and variance terms: it is dropped then.
    const dropLast = share.size % batchSize === 1;
    try {
      // The document term ranks each row among its documents' sentences: batches of a few whole documents, so that
      // a batch's candidates stay few (a document's windows are spread over one or two batches).
      const byDocument = this.weights.document > 0;
      const batches = share.batches({ batchSize, shuffle: true, seed, dropLast, group: byDocument ? 'document' : 'none', candidates: byDocument });
      for (const { x, y, candidates } of batches) {
        const n = x.shape[0];
        let r;
        try {
          r = await trainStep(this.model, optimizer, x, y, { weights: this.weights, clipNorm: o.clipNorm, precision: o.precision, world, candidates });
        } catch (e) {
          if (e instanceof NonFiniteLossError) {
            throw new TrainingError(`the loss is not finite at epoch ${epoch}, batch ${done + 1} of ${steps}: ${e.message}. ` +
              'Nothing was updated by that batch; final_model.pt holds the last finished epoch, best_model.pt the best one', epoch, done + 1);
          }
          throw e;
        } finally {
          x.dispose();
          y.dispose();
          if (candidates) for (const t of Object.values(candidates)) t.dispose();
        }
        if (scheduler instanceof CosineWarmupLR) scheduler.step();
        rows += n;
        done++;
        for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += (k === 'loss' ? r.loss : r[k]) * n;
        await cb.onBatchEnd?.(done, {
          epoch, done, steps, size: n, loss: r.loss, cosine: r.cosine,
          samplesPerSecond: rows * (world?.worldSize ?? 1) / ((performance.now() - start) / 1000),
        });
      }
    } finally {
      if (share !== ds) share.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    if (world) {  // the epoch's means over every rank's rows
      const keys = Object.keys(sums) as (keyof typeof sums)[];
      const total = await world.allReduceNumbers([...keys.map((k) => sums[k]), rows]);
      keys.forEach((k, i) => { sums[k] = total[i]; });
      rows = total[keys.length];
    }
    const mean = (v: number) => v / rows;
    return {
      loss: mean(sums.loss), info: mean(sums.info), moment: mean(sums.moment), variance: mean(sums.variance),
      cosMse: mean(sums.cosMse), document: mean(sums.document), cosine: mean(sums.cosine), lr, seconds, samplesPerSecond: rows / seconds,
    };
  }

  // Steps per epoch: of the global batch over the rows every rank keeps (shardRows; as in the first epoch, later
  // deals of the documents can differ by a step).
  #stepsPerEpoch(train: Dataset): number {
    const o = this.options;
    if (!o.world) return Math.ceil(train.size / o.batchSize);
    const rows = shardRows(train.docIds, train.size, 0, o.world.worldSize, o.seed * 100003 + 1).length;
    return Math.ceil(rows / (o.batchSize / o.world.worldSize));
  }

  // Where this process writes: outDir, on rank 0 only.
  #outDir(): string | undefined {
    return this.options.world && !this.options.world.isMain ? undefined : this.options.outDir;
  }

  // Rank 0's val scores on every rank: ranks with other thread counts can differ in the last bits, and every
  // decision taken on them (the best epoch, the lr plateau, early stopping) must be the same everywhere.
  async #sameOnEveryRank(val: CentredMetrics): Promise<CentredMetrics> {
    const world = this.options.world;
    if (!world) return val;
    const keys = (Object.keys(val) as (keyof CentredMetrics)[]).filter((k) => typeof val[k] === 'number');
    const values = await world.broadcastNumbers(keys.map((k) => val[k] as number), 0);
    return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as unknown as CentredMetrics;
  }

  // stop() on any rank stops every rank after this epoch.
  async #stopRequested(): Promise<boolean> {
    const world = this.options.world;
    if (!world) return this.#stop;
    return (await world.allReduceNumbers([this.#stop ? 1 : 0]))[0] > 0;
  }

  // mamba_ssm keeps A_log, D and dt_bias out of weight decay (_no_weight_decay); so do we, in a second group. The
  // other models have one group, as the seed's optimiser had.
  #paramGroups(): Tensor[] | { params: Tensor[]; weightDecay?: number }[] {
    const named = this.model.namedParameters();
    if (this.model.config.kind !== 'mamba2') return named.map(([, p]) => p);
    const noDecay = (k: string) => /\.(A_log|D|dt_bias)$/.test(k);
    return [
      { params: named.filter(([k]) => !noDecay(k)).map(([, p]) => p) },
      { params: named.filter(([k]) => noDecay(k)).map(([, p]) => p), weightDecay: 0 },
    ];
  }

  #improves(val: Metrics, best: BestEpoch): boolean {
    return isBetter(this.options.monitor, monitored(this.options.monitor, val), best.value);
  }

  #stateKeys(): string[] {
    return this.model.namedParameters().map(([k]) => k).concat(this.model.namedBuffers().map(([k]) => k));
  }

  // A copy of the weights (not the module's own tensors, which the next step changes).
  #snapshot(): Tensor[] {
    return this.model.parameters().concat(this.model.buffers()).map((t) => torch.noGrad(() => t.detach().clone()));
  }

  async #save(name: string, epoch: number, optimizer: Optimizer<AdamOptions>, scheduler: unknown, val: Pick<Metrics, 'mse' | 'cosine'>,
    history: HistoryFile, state: { best: BestEpoch; badEpochs: number }): Promise<string> {
    const o = this.options;
    const path = join(o.outDir!, name);
    const ckpt: Checkpoint = {
      epoch, val_loss: val.mse, val_cosine: val.cosine, args: { ...o.args, seed: o.seed, lr: o.lr, batch_size: o.batchSize },
      model_config: { ...this.model.config }, loss_weights: { ...this.weights },
      best_val_loss: state.best.val_loss, history: history.entries, best: { ...state.best }, bad_epochs: state.badEpochs,
    };
    await writeCheckpoint(path, ckpt, this.model, optimizer, scheduler);
    return path;
  }

  // Loads a checkpoint's weights, optimiser and scheduler state and history; says which epoch it ends, the best
  // epoch so far and the epochs since it, and where the best weights are (bestState: their copy, when they are not
  // the resumed ones; bestFile: the checkpoint that holds them).
  async #resume(path: string, optimizer: Optimizer<AdamOptions>, scheduler: unknown, history: HistoryFile,
    warnings: string[]): Promise<Resumed> {
    const ckpt = await readCheckpoint(path);
    try {
      this.model.loadStateDict(ckpt.model_state_dict, { strict: true });
      if (ckpt.optimizer_state_dict) optimizer.loadStateDict(ckpt.optimizer_state_dict);
      const sd = ckpt.scheduler_state_dict;
      // Each schedule takes only its own state (a run may resume with another --schedule); the cosine one keeps
      // this run's warm-up and length, and goes on from the step it had reached.
      if (sd && scheduler instanceof ReduceLROnPlateau && 'num_bad_epochs' in sd) scheduler.loadStateDict(sd);
      if (sd && scheduler instanceof CosineWarmupLR && 'total_steps' in sd) {
        scheduler.loadStateDict({ last_epoch: sd.last_epoch, _step_count: sd._step_count });
      }
    } finally {
      for (const t of Object.values(ckpt.model_state_dict)) t.dispose();
    }
    const epoch = Number(ckpt.epoch ?? 0);
    history.entries.push(...(ckpt.history ?? []).filter((e) => e.epoch <= epoch));
    const got = history.entries.map((e) => e.epoch);
    if (got.length !== epoch || got.some((e, i) => e !== i + 1)) {
      warnings.push(`${path} holds the history of epochs [${compactRanges(got)}] of 1-${epoch} (a seed-style or older checkpoint): ` +
        'training_history.json has only those and the epochs run now');
    }
    const { best, badEpochs } = this.#resumedBest(ckpt, epoch, history.entries);
    history.bestValLoss = best.val_loss;
    const resumed: Resumed = { epoch, best, badEpochs };
    // The best weights: the checkpoint's own when it is the best epoch, else those of best_model.pt beside it when
    // that holds the best epoch (the same epoch and val_loss).
    const beside = join(dirname(path), 'best_model.pt');
    const other = resolve(beside) !== resolve(path) && existsSync(beside) ? await readCheckpoint(beside).catch(() => undefined) : undefined;
    try {
      const besideIsBest = other !== undefined && Number(other.epoch) === best.epoch && Number(other.val_loss) === best.val_loss;
      if (best.epoch === epoch) {
        if (besideIsBest) resumed.bestFile = beside;
      } else if (besideIsBest) {
        const current = this.#snapshot();
        try {
          this.model.loadStateDict(other.model_state_dict, { strict: true });
          resumed.bestState = this.#snapshot();
          resumed.bestFile = beside;
        } catch (e) {
          warnings.push(`${beside} holds the best epoch but does not fit the model (${(e as Error).message})`);
        } finally {
          this.model.loadStateDict(Object.fromEntries(this.#stateKeys().map((k, i) => [k, current[i]])));
          current.forEach((t) => t.dispose());
        }
      }
    } finally {
      if (other) for (const t of Object.values(other.model_state_dict)) t.dispose();
    }
    if (!resumed.bestFile && best.epoch !== epoch) {
      warnings.push(`the best epoch so far is ${best.epoch} (${best.monitor} ${best.value}), but ${path} holds epoch ${epoch} ` +
        `and no best_model.pt of epoch ${best.epoch} is beside it: unless a later epoch does better, the model ends with ` +
        `the resumed weights (epoch ${epoch}) in place of the best ones`);
    }
    return resumed;
  }

  // The best epoch so far and the epochs since it, as the checkpoint recorded them for this run's monitor; else
  // (an older or seed-style checkpoint, or one that another monitor picked) replayed from its history and its own
  // scores, as this run would have picked them.
  #resumedBest(ckpt: LoadedCheckpoint, epoch: number, entries: HistoryEntry[]): { best: BestEpoch; badEpochs: number } {
    const monitor = this.options.monitor;
    const b = ckpt.best as Partial<BestEpoch> | undefined;
    // Checkpoints written before `monitor` was recorded were picked by val_loss or val_cosine.
    const value = b?.monitor === monitor ? Number(b.value) : monitor === 'val_loss' && b?.monitor === undefined ? Number(b?.val_loss)
      : monitor === 'val_cosine' && b?.monitor === undefined ? Number(b?.val_cosine) : NaN;
    if (b && typeof b === 'object' && Number.isInteger(b.epoch) && b.epoch! <= epoch && Number.isFinite(value)) {
      const best = { epoch: b.epoch!, val_loss: Number(b.val_loss ?? Infinity), val_cosine: Number(b.val_cosine ?? -Infinity), monitor, value };
      const bad = Number(ckpt.bad_epochs);
      return { best, badEpochs: Number.isInteger(bad) && bad >= 0 && b.monitor === monitor ? bad : epoch - best.epoch };
    }
    const own = { epoch, val_loss: Number(ckpt.val_loss ?? NaN), val_cosine: Number(ckpt.val_cosine ?? NaN) };
    const ownValue = monitor === 'val_loss' ? own.val_loss : monitor === 'val_cosine' ? own.val_cosine : NaN;
    const candidates = entries.filter((e) => e.epoch < epoch).map((e) => ({ ...e, value: monitoredEntry(monitor, e) }));
    const last = entries.find((e) => e.epoch === epoch);
    candidates.push(last ? { ...last, value: monitoredEntry(monitor, last) } : { ...own, value: ownValue } as HistoryEntry & { value: number });
    const best: BestEpoch = { epoch, val_loss: Infinity, val_cosine: -Infinity, monitor, value: worst(monitor) };
    let found = false;
    for (const c of candidates) {
      if (isBetter(monitor, c.value, best.value)) {
        Object.assign(best, { epoch: c.epoch, val_loss: c.val_loss, val_cosine: c.val_cosine, value: c.value });
        found = true;
      }
    }
    if (!found) {  // a checkpoint without scores (a bare state dict): its val_loss from best_val_loss, if any
      Object.assign(best, { epoch, val_loss: Number(ckpt.best_val_loss ?? ckpt.val_loss ?? Infinity), val_cosine: Number(ckpt.val_cosine ?? -Infinity) });
    }
    return { best, badEpochs: epoch - best.epoch };
  }
}

interface Resumed {
  /** The last epoch the checkpoint had finished. */
  epoch: number;
  best: BestEpoch;
  badEpochs: number;
  /** A copy of the best weights, when they are not the resumed ones. */
  bestState?: Tensor[];
  /** best_model.pt beside the checkpoint, when it holds the best epoch. */
  bestFile?: string;
}

// torch's generator for an epoch's dropout: from (seed, epoch), apart from the shuffle's seed * 100003 + epoch.
function dropoutSeed(seed: number, epoch: number): number {
  return 2 ** 48 + ((((seed * 100003 + epoch) % 2 ** 48) + 2 ** 48) % 2 ** 48);
}

// The copy-last baseline as a linear map of the flattened context [*, T * D]: the identity on the last vector.
function copyLastMap(t: number, d: number): RidgeMap {
  const weight = torch.noGrad(() => torch.tidy(() => torch.cat([torch.zeros([d, (t - 1) * d]), torch.eye(d)], 1)));
  return { weight, bias: torch.zeros([d]), lambda: 0 };
}

// "1-4, 6" for [1, 2, 3, 4, 6].
function compactRanges(xs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return out.join(', ') || 'none';
}

// Copies `from` to `to` (atomically) unless they are the same file; returns `to`.
async function keepAs(from: string, to: string): Promise<string> {
  if (resolve(from) === resolve(to)) return to;
  await writeFileAtomic(to, (fd) => {
    const src = openSync(from, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n; (n = readSync(src, buf, 0, buf.length, null)) > 0;) writeSync(fd, buf, 0, n);
    } finally {
      closeSync(src);
    }
  });
  return to;
}

function checkOptions(o: Trainer['options']): void {
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt(o.epochs, 'epochs');
  positiveInt(o.batchSize, 'batchSize');
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new RangeError(`lr must be a finite number > 0, got ${o.lr}`);
  if (!['adamw', 'adam'].includes(o.optimizer)) throw new RangeError(`optimizer must be 'adamw' or 'adam', got ${o.optimizer}`);
  if (!['plateau', 'cosine', 'none'].includes(o.schedule)) throw new RangeError(`schedule must be 'plateau', 'cosine' or 'none', got ${o.schedule}`);
  checkMonitor(o.monitor);
  if (!['ridge', 'copy-last'].includes(o.residualOf)) throw new RangeError(`residualOf must be 'ridge' or 'copy-last', got ${o.residualOf}`);
  if (o.patience !== undefined) positiveInt(o.patience, 'patience');
  if (o.world && o.batchSize % o.world.worldSize !== 0) {
    throw new RangeError(`batchSize (the global batch) must be a multiple of the world size ${o.world.worldSize}, got ${o.batchSize}`);
  }
}

// The Trainer: fits a model on a dataset split by document, scores it every epoch on held-out data against the
// baselines, and keeps seed-compatible files (best_model.pt, final_model.pt, training_history.json, report.html).
// The event loop stays free during a whole fit(): steps, baselines and scores are native jobs off the JS thread.
// This file runs the parts in order; docs/training.md ("Inside the Trainer") says which file holds which part.
import { join } from 'node:path';

import { Dataset } from '../data/dataset.js';
import { compositeWeights, type CompositeWeights } from '../loss/composite.js';
import { NativeModel } from '../models/native-model.js';
import { modelConfig } from '../models/trainable.js';
import * as nn from '../../torch/nn/index.js';
import type { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { BestSoFar } from './best.js';
import { dropoutSeed, historyEntry, trainEpoch, type EpochRun } from './epoch.js';
import { scoreModel } from './evaluate.js';
import type { FitResult, SplitScores } from './fit-result.js';
import { HistoryFile } from './history.js';
import { targetMean, type CentredMetrics, type Metrics } from './metrics.js';
import { monitored } from './monitor.js';
import { afterEpoch, makeOptimizer, makeScheduler } from './optimizer-setup.js';
import { checkOptions, resolveOptions, type ResolvedTrainerOptions, type TrainerOptions } from './options.js';
import { sameOnEveryRank, sameWeightsOnEveryRank, stopOnAnyRank, writerOutDir } from './ranks.js';
import { resume, type Resumed } from './resume.js';
import { baselinesAndStart, startsFromRidge } from './ridge-start.js';
import { RunCheckpoints } from './run-checkpoints.js';
import { writeReport } from './run-report.js';
import { checkSplits, evalSplitsOf, splitsOf, stepsPerEpoch, type TrainerSplits } from './split-data.js';

export type { FitResult, SplitScores } from './fit-result.js';
export type { TrainerSplits } from './split-data.js';
export type { ResolvedTrainerOptions, UndefaultedTrainerOption } from './options.js';
export type { BatchLogs, TrainBeginInfo, TrainerCallbacks, TrainerOptions } from './options.js';
export { TrainingError } from './epoch.js';

export class Trainer {
  readonly model: nn.Module;
  readonly options: ResolvedTrainerOptions;
  readonly weights: CompositeWeights;
  #stop = false;
  // During fit(): the train split's target mean, which every score of the run is centred on.
  #centre: Tensor | undefined;

  constructor(model: nn.Module, opts: TrainerOptions = {}) {
    this.model = model;
    this.options = resolveOptions(opts);
    this.weights = compositeWeights(this.options.loss);
    checkOptions(this.options);
    if (!(model instanceof nn.Module)) throw new TypeError('a Trainer takes an nn.Module: one of lvmtorch\'s models or your own');
    if (!(model instanceof NativeModel) && (this.options.precision !== 'fp32' || this.options.world)) {
      throw new RangeError("precision 'bf16' and data-parallel training (world) need one of lvmtorch's native models for now");
    }
  }

  /** Asks a running fit() to stop after the current epoch (its files are written as at a normal end). */
  stop(): void {
    this.#stop = true;
  }

  /** Trains on `data` (one dataset, split by document here, or the splits themselves). */
  async fit(data: Dataset | TrainerSplits): Promise<FitResult> {
    const warnings: string[] = [];
    const splits = splitsOf(data, this.options, warnings);
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

  /**
   * The model's scores on a dataset (eval mode, no graph), computed on worker threads; the centred cosine about
   * `opts.centre` where given (fit() centres on the train split's target mean: targetMean(train)).
   */
  score(ds: Dataset, opts: { centre?: Tensor } = {}): Promise<Metrics> {
    return scoreModel(this.model, ds, opts);
  }

  async #fit(splits: TrainerSplits, warnings: string[]): Promise<FitResult> {
    const { model, options: o, weights } = this;
    const cb = o.callbacks ?? {};
    checkSplits(splits, model, weights, o);
    const centre = this.#centre = targetMean(splits.train);  // once per fit: the model and the baselines are centred on it
    const score = (ds: Dataset): Promise<CentredMetrics> => scoreModel(model, ds, { centre });
    const baselines = await baselinesAndStart(model, splits, evalSplitsOf(splits), o, centre);
    torch.manualSeed(o.seed);
    const optimizer = makeOptimizer(model, o);
    const steps = stepsPerEpoch(splits.train, o);
    const scheduler = makeScheduler(optimizer, o, steps);
    const outDir = writerOutDir(o);
    const history = new HistoryFile(outDir && join(outDir, 'training_history.json'));
    history.finalParams = model.numParameters();
    const run: EpochRun = {
      model, optimizer, scheduler, weights, batchSize: o.batchSize, clipNorm: o.clipNorm, precision: o.precision, seed: o.seed,
      world: o.world, callbacks: cb,
    };
    const resumed: Resumed | undefined = o.resume ? await resume(o.resume, { ...run, history, monitor: o.monitor }, warnings) : undefined;
    await sameWeightsOnEveryRank(o.world, model);
    const ckpts = new RunCheckpoints(outDir, { ...run, history }, {
      args: { ...o.args, seed: o.seed, lr: o.lr, batch_size: o.batchSize }, model_config: modelConfig(model), loss_weights: { ...weights },
    });
    const best = new BestSoFar(model, o.monitor, resumed);
    const fromRidge = startsFromRidge(model, o);
    let stoppedEarly = false;
    try {
      if (resumed) await ckpts.keepResumedBest(o.resume!, resumed, best.state);
      history.baselines = baselines;
      const firstEpoch = (resumed?.epoch ?? 0) + 1;
      const sizes = Object.fromEntries(Object.entries(splits).map(([k, d]) => [k, d.size]));
      await cb.onTrainBegin?.({ epochs: o.epochs, firstEpoch, stepsPerEpoch: steps, baselines, warnings, sizes });
      // A model that starts from ridge has an epoch 0, its start (ridge's predictions exactly): the first candidate
      // for the best weights, so that training keeps ridge's val score unless an epoch beats it.
      if (fromRidge) {
        const val = await sameOnEveryRank(o.world, await score(splits.val));
        best.set(0, val);
        history.bestValLoss = val.mse;
        if (outDir) await ckpts.save('best_model.pt', 0, val, best.state);
      }
      for (let epoch = firstEpoch; epoch <= o.epochs; epoch++) {
        await cb.onEpochBegin?.(epoch);
        // Dropout's draws depend on (seed, epoch) only, so that a resumed run draws what an unbroken one does.
        torch.manualSeed(dropoutSeed(o.seed, epoch));
        const train = await trainEpoch(splits.train, epoch, run);
        const val = await sameOnEveryRank(o.world, await score(splits.val));
        const entry = historyEntry(epoch, train, val, weights);
        afterEpoch(scheduler, monitored(o.monitor, val));
        const improved = best.record(epoch, val);
        // The epoch's entry first: each file written below holds the history up to and including this epoch. In
        // this order (best_model.pt, final_model.pt, training_history.json), a kill between two writes leaves
        // best_model.pt at most one epoch ahead of final_model.pt, and training_history.json never ahead of it.
        history.add(entry, best.best.val_loss);
        if (outDir && improved) await ckpts.save('best_model.pt', epoch, val, best.state);
        if (outDir) await ckpts.save('final_model.pt', epoch, val, best.state);
        await history.write();
        await cb.onEpochEnd?.(epoch, entry);
        if (o.patience !== undefined && best.badEpochs >= o.patience && epoch < o.epochs) {
          stoppedEarly = true;
          break;
        }
        if (await stopOnAnyRank(o.world, this.#stop)) break;
      }
      await ckpts.finish(o.resume, best.state);
      // The model ends with the best weights, and is judged with them.
      if (best.best.epoch > 0 || fromRidge || resumed) best.restore();
    } finally {
      best.dispose();
      optimizer.dispose();
    }
    const scores: SplitScores = {
      train: await score(splits.train), val: await score(splits.val), ...(splits.test && { test: await score(splits.test) }),
    };
    history.scores = scores;
    const files = ckpts.files;
    const result: FitResult = { history: history.entries, best: best.best, scores, baselines, stoppedEarly, warnings, files };
    if (outDir) {
      files.history = await history.write();
      files.report = await writeReport(join(outDir, 'report.html'), result, model, o);
    }
    await cb.onTrainEnd?.(result);
    return result;
  }
}

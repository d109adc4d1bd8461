// The data of a fit(): the train/val/test split by document (seeded), every check on it before the first step, and
// in data-parallel runs each rank's share of the train split (dealt out by document afresh each epoch).
import { Dataset } from '../data/dataset.js';
import { splitByDocument, validate } from '../data/index.js';
import { shardRows } from './shard.js';
import type { World } from '../../torch/distributed/world.js';
import type { CompositeWeights } from '../loss/composite.js';
import { modelConfig } from '../models/trainable.js';
import type { Module } from '../../torch/nn/module.js';
import { NEEDS_DOCUMENTS, type Monitor } from './monitor.js';

/** What Trainer.fit() takes besides one Dataset: train and val (and test) already split. */
export type TrainerSplits = { train: Dataset; val: Dataset; test?: Dataset };

/** The splits scored every epoch (val) and at the end (val, test). */
export type EvalSplits = Record<string, Dataset> & { val: Dataset };

/** The splits of `data`: one dataset split by document here (its warnings added to `warnings`), or the splits given. */
export function splitsOf(data: Dataset | TrainerSplits, opts: { split: { train: number; val: number; test: number }; seed: number },
  warnings: string[]): TrainerSplits {
  if (data instanceof Dataset) {
    const s = splitByDocument(data, { ...opts.split, seed: opts.seed });
    warnings.push(...s.warnings);
    return { train: s.train, val: s.val, test: s.test };
  }
  if (data && data.train instanceof Dataset && data.val instanceof Dataset) return data;
  throw new TypeError('fit() takes a Dataset or { train, val, test? } of Datasets');
}

export function evalSplitsOf(splits: TrainerSplits): EvalSplits {
  return { val: splits.val, ...(splits.test && { test: splits.test }) };
}

/** Every problem with the data, before the first step: a RangeError (or the DatasetError of validate()). */
export function checkSplits(splits: TrainerSplits, model: Module, weights: CompositeWeights, o: { batchSize: number; monitor: Monitor }): void {
  const inputDim = modelConfig(model).inputDim;
  if (inputDim !== undefined && splits.train.dim !== inputDim) {
    throw new RangeError(`the data's vectors are ${splits.train.dim}-D but the model reads ${inputDim}-D (inputDim)`);
  }
  validate(splits.train, { batchSize: o.batchSize, name: 'train' });
  validate(splits.val, { name: 'val' });
  if (splits.test) validate(splits.test, { name: 'test' });
  if (weights.document > 0 && !splits.train.docIds) {
    throw new RangeError('the loss\'s document term ranks each row among its document\'s sentences, but the train split ' +
      'has no document ids (an ordered vectors file, or a windowed one with doc_ids, has them)');
  }
  if (NEEDS_DOCUMENTS.includes(o.monitor) && !splits.val.docIds) {
    throw new RangeError(`monitor ${o.monitor} ranks each sentence among its document's, but the val split has no document ids ` +
      '(an ordered vectors file, or a windowed one with doc_ids, has them)');
  }
}

/** The seed of an epoch's shuffle and deal of the documents. */
export function epochSeed(seed: number, epoch: number): number {
  return seed * 100003 + epoch;
}

/** This rank's share of the epoch's documents (a subset to dispose), or all of `train` without a world. */
export function epochShare(train: Dataset, world: World | undefined, seed: number): Dataset {
  return world ? train.subset(shardRows(train.docIds, train.size, world.rank, world.worldSize, seed)) : train;
}

// Steps per epoch: of the global batch over the rows every rank keeps (shardRows; as in the first epoch, later
// deals of the documents can differ by a step).
export function stepsPerEpoch(train: Dataset, o: { batchSize: number; seed: number; world?: World }): number {
  if (!o.world) return Math.ceil(train.size / o.batchSize);
  const rows = shardRows(train.docIds, train.size, 0, o.world.worldSize, epochSeed(o.seed, 1)).length;
  return Math.ceil(rows / (o.batchSize / o.world.worldSize));
}

// The `datasets` namespace of the package: reading, cutting, splitting, checking and generating data.
// This file only re-exports.
export { Dataset, type DatasetInit, type Batch, type BatchesOptions, type Rows } from './dataset.js';
export { DatasetError } from './errors.js';
export { fromNpz, SEED_KEYS, type FromNpzOptions, type NpzKeys } from './from-npz.js';
export { fromVectors, type FromVectorsOptions } from './from-vectors.js';
export { fromOrderedNpz, type FromOrderedNpzOptions } from './from-ordered-npz.js';
export { splitByDocument, type SplitOptions, type Splits } from './split.js';
export { validate, findProblems, type ValidateOptions } from './validate.js';
export { cutWindows, type Windows } from './windows.js';
export { Random } from './random.js';
export type { SharedTensor } from './shared.js';
export {
  synthesize, synthetic, saveSynthetic, corpusDataset, corpusStats, datasetStats, SYNTHETIC_DEFAULTS,
  type SynthesizeOptions, type SyntheticCorpus, type SyntheticStats,
} from './synthetic.js';

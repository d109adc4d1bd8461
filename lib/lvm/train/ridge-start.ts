// The baselines of a fit(), and the start of a model that learns the residual over a linear predictor (its config's
// ridgeContext): that predictor (the ridge fitted on train, or copy-last) goes into the model's residual map, and
// its output projection starts at zero, so that the first epoch starts from exactly that predictor's predictions.
// Which tensors those are, the model says (NativeModel.residualMap(), outputHead()).
import type { Dataset } from '../data/dataset.js';
import { NativeModel } from '../models/native-model.js';
import type { Module } from '../../torch/nn/module.js';
import type { Tensor } from '../../torch/tensor.js';
import * as torch from '../../torch/functions.js';
import { baselinesAndRidge, computeBaselines, fitRidge, type BaselineResult, type RidgeMap } from './baselines.js';
import type { EvalSplits, TrainerSplits } from './split-data.js';

type StartOptions = { residualOf: 'ridge' | 'copy-last'; baselines?: BaselineResult; resume?: string };

/** Whether fit() starts the model from a linear predictor: it has a residual map and is not resumed. */
export function startsFromRidge(model: Module, o: { resume?: string }): model is NativeModel {
  return model instanceof NativeModel && model.residualMap() !== undefined && !o.resume;
}

/**
 * The baselines (the ones given, or fitted here on train, scored on `evalSplits`), and for a model that starts from
 * a linear predictor that start: the ridge fitted once for both, or copy-last.
 */
export async function baselinesAndStart(model: Module, splits: TrainerSplits, evalSplits: EvalSplits, o: StartOptions,
  centre: Tensor): Promise<BaselineResult> {
  if (!startsFromRidge(model, o)) return o.baselines ?? await computeBaselines(splits.train, evalSplits, { centre });
  checkRidgeContext(model, splits.train);
  if (o.residualOf === 'copy-last') {
    startFrom(model, copyLastMap(splits.train.context, splits.train.dim));
    return o.baselines ?? await computeBaselines(splits.train, evalSplits, { centre });
  }
  if (o.baselines) {
    startFrom(model, await fitRidge(splits.train, splits.val));
    return o.baselines;
  }
  const { result, ridge } = await baselinesAndRidge(splits.train, evalSplits, { centre });
  startFrom(model, ridge);
  return result;
}

function checkRidgeContext(model: NativeModel, train: Dataset): void {
  const t = model.config.ridgeContext!;
  if (train.context !== t) throw new RangeError(`the model's ridge reads ${t} context vectors but the data's windows have ${train.context}`);
}

// The map's weight and bias into the model's residual map, its output projection zeroed. Takes (disposes) the map's
// tensors.
function startFrom(model: NativeModel, { weight, bias }: RidgeMap): void {
  const residual = model.residualMap()!;
  const head = model.outputHead();
  const sd = model.stateDict();
  const zeros = { [head.weight]: torch.zerosLike(sd[head.weight]), [head.bias]: torch.zerosLike(sd[head.bias]) };
  for (const x of Object.values(sd)) x.dispose();
  try {
    model.loadStateDict({ [residual.weight]: weight, [residual.bias]: bias, ...zeros }, { strict: false });
  } finally {
    for (const x of [weight, bias, ...Object.values(zeros)]) x.dispose();
  }
}

// The copy-last baseline as a linear map of the flattened context [*, T * D]: the identity on the last vector.
function copyLastMap(t: number, d: number): RidgeMap {
  const weight = torch.noGrad(() => torch.tidy(() => torch.cat([torch.zeros([d, (t - 1) * d]), torch.eye(d)], 1)));
  return { weight, bias: torch.zeros([d]), lambda: 0 };
}

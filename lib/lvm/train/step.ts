// One training step. For lvmtorch's native models, one native call (native/lvm/train/): forward, the fused composite
// loss, backward, gradient clipping and the optimiser's step, on the compute lane. For a torch.nn module written in
// TypeScript, its forward and the loss on the JS thread, then backward, clipping and the step in one compute-lane job.
// The returned Promise settles when the step is done; the event loop runs meanwhile (a progress bar redraws, an
// HTTP server answers).
import { nativeCode } from '../../errors.js';
import {
  compositeLoss, compositeWeights, NonFiniteLossError, rawCandidates, weightArray, type Candidates, type CompositeLossResult,
  type CompositeWeights,
} from '../loss/composite.js';
import type { World } from '../../torch/distributed/world.js';
import { settle } from '../../torch/distributed/world.js';
import { markStepRunning, stepRunning, NativeModel } from '../models/native-model.js';
import { libtorchMajor, native } from '../../torch/native.js';
import type { Optimizer } from '../../torch/optim/optimizer.js';
import { rawOf, type Tensor } from '../../torch/tensor.js';
import { forwardOf } from '../models/trainable.js';
import * as nn from '../../torch/nn/index.js';
import { keep, tidy } from '../../torch/scope.js';

export interface TrainStepOptions {
  /** The composite loss's weights (default: compositeWeights()'s). */
  weights?: Partial<CompositeWeights>;
  /** Clip the gradients' total L2 norm to this before the step (0 or absent: no clipping). */
  clipNorm?: number;
  /**
   * 'bf16': the forward under bf16 autocast (matmuls and linears in bfloat16, as torch.autocast), with fp32
   * weights, gradients, optimiser state and loss. Default 'fp32'.
   */
  precision?: Precision;
  /** Data-parallel: the gradients are averaged over the world's ranks after backward, before clipping (DDP). */
  world?: World;
  /** The document term's candidates for this batch (Dataset.batches' `candidates`): needed when it is weighted. */
  candidates?: Candidates;
}

export type Precision = 'fp32' | 'bf16';

/** The step's loss: the weighted total, every term of the composite loss and the batch's mean cosine. */
export interface TrainStepResult extends Pick<CompositeLossResult, 'info' | 'moment' | 'variance' | 'mse' | 'cosMse' | 'document' | 'cosine'> {
  /** The weighted total. */
  loss: number;
  /** The gradients' total norm before clipping; NaN when not clipping. */
  gradNorm: number;
}

/**
 * One step on the batch (x [B, T, inputDim], y [B, outputDim], on the model's device and dtype). The model, the
 * optimiser (built over the model's parameters) and the tensors stay alive until the step ends, even if disposed
 * meanwhile. A NaN or infinite loss rejects with NonFiniteLossError before anything is updated.
 */
export async function trainStep<O extends object>(model: nn.Module, optimizer: Optimizer<O>, x: Tensor, y: Tensor,
  opts: TrainStepOptions = {}): Promise<TrainStepResult> {
  const w = compositeWeights(opts.weights ?? {});
  const clipNorm = opts.clipNorm ?? 0;
  if (!(clipNorm >= 0) || !Number.isFinite(clipNorm)) throw new RangeError(`clipNorm must be a finite number >= 0, got ${clipNorm}`);
  if (!(model instanceof NativeModel)) return moduleStep(model, optimizer, x, y, w, clipNorm, opts);
  if (stepRunning(model)) throw new Error('a train step is already running on this model: await it before the next');
  if (model.pendingPredictions > 0) throw new Error('predictAsync() calls are running on this model: await them before a train step');
  const precision = opts.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw new RangeError(`precision must be 'fp32' or 'bf16', got ${String(precision)}`);
  // PyTorch 1.13's CPU autocast hands the GRU a bf16 LayerNorm output it cannot take ("expected scalar type
  // BFloat16 but found Float", in Python as here).
  if (precision === 'bf16' && libtorchMajor() < 2) throw new RangeError("precision 'bf16' needs libtorch 2.x (1.13's autocast cannot run these models)");
  const pending = native().trainStep(model.handle, optimizer.handle, rawOf(x), rawOf(y),
    weightArray(w), clipNorm, precision === 'bf16', opts.world?.handle, rawCandidates(opts.candidates));
  markStepRunning(model, true);
  try {
    const { total: loss, ...rest } = await settle(pending);
    return { loss, ...rest };
  } catch (e) {
    if (nativeCode(e) === 'ERR_LOSS_NOT_FINITE') throw new NonFiniteLossError((e as Error).message, { cause: e });
    throw e;
  } finally {
    markStepRunning(model, false);
  }
}

const running = new WeakSet<nn.Module>();

// The step for a torch.nn module (one written in TypeScript): the forward and the fused loss on the JS thread, one
// native call per op; backward, clipping and the optimiser's step in one job on the compute lane.
async function moduleStep<O extends object>(model: nn.Module, optimizer: Optimizer<O>, x: Tensor, y: Tensor,
  w: CompositeWeights, clipNorm: number, opts: TrainStepOptions): Promise<TrainStepResult> {
  if (opts.world) throw new RangeError("a data-parallel step (world) needs one of lvmtorch's native models (models.gru(), ...) for now");
  if ((opts.precision ?? 'fp32') !== 'fp32') throw new RangeError("precision 'bf16' needs one of lvmtorch's native models for now");
  if (running.has(model)) throw new Error('a train step is already running on this model: await it before the next');
  optimizer.zeroGrad();
  const loss = tidy(() => {
    const l = compositeLoss(forwardOf(model, x), y, { ...w, candidates: opts.candidates });
    keep(l.total);
    return l;
  });
  running.add(model);
  try {
    const gradNorm = await native().backwardAndStep(rawOf(loss.total), optimizer.handle, clipNorm);
    const { info, moment, variance, mse, cosMse, document, cosine } = loss;
    return { loss: loss.value, info, moment, variance, mse, cosMse, document, cosine, gradNorm };
  } finally {
    loss.total.dispose();
    running.delete(model);
  }
}

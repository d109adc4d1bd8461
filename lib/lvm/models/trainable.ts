// What training, evaluation and checkpoints take: one of lvmtorch's native models or a torch.nn module of the user's
// whose forward maps [batch, context, dim] to [batch, dim]. What they need of it the model declares (weight decay by
// noWeightDecay(), the ridge start by residualMap(), what a checkpoint records by `config`); nothing is guessed.
import { noGrad } from '../../torch/functions.js';
import { Module } from '../../torch/nn/module.js';
import { tidy } from '../../torch/scope.js';
import { Tensor } from '../../torch/tensor.js';
import { NativeModel } from './native-model.js';

/** What a checkpoint records as model_config, and what the Trainer checks the data against. */
export type ModelConfigOf = Record<string, unknown> & { kind: string; inputDim?: number };

/**
 * A native model's config; a torch.nn module's own `config` property (a plain object, which a `--model` factory
 * takes back), with the class's name as `kind` where it names none.
 */
export function modelConfig(model: Module): ModelConfigOf {
  if (model instanceof NativeModel) return { ...model.config };
  const own = (model as unknown as { config?: unknown }).config;
  const config = own !== null && typeof own === 'object' && !Array.isArray(own) ? own as Record<string, unknown> : {};
  return { kind: model.constructor.name, ...config } as ModelConfigOf;
}

/** A torch.nn module's forward on x [B, T, D], checked to be the [B, D] prediction training and serving need. */
export function forwardOf(model: Module, x: Tensor): Tensor {
  const out = (model.forward as (x: Tensor) => unknown)(x);
  if (!(out instanceof Tensor) || out.ndim !== 2) {
    throw new TypeError(`the model's forward must map [batch, context, dim] to a [batch, dim] Tensor, got ${out instanceof Tensor ? `shape [${out.shape.join(', ')}]` : typeof out}`);
  }
  return out;
}

/**
 * The model's L2-normalised predictions for x [B, T, D], without a graph and in eval mode (its mode is kept): a native
 * model's predictAsync (off the JS thread); a torch.nn module's forward on the JS thread.
 */
export async function predict(model: Module, x: Tensor): Promise<Tensor> {
  if (model instanceof NativeModel) return model.predictAsync(x);
  const training = model.training;
  model.eval();
  try {
    return tidy(() => noGrad(() => forwardOf(model, x).normalize({ dim: 1 })));
  } finally {
    model.train(training);
  }
}

// `--model ./my-model.js`: a model of the user's, from an ES module whose default export (or `createModel`) builds a
// torch.nn module from a config: the command's sizes and the `--model-config` JSON. What the factory is given the
// module should keep as its `config`, which checkpoints record as model_config, so that the same factory can build it
// again from a checkpoint.
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { Module } from '../torch/nn/module.js';

/** Whether a --model value names a file rather than one of the built-in kinds. */
export function isModelFile(value: string): boolean {
  return ['.js', '.mjs'].includes(extname(value));
}

/** Parses --model-config: a JSON object. */
export function parseModelConfig(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RangeError(`--model-config must be a JSON object: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RangeError('--model-config must be a JSON object');
  return value as Record<string, unknown>;
}

/** The file's factory, checked to build torch.nn modules: what `serve --model` hands the server. */
export async function loadFactory(file: string): Promise<(config: Record<string, unknown>) => Promise<Module>> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(resolve(file)).href) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`--model ${file}: cannot import it: ${(e as Error).message}`, { cause: e });
  }
  const factory = mod.default ?? mod.createModel;
  if (typeof factory !== 'function') {
    throw new TypeError(`--model ${file}: its default export (or createModel) must be a function that builds the model from a config`);
  }
  return async (config) => {
    const model: unknown = await (factory as (c: Record<string, unknown>) => unknown)({ ...config });
    if (!(model instanceof Module)) {
      throw new TypeError(`--model ${file}: its factory must return a torch.nn Module (a class extending nn.Module of this lvmtorch), got ${model === null ? 'null' : typeof model}`);
    }
    return model;
  };
}

/** Builds the user's model: the file's factory called with `config`. */
export async function loadUserModel(file: string, config: Record<string, unknown>): Promise<Module> {
  return (await loadFactory(file))(config);
}

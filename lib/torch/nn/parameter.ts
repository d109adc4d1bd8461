// nn.Parameter: a Tensor that a Module registers as one of its parameters when assigned to one of its properties.
import { keep } from '../scope.js';
import { type RawTensor } from '../native.js';
import { detachedRaw, Tensor, TENSOR_TOKEN } from '../tensor.js';

/**
 * A tensor a Module trains: a new handle on `data`'s memory (`data` itself is left as it was), requiring grad unless
 * told otherwise, as `torch.nn.Parameter(data, requires_grad)`. It belongs to its module, not to the tidy() scope it
 * was made in: `module.dispose()` frees it.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new TypeError(`nn.Parameter takes a Tensor, got ${data === null ? 'null' : typeof data}`);
    super(detachedRaw(data), TENSOR_TOKEN);
    keep(this);
    if (requiresGrad) this.requiresGrad_(true);
  }

  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}

/** @internal A Parameter over a tensor made for it, which is freed (the Parameter keeps the memory). */
export function parameterOf(data: Tensor, requiresGrad = true): Parameter {
  const p = new Parameter(data, requiresGrad);
  data.dispose();
  return p;
}

/**
 * @internal A Parameter that is the native tensor itself (a built-in model's own parameter, which autograd fills),
 * not a detached alias of it as `new Parameter()` makes.
 */
export function parameterOfRaw(raw: RawTensor): Parameter {
  return keep(Reflect.construct(Tensor, [raw, TENSOR_TOKEN], Parameter) as Parameter);
}

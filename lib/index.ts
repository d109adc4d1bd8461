// The package's public API; this file only re-exports.
export * as torch from './torch.js';
export { Tensor } from './tensor.js';
export type { DType } from './dtype.js';
export type { Device } from './device.js';
export { LibtorchLoadError } from './errors.js';
export { doctor, type DoctorReport } from './doctor.js';

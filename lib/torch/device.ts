// Devices by PyTorch's names: 'cpu', 'cuda', 'cuda:N'.
import { native } from './native.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export function isDevice(name: unknown): name is Device {
  return typeof name === 'string' && /^(cpu|cuda(:\d+)?)$/.test(name);
}

export function parseDevice(name: unknown): Device {
  if (isDevice(name)) return name;
  throw new TypeError(`unknown device ${JSON.stringify(name)}; expected 'cpu', 'cuda' or 'cuda:N'`);
}

export const cuda = {
  /** A CUDA build of libtorch is loaded and sees at least one GPU. */
  isAvailable(): boolean {
    return native().cudaDeviceCount() > 0;
  },
  deviceCount(): number {
    return native().cudaDeviceCount();
  },
};

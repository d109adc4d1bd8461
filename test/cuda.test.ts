// The same ops on CUDA as on the CPU, where a CUDA build of libtorch sees a GPU. Elsewhere every test here is
// skipped with the reason, also under CI: a machine without a GPU is no missing tool (CI's machine has none).
import { beforeEach, describe, expect, it } from 'vitest';

import { torch } from '../dist/index.js';

const devices = torch.cuda.deviceCount();
const reason = devices > 0 ? null : 'no CUDA device (this libtorch is CPU-only or sees no GPU)';

function close(a: torch.Tensor, b: torch.Tensor, tol = 1e-4): void {
  const x = a.toTypedArray() as Float32Array;
  const y = b.toTypedArray() as Float32Array;
  expect(x.length).toBe(y.length);
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i])));
}

describe('CUDA', () => {
  beforeEach((ctx) => {
    if (reason) ctx.skip(reason);
  });

  it('reports its devices', () => {
    expect(torch.cuda.isAvailable()).toBe(true);
    expect(torch.zeros([2], { device: 'cuda' }).device).toBe('cuda:0');
  });

  it('round-trips every dtype exactly', () => {
    for (const dtype of ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int8', 'uint8', 'bool'] as const) {
      const cpu = torch.tensor([0, 1, 2, 3, 4, 5], { dtype });
      expect(cpu.to('cuda').to('cpu').toArray()).toEqual(cpu.toArray());
      expect(cpu.to('cuda').dtype).toBe(dtype);
    }
  });

  it('computes ops, reductions and gradients as the CPU does', () => {
    torch.manualSeed(1);
    const a = torch.randn([64, 32]);
    const b = torch.randn([32, 16]);
    const ga = a.to('cuda');
    const gb = b.to('cuda');
    close(ga.matmul(gb).cpu(), a.matmul(b));
    close(ga.normalize({ dim: 1 }).sum(0).cpu(), a.normalize({ dim: 1 }).sum(0));
    close(ga.logSoftmax(1).cpu(), a.logSoftmax(1));
    close(ga.std(0).cpu(), a.std(0));
    const grad = (x: torch.Tensor, y: torch.Tensor): torch.Tensor => {
      const leaf = x.detach().requiresGrad_();
      leaf.matmul(y).tanh().sum().backward();
      return leaf.grad!.cpu();
    };
    close(grad(ga, gb), grad(a, b));
  });

  it('refuses to mix devices with libtorch\'s message', () => {
    expect(() => torch.zeros([2]).add(torch.zeros([2], { device: 'cuda' }))).toThrow(/device/);
  });
});

# The seed's Mamba2VectorPredictor with real Mamba2 blocks, in plain PyTorch, and the jobs test/mamba2.test.ts asks
# of it. mamba_ssm is not installed here (it needs CUDA and Triton), so `Mamba2` below is mamba_ssm's class
# (mamba_ssm/modules/mamba2.py, github.com/state-spaces/mamba) written out: the same parameters, names, order and
# initialisation, and the forward of its non-fused path, with the two Triton pieces replaced by what they compute:
#   - RMSNormGated (ops/triton/layernorm_gated.py, norm_before_gate=False): rmsnorm(y * silu(z)) * weight, per
#     group of d_inner / ngroups channels, eps 1e-5 (its rms_norm_ref);
#   - mamba_chunk_scan_combined: here the plain step-by-step recurrence, one step at a time, per head:
#       h_t = exp(dt_t * A) h_{t-1} + dt_t * x_t (outer) B_t      y_t = h_t C_t + D x_t
#     deliberately not the chunked SSD algorithm that lvmtorch implements, so the comparison checks the algorithm.
# stdin: {"dir": ..., "jobs": [...]}; stdout: JSON. Tensors travel in .pt files.
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNormGated(nn.Module):
    def __init__(self, d, eps=1e-5, group_size=None):
        super().__init__()
        self.eps, self.group_size = eps, group_size or d
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x, z):
        x = x * F.silu(z)  # norm_before_gate=False
        g = x.reshape(*x.shape[:-1], -1, self.group_size)
        rstd = 1 / torch.sqrt(g.square().mean(dim=-1, keepdim=True) + self.eps)
        return (g * rstd).reshape(x.shape) * self.weight


def recurrent_scan(x, dt, A, B, C):
    """x [b, T, h, p], dt [b, T, h], A [h], B, C [b, T, h, n] -> y [b, T, h, p], one step at a time."""
    b, T, h, p = x.shape
    state = x.new_zeros(b, h, p, B.shape[-1])
    ys = []
    for t in range(T):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]
        state = decay * state + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, :, None, :]
        ys.append(torch.einsum('bhpn,bhn->bhp', state, C[:, t]))
    return torch.stack(ys, dim=1)


class Mamba2(nn.Module):
    def __init__(self, d_model, d_state=128, d_conv=4, expand=2, headdim=64, ngroups=1, A_init_range=(1, 16),
                 dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4, bias=False, conv_bias=True, chunk_size=256):
        super().__init__()
        self.d_state, self.d_conv, self.headdim, self.ngroups = d_state, d_conv, headdim, ngroups
        self.d_inner = expand * d_model
        assert self.d_inner % headdim == 0
        self.nheads = self.d_inner // headdim
        self.chunk_size = chunk_size  # the fused kernel's; the recurrence does not need it
        d_in_proj = 2 * self.d_inner + 2 * ngroups * d_state + self.nheads  # order: [z, x, B, C, dt]
        self.in_proj = nn.Linear(d_model, d_in_proj, bias=bias)
        conv_dim = self.d_inner + 2 * ngroups * d_state
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, kernel_size=d_conv, groups=conv_dim, padding=d_conv - 1,
                                bias=conv_bias)
        self.act = nn.SiLU()
        dt = torch.exp(torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = torch.clamp(dt, min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus
        A = torch.empty(self.nheads).uniform_(*A_init_range)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = RMSNormGated(self.d_inner, eps=1e-5, group_size=self.d_inner // ngroups)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, u, scan=True):
        batch, seqlen, _ = u.shape
        zxbcdt = self.in_proj(u)
        A = -torch.exp(self.A_log.float())
        z, xBC, dt = torch.split(zxbcdt, [self.d_inner, self.d_inner + 2 * self.ngroups * self.d_state, self.nheads],
                                 dim=-1)
        xBC = self.act(self.conv1d(xBC.transpose(1, 2)).transpose(1, 2)[:, :seqlen])
        x, B, C = torch.split(xBC, [self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        x = x.reshape(batch, seqlen, self.nheads, self.headdim)
        dt = F.softplus(dt + self.dt_bias)  # dt_softplus=True
        # Consecutive heads share a group's B and C (mamba_ssm's nheads // ngroups ratio).
        B, C = (t.reshape(batch, seqlen, self.ngroups, self.d_state)
                 .repeat_interleave(self.nheads // self.ngroups, dim=2) for t in (B, C))
        y = recurrent_scan(x, dt, A, B, C) if scan else torch.zeros_like(x)
        y = y + x * self.D[:, None]
        y = self.norm(y.reshape(batch, seqlen, self.d_inner), z)
        return self.out_proj(y)


class Mamba2Block(nn.Module):  # the seed's block, with a real Mamba2
    def __init__(self, d, **kw):
        super().__init__()
        self.mamba = Mamba2(d_model=d, **kw)
        self.norm = nn.LayerNorm(d)

    def forward(self, x, scan=True):
        return x + self.mamba(self.norm(x), scan)


class Mamba2VectorPredictor(nn.Module):
    def __init__(self, input_dim=768, d_model=512, num_layers=4, output_dim=None, **kw):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, d_model)
        self.blocks = nn.ModuleList([Mamba2Block(d_model, **kw) for _ in range(num_layers)])
        self.head = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model),
                                  nn.Linear(d_model, output_dim or input_dim))

    def forward(self, x, every_step=False, scan=True):
        """The prediction from the last step; with every_step, the prediction from each step ([b, T, out])."""
        x = self.input_proj(x)
        for block in self.blocks:
            x = block(x, scan)
        raw = self.head(x if every_step else x[:, -1, :])
        return raw, F.normalize(raw, p=2, dim=-1)


def build(c):
    return Mamba2VectorPredictor(c['inputDim'], c['dModel'], c['numLayers'], c['outputDim'], d_state=c['dState'],
                                 d_conv=c['dConv'], expand=c['expand'], headdim=c['headdim'], ngroups=c['ngroups'],
                                 chunk_size=c['chunkSize'])


def run(job, d):
    c = job['config']
    if job['job'] == 'parameters':  # names and shapes in named_parameters() order; state_dict() keys
        model = build(c)
        return {'parameters': [[n, list(p.shape)] for n, p in model.named_parameters()],
                'state_dict': list(model.state_dict().keys())}
    if job['job'] == 'forward':  # our weights and input in; outputs, every step's output and gradients out
        data = torch.load(os.path.join(d, job['file']))
        model = build(c)
        model.load_state_dict(data['state_dict'], strict=True)
        raw, cos = model(data['x'])
        (raw * data['w']).sum().backward()
        with torch.no_grad():
            steps_raw, _ = model(data['x'], every_step=True)
            no_scan_raw, _ = model(data['x'], scan=False)
        torch.save({'raw': raw.detach(), 'cos': cos.detach(), 'steps_raw': steps_raw, 'no_scan_raw': no_scan_raw,
                    'grads': {n: p.grad for n, p in model.named_parameters()}}, os.path.join(d, job['out']))
        return True
    if job['job'] == 'export':  # Python's own initialisation, weights and outputs out, as a seed checkpoint
        torch.manual_seed(job['seed'])
        model = build(c)
        x = torch.randn(3, job['context'], c['inputDim'])
        with torch.no_grad():
            raw, cos = model(x)
        torch.save({'epoch': 1, 'model_state_dict': model.state_dict(), 'x': x, 'raw': raw, 'cos': cos},
                   os.path.join(d, job['out']))
        return True
    raise ValueError(job['job'])


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    print(json.dumps([run(job, req['dir']) for job in req['jobs']]))


if __name__ == '__main__':
    main()

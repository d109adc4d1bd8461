# The seed's three LVM classes, written from ../shared/DESIGN.md (the seed's app/lvm/train_*.py), the seed
# inference server's LatentMamba (app/api/lvm_server.py), and the jobs test/models.test.ts asks of them. stdin: {"dir": ..., "jobs": [...]}; stdout: JSON. Tensors travel in .pt files
# (torch.save / torch.load on this side, lvmtorch's own reader and writer on the other).
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def head(d, out):
    return nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d), nn.Linear(d, out))


class Mamba2Block(nn.Module):  # the GRU fallback
    def __init__(self, d):
        super().__init__()
        self.mamba = nn.GRU(d, d, batch_first=True)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        out, _ = self.mamba(self.norm(x))
        return x + out


class Mamba2VectorPredictor(nn.Module):
    def __init__(self, input_dim=768, d_model=512, num_layers=4, output_dim=None):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, d_model)
        self.blocks = nn.ModuleList([Mamba2Block(d_model) for _ in range(num_layers)])
        self.head = head(d_model, output_dim or input_dim)

    def forward(self, x):
        x = self.input_proj(x)
        for block in self.blocks:
            x = block(x)
        raw = self.head(x[:, -1, :])
        return raw, F.normalize(raw, p=2, dim=-1)


class LSTMVectorPredictor(nn.Module):
    def __init__(self, input_dim=768, hidden_dim=512, num_layers=2, dropout=0.2, output_dim=None):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden_dim, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0,
                            batch_first=True)
        self.head = head(hidden_dim, output_dim or input_dim)

    def forward(self, x):
        out, _ = self.lstm(x)
        raw = self.head(out[:, -1, :])
        return raw, F.normalize(raw, p=2, dim=-1)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=100):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe.unsqueeze(0))

    def forward(self, x):
        return x + self.pe[:, :x.size(1), :]


class TransformerVectorPredictor(nn.Module):
    def __init__(self, input_dim=768, d_model=512, nhead=8, num_layers=4, dropout=0.1, max_len=100, output_dim=None):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, d_model)
        self.pos_encoder = PositionalEncoding(d_model, max_len)
        layer = nn.TransformerDecoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=d_model * 4, dropout=dropout,
                                           batch_first=True)
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=num_layers)
        self.head = head(d_model, output_dim or input_dim)

    def forward(self, x):
        x = self.pos_encoder(self.input_proj(x))
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1)).to(x.device)
        x = self.transformer_decoder(tgt=x, memory=x, tgt_mask=mask, memory_mask=mask)
        raw = self.head(x[:, -1, :])
        return raw, F.normalize(raw, p=2, dim=-1)


class LatentMamba(nn.Module):  # the seed server's model, as its source has it
    def __init__(self, d_input=784, d_hidden=512, n_layers=2, dropout=0.1):
        super().__init__()
        self.d_input = d_input; self.d_hidden = d_hidden
        self.input_proj = nn.Linear(d_input, d_hidden)
        self.lstm = nn.LSTM(d_hidden, d_hidden, n_layers, dropout=dropout if n_layers > 1 else 0, batch_first=True)
        self.output_head = nn.Linear(d_hidden, d_input)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        h = self.dropout(self.input_proj(x))
        lstm_out, _ = self.lstm(h)
        if mask is not None:
            lengths = mask.sum(dim=1).long() - 1
            last_h = lstm_out[torch.arange(lstm_out.size(0)), lengths]
        else:
            last_h = lstm_out[:, -1, :]
        return self.output_head(last_h)   # [batch, d_input]


class RidgeBuffers(nn.Module):
    """lvmtorch's ridgeContext: a fixed linear map of the flattened context, added to the head's output."""
    def __init__(self, n_in, n_out):
        super().__init__()
        self.register_buffer('weight', torch.zeros(n_out, n_in))
        self.register_buffer('bias', torch.zeros(n_out))


def outputs(model, kind, c, x):
    """(raw, normalised) as lvmtorch defines them; for LatentMamba, what the seed server computes."""
    if hasattr(model, 'ridge'):
        raw = model(x)[0] + F.linear(x.flatten(1), model.ridge.weight, model.ridge.bias)
        return raw, F.normalize(raw, p=2, dim=-1)
    if kind == 'latent_mamba':
        raw = model(x)
        return raw, F.normalize(raw[:, :c['outputDim']], p=2, dim=-1)
    return model(x)


def build(kind, c):
    model = build_seed(kind, c)
    if c.get('ridgeContext'):
        model.ridge = RidgeBuffers(c['ridgeContext'] * c['inputDim'], c['outputDim'])
    return model


def build_seed(kind, c):
    if kind == 'latent_mamba':
        return LatentMamba(c['inputDim'], c['dModel'], c['numLayers'], c['dropout'])
    if kind == 'gru':
        return Mamba2VectorPredictor(c['inputDim'], c['dModel'], c['numLayers'], c['outputDim'])
    if kind == 'lstm':
        return LSTMVectorPredictor(c['inputDim'], c['dModel'], c['numLayers'], c['dropout'], c['outputDim'])
    return TransformerVectorPredictor(c['inputDim'], c['dModel'], c['heads'], c['numLayers'], c['dropout'], c['maxLen'],
                                      c['outputDim'])


def run(job, d):
    kind, c = job['kind'], job['config']
    model = build(kind, c)
    if job['job'] == 'count':
        return sum(p.numel() for p in model.parameters())
    if job['job'] == 'names':  # parameter names and state_dict keys, in PyTorch's order
        return {'parameters': [n for n, _ in model.named_parameters()], 'state_dict': list(model.state_dict().keys())}
    if job['job'] == 'forward':  # our weights and input in, Python's outputs and gradients out
        data = torch.load(os.path.join(d, job['file']))
        model.load_state_dict(data['state_dict'], strict=True)
        model.eval()
        raw, cos = outputs(model, kind, c, data['x'])
        (raw * data['w']).sum().backward()
        out = {'raw': raw.detach(), 'cos': cos.detach(),
               'grads': {n: p.grad for n, p in model.named_parameters()}}
        torch.save(out, os.path.join(d, job['out']))
        return list(model.state_dict().keys())
    if job['job'] == 'export':  # Python's weights and outputs out
        torch.manual_seed(job['seed'])
        model = build(kind, c)
        model.eval()
        x = torch.randn(3, 5, c['inputDim'])
        raw, cos = outputs(model, kind, c, x)
        torch.save({'epoch': 1, 'model_state_dict': model.state_dict(), 'x': x, 'raw': raw.detach(), 'cos': cos.detach(),
                    'args': {'nhead': c.get('heads', 8)}}, os.path.join(d, job['out']))
        return True
    if job['job'] == 'export_raw':  # as the seed server's files: a bare model.state_dict(); outputs beside it
        torch.manual_seed(job['seed'])
        model = build(kind, c)
        torch.save(model.state_dict(), os.path.join(d, job['out']))
        model.eval()
        x = torch.randn(3, 5, c['inputDim'])
        with torch.no_grad():
            raw, cos = outputs(model, kind, c, x)
        torch.save({'x': x, 'raw': raw, 'cos': cos}, os.path.join(d, job['outputs']))
        return True
    raise ValueError(job['job'])


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(1)
    print(json.dumps([run(job, req['dir']) for job in req['jobs']]))


if __name__ == '__main__':
    main()

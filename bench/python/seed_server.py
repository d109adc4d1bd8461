"""The seed project's inference server, rebuilt on its own stack (FastAPI + uvicorn + PyTorch) for bench/serve.js: the
Python side that `lvmtorch serve` is measured against. Written from the seed's documented API and behaviour (DESIGN.md,
"Seed inference server"), not from its source:

  POST /infer        {vector_sequence: L x 768, tmd_codes: [domain 0-15, task 0-31, modifier 0-63], temperature?, use_mock?}
                     -> {predicted_vector (768, L2-normalised), confidence, latency_ms (int), model_version, is_mock}
  POST /infer/batch  {sequences, tmd_codes_batch, temperature?, use_mock?}
                     -> {predictions, count, total_latency_ms, avg_latency_ms, is_mock}   (one forward per sequence)
  GET  /health, GET /model/info, POST /model/load?model_path=...&device=cpu

As in the seed, the handlers are `async def` running synchronous torch (so the event loop serves one request at a
time), under torch.no_grad() with the model in eval mode; the input is each 768-D vector with the 16-D TMD code
appended (784-D), the answer the first 768 outputs, L2-normalised with numpy. Temperature is accepted and validated
but changes nothing (as in the seed: a normalised vector has no temperature to apply).

  python seed_server.py --checkpoint STATE_DICT.pt --port 8003 [--threads=1] [--host 127.0.0.1]
  python seed_server.py --write-weights PATH     # torch.manual_seed(0); torch.save(LatentMamba().state_dict(), PATH)

Before uvicorn starts it prints one JSON line: torch version, threads, BLAS, parameters, checkpoint.
"""
import argparse
import json
import os
import sys
import time
from typing import List, Optional

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
import bench_threads  # noqa: E402

D_VECTOR = 768
D_TMD = 16
MODEL_VERSION = 'mamba-768-v1.0'


class LatentMamba(nn.Module):
    """The seed's LatentMamba: Linear(784 -> 512), LSTM 2 x 512 (batch first), Linear(512 -> 784) on the last step."""

    def __init__(self, d_input=784, d_hidden=512, n_layers=2, dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(d_input, d_hidden)
        self.lstm = nn.LSTM(d_hidden, d_hidden, n_layers, dropout=dropout if n_layers > 1 else 0, batch_first=True)
        self.output_head = nn.Linear(d_hidden, d_input)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = self.dropout(self.input_proj(x))
        out, _ = self.lstm(h)
        return self.output_head(out[:, -1, :])

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())


def write_weights(path):
    torch.manual_seed(0)
    model = LatentMamba()
    torch.save(model.state_dict(), path)
    print(json.dumps({'path': path, 'parameters': model.num_parameters(), 'torch': torch.__version__}), flush=True)


def make_app(checkpoint: Optional[str]):
    # Imported here: --write-weights needs only torch.
    from fastapi import FastAPI, HTTPException
    from fastapi.middleware.cors import CORSMiddleware
    from pydantic import BaseModel, Field

    class Loaded:
        model: Optional[LatentMamba] = None
        path: Optional[str] = None
        device = 'cpu'

    def load(path, device='cpu'):
        model = LatentMamba()
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        model.to(device).eval()
        Loaded.model, Loaded.path, Loaded.device = model, path, device
        return model

    if checkpoint:
        load(checkpoint)

    class InferRequest(BaseModel):
        vector_sequence: List[List[float]]
        tmd_codes: List[int] = Field(..., min_length=3, max_length=3)
        temperature: float = Field(1.0, ge=0.1, le=2.0)
        use_mock: bool = False

    class InferResponse(BaseModel):
        predicted_vector: List[float]
        confidence: float
        latency_ms: int
        model_version: str
        is_mock: bool

    class BatchInferRequest(BaseModel):
        sequences: List[List[List[float]]]
        tmd_codes_batch: List[List[int]]
        temperature: float = 1.0
        use_mock: bool = False

    class BatchInferResponse(BaseModel):
        predictions: List[List[float]]
        count: int
        total_latency_ms: int
        avg_latency_ms: float
        is_mock: bool

    class HealthResponse(BaseModel):
        status: str
        model_loaded: bool
        device: str
        mock_mode_available: bool

    def tmd_vector(codes):
        domain, task, modifier = codes
        v = np.zeros(D_TMD, dtype=np.float32)
        for bits, offset, value in ((4, 0, domain), (5, 4, task), (6, 9, modifier)):
            for i in range(bits):
                if value & (1 << i):
                    v[offset + i] = 1.0
        return v  # dim 15 stays 0

    def check(sequence, codes):
        for row in sequence:
            if len(row) != D_VECTOR:
                raise HTTPException(400, f'Expected {D_VECTOR}D vectors, got {len(row)}D')
        if len(codes) != 3:
            raise HTTPException(400, f'tmd_codes must be [domain, task, modifier], got {len(codes)} numbers')
        for name, value, top in zip(('Domain', 'Task', 'Modifier'), codes, (15, 31, 63)):
            if not 0 <= value <= top:
                raise HTTPException(400, f'{name} code must be 0-{top}, got {value}')

    def normalised(v):
        n = np.linalg.norm(v)
        return v / n if n > 0 else v

    def predict(sequence, codes):
        """One synchronous forward of one sequence: [1, L, 784] -> the first 768 outputs, L2-normalised."""
        if Loaded.model is None:
            raise ValueError('Model not loaded')
        x = np.asarray(sequence, dtype=np.float32)
        x = np.concatenate([x, np.broadcast_to(tmd_vector(codes), (x.shape[0], D_TMD))], axis=1)
        with torch.no_grad():
            out = Loaded.model(torch.from_numpy(x).unsqueeze(0).to(Loaded.device))
        return normalised(out[0].cpu().numpy()[:D_VECTOR])

    def mock(sequence, codes):
        # Not timed by the bench: the mean of the inputs, a little noise and a domain-dependent bias, normalised.
        noise = np.random.normal(0, 0.1, D_VECTOR).astype(np.float32)
        bias = 0.05 * np.sin(np.arange(D_VECTOR) * (codes[0] + 1) / 100.0).astype(np.float32)
        return normalised(np.mean(np.asarray(sequence, dtype=np.float32), axis=0) + noise + bias)

    app = FastAPI(title='LVM Inference API (seed stack, for bench/serve.js)', version='1.0.0')
    app.add_middleware(CORSMiddleware, allow_origins=['*'], allow_credentials=True, allow_methods=['*'], allow_headers=['*'])

    @app.get('/health', response_model=HealthResponse)
    async def health():
        return HealthResponse(status='healthy', model_loaded=Loaded.model is not None, device=Loaded.device,
                              mock_mode_available=True)

    @app.post('/infer', response_model=InferResponse)
    async def infer(req: InferRequest):
        try:
            t0 = time.time()
            check(req.vector_sequence, req.tmd_codes)
            is_mock = req.use_mock or Loaded.model is None
            v = (mock if is_mock else predict)(req.vector_sequence, req.tmd_codes)
            return InferResponse(predicted_vector=v.tolist(), confidence=0.5 if is_mock else 0.85,
                                 latency_ms=int((time.time() - t0) * 1000),
                                 model_version='mock' if Loaded.model is None else MODEL_VERSION, is_mock=is_mock)
        except HTTPException:
            raise
        except ValueError as e:
            raise HTTPException(400, str(e))
        except Exception as e:  # noqa: BLE001 (the seed answers 500 with the message)
            raise HTTPException(500, f'Inference failed: {e}')

    @app.post('/infer/batch', response_model=BatchInferResponse)
    async def infer_batch(req: BatchInferRequest):
        try:
            if len(req.sequences) != len(req.tmd_codes_batch):
                raise HTTPException(400, 'Number of sequences must match number of TMD code sets')
            t0 = time.time()
            is_mock = req.use_mock or Loaded.model is None
            # One forward per sequence, as the seed does.
            predictions = [(mock if is_mock else predict)(s, c).tolist() for s, c in zip(req.sequences, req.tmd_codes_batch)]
            total = int((time.time() - t0) * 1000)
            return BatchInferResponse(predictions=predictions, count=len(predictions), total_latency_ms=total,
                                      avg_latency_ms=total / len(predictions) if predictions else 0, is_mock=is_mock)
        except HTTPException:
            raise
        except Exception as e:  # noqa: BLE001
            raise HTTPException(500, f'Batch inference failed: {e}')

    @app.get('/model/info')
    async def model_info():
        m = Loaded.model
        return {'loaded': m is not None, 'model_path': Loaded.path, 'd_input': 784, 'd_hidden': 512, 'n_layers': 2,
                'device': Loaded.device, 'num_parameters': m.num_parameters() if m is not None else None}

    @app.post('/model/load')
    async def model_load(model_path: str, device: str = 'cpu'):
        if not os.path.exists(model_path):
            raise HTTPException(404, f'Model file not found: {model_path}')
        try:
            m = load(model_path, device)
        except Exception as e:  # noqa: BLE001
            raise HTTPException(500, f'Model loading failed: {e}')
        return {'status': 'success', 'message': f'Model loaded from {model_path}', 'num_parameters': m.num_parameters(),
                'device': device}

    return app, Loaded


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', help='a raw LatentMamba state dict (torch.save(model.state_dict()))')
    p.add_argument('--port', type=int, default=8003)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--threads', type=int, default=1, help='torch.set_num_threads (default 1)')
    p.add_argument('--write-weights', metavar='PATH', help='write the seeded LatentMamba state dict to PATH and exit')
    a = p.parse_args()
    if a.write_weights:
        write_weights(a.write_weights)
        return
    torch.set_num_threads(a.threads)
    app, loaded = make_app(a.checkpoint)
    import fastapi
    import uvicorn
    print(json.dumps({'impl': 'python', 'python': sys.executable, 'torch': torch.__version__, 'fastapi': fastapi.__version__,
                      'uvicorn': uvicorn.__version__, 'parameters': loaded.model.num_parameters() if loaded.model else None,
                      'checkpoint': a.checkpoint, **bench_threads.describe()}), flush=True)
    # The seed's uvicorn settings: log level info, access log on (one line a request, on stdout).
    uvicorn.run(app, host=a.host, port=a.port, log_level='info')


if __name__ == '__main__':
    main()

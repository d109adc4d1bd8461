// The seed's GRU predictor (Mamba2VectorPredictor's GRU fallback: input_proj, 4 x [LayerNorm, GRU, residual], a
// Linear-GELU-LayerNorm-Linear head on the last step) written as a TypeScript composition of torch.nn modules, with
// the built-in models.gru()'s parameter names: each loads the other's state dict. bench/nn.js times it against the
// built-in fused model and PyTorch; test/nn.test.ts checks it computes what models.gru() computes.
export function seedGruClass(nn) {
  class Block extends nn.Module {
    constructor(d) {
      super();
      this.mamba = new nn.GRU(d, d, { batchFirst: true });
      this.norm = new nn.LayerNorm(d);
    }
    forward(x) {
      const [out] = this.mamba.forward(this.norm.forward(x));
      return x.add(out);
    }
  }
  return class SeedGru extends nn.Module {
    constructor({ inputDim = 768, dModel = 512, numLayers = 4, outputDim = inputDim } = {}) {
      super();
      this.config = { kind: 'seed-gru-nn', inputDim, dModel, numLayers, outputDim };
      this.input_proj = new nn.Linear(inputDim, dModel);
      this.blocks = new nn.ModuleList(Array.from({ length: numLayers }, () => new Block(dModel)));
      this.head = new nn.Sequential(new nn.Linear(dModel, dModel), new nn.GELU(), new nn.LayerNorm(dModel), new nn.Linear(dModel, outputDim));
    }
    forward(x) {
      let h = this.input_proj.forward(x);
      for (const block of this.blocks) h = block.forward(h);
      return this.head.forward(h.select(1, h.shape[1] - 1));
    }
  };
}

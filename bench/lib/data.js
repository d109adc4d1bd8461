// The data file the training benchmarks share: `rows` windows of 5 random unit vectors (768-D) and a random unit
// target each, in the seed's layout (context_sequences, target_vectors), seeded: speed does not depend on what the
// vectors say.
export async function writeRandomWindows(file, rows) {
  const { torch } = await import('../../dist/index.js');
  const { saveNpz } = await import('../../dist/formats/index.js');
  torch.manualSeed(0);
  torch.tidy(() => saveNpz({
    context_sequences: torch.randn([rows, 5, 768]).normalize({ dim: 2 }),
    target_vectors: torch.randn([rows, 768]).normalize({ dim: 1 }),
  }, file));
}

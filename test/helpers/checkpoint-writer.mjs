// Writes <dir>/best_model.pt over and over, as the Trainer does at each better epoch (the seed GRU with its AdamW
// state: ~88 MB), printing "wrote N" after each whole write, until it is killed. train.test.ts kills it with
// SIGKILL at random moments and checks that the file it finds is always a whole, loadable checkpoint.
// usage: node checkpoint-writer.mjs <dir>
import { join } from 'node:path';

const { models, writeCheckpoint, torch, optim } = await import('../../dist/index.js');

torch.manualSeed(0);
const model = models.gru();
const opt = new optim.AdamW(model.parameters());
// One step, so that the optimiser's state exists and is written too.
torch.tidy(() => model.forward(torch.randn([2, 5, 768])).sum().backward());
opt.step();
for (let epoch = 1; ; epoch++) {
  await writeCheckpoint(join(process.argv[2], 'best_model.pt'), {
    epoch, val_loss: 1 / epoch, val_cosine: 0.5, args: {}, model_config: { ...model.config }, loss_weights: {},
    best_val_loss: 1 / epoch, history: [],
  }, model, opt);
  console.log(`wrote ${epoch}`);
}

// `lvmtorch eval`: a checkpoint against the baselines on the documents it was not trained on (the split the
// Trainer made, rebuilt from the seed recorded in the checkpoint's args).
import { Command } from 'commander';

import * as datasets from '../lvm/data/index.js';
import * as models from '../lvm/models/index.js';
import { readCheckpoint } from '../lvm/train/checkpoint.js';
import { evaluate } from '../lvm/train/evaluate.js';
import { formatSummary } from '../lvm/train/summary.js';

export function evalCommand(): Command {
  return new Command('eval')
    .description('score a checkpoint on held-out documents (raw and centred cosine; retrieval among all targets and, ' +
      'where the data knows its documents, among each sentence\'s own document; contrastive accuracy) against the ' +
      'global-mean, copy-last, context-mean, ridge (and oracle) baselines')
    .requiredOption('--checkpoint <file>', 'a checkpoint (best_model.pt), ours or a seed-style one')
    .option('--data <file>', 'a .npz in the seed\'s layout; default: the built-in synthetic corpus')
    .option('--seed <n>', 'the split\'s seed (default: the checkpoint\'s args.seed, else 0)', (v) => Number(v))
    .option('--context <n>', 'context vectors per window, for an ordered vectors file (default: the checkpoint\'s ' +
      'args.context, else 5)', (v) => Number(v))
    .option('--json', 'print one JSON object instead of the table')
    .action(async (flags: { checkpoint: string; data?: string; seed?: number; context?: number; json?: boolean }) => {
      const ckpt = await readCheckpoint(flags.checkpoint);
      const model = models.fromCheckpoint(ckpt as unknown as Record<string, unknown>);
      const seed = flags.seed ?? (typeof ckpt.args?.seed === 'number' ? ckpt.args.seed : 0);
      const context = flags.context ?? (typeof ckpt.args?.context === 'number' ? ckpt.args.context : 5);
      const data = flags.data ? datasets.fromNpz(flags.data, { context }) : datasets.synthetic({ seed });
      try {
        const result = await evaluate(model, data, { seed });
        if (flags.json) {
          console.log(JSON.stringify({ checkpoint: flags.checkpoint, kind: model.config.kind, seed, ...result,
            baselines: result.baselines.scores, ridge_lambda: result.baselines.ridgeLambda }, null, 2));
        } else {
          for (const w of result.warnings) console.error(`warning: ${w}`);
          console.log(`${flags.checkpoint}: ${model.config.kind}, epoch ${ckpt.epoch ?? '?'}, split seed ${seed}\n`);
          console.log(formatSummary(result, model.config.kind));
        }
      } finally {
        model.dispose();
        data.dispose();
      }
    });
}

// What the README's main command (`npm start`: lvmtorch train on the built-in corpus) achieves, for every model: the
// command's own flags are read from package.json and run through the CLI, and each run's training_history.json
// must show val and test cosines above the global-mean, copy-last and ridge baselines, and the GRU at >= 90% of
// the oracle. The numbers are printed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

const root = mkdtempSync(join(tmpdir(), 'lvmtorch-quality-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// `npm start`'s train flags, without --out (each run here writes to its own folder).
const start: string = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start;
const flags = start.slice(start.indexOf(' train ') + 7).split(/\s+/);
const README_FLAGS = flags.filter((f, i) => f !== '--out' && flags[i - 1] !== '--out');

interface Scores { cosine: number }
interface History {
  scores: { val: Scores; test: Scores };
  baselines: Record<string, { val: Scores; test: Scores }>;
}

// Run as a child process, awaited: the test worker's event loop must stay free for vitest while it trains.
async function train(model: string): Promise<History> {
  const out = join(root, model);
  const args = ['dist/cli/main.js', 'train', ...README_FLAGS, '--model', model, '--out', out, '--no-progress'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { encoding: 'utf8', timeout: 280_000 });
  console.log(`lvmtorch train ${README_FLAGS.join(' ')} --model ${model}\n${stdout.slice(stdout.indexOf('\n\n'))}`);
  return JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8')) as History;
}

describe('the README\'s training run on the built-in corpus', () => {
  it('reads the flags of `npm start`', () => {
    expect(README_FLAGS).toContain('--epochs');
    expect(README_FLAGS.join(' ')).not.toMatch(/--data/);  // the built-in corpus
  });

  for (const model of ['gru', 'lstm', 'transformer', 'mamba2']) {
    it(`${model}: beats the global mean, copy-last and ridge on val and test${model === 'gru' ? ', and reaches 90% of the oracle' : ''}`, async () => {
      const h = await train(model);
      for (const split of ['val', 'test'] as const) {
        for (const baseline of ['mean', 'copy-last', 'ridge']) {
          expect(h.scores[split].cosine, `${model} vs ${baseline} on ${split}`).toBeGreaterThan(h.baselines[baseline][split].cosine);
        }
        expect(h.scores[split].cosine).toBeLessThanOrEqual(h.baselines.oracle[split].cosine + 0.01);
      }
      if (model === 'gru') expect(h.scores.val.cosine / h.baselines.oracle.val.cosine).toBeGreaterThanOrEqual(0.9);
    }, 300_000);
  }
});

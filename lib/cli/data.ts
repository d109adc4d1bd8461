import { statSync } from 'node:fs';

import { Command } from 'commander';

import { datasetStats, fromNpz, saveSynthetic, synthesize, SYNTHETIC_DEFAULTS } from '../lvm/data/index.js';
import { findProblems } from '../lvm/data/validate.js';

const integer = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`--${name} must be an integer, got '${v}'`);
  return n;
};

const pct = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '-');

export function dataCommand(): Command {
  const data = new Command('data').description('write the built-in synthetic corpus, or describe a dataset file');
  data.command('synth')
    .description('write the synthetic corpus (unit-norm vectors with a shared mean direction, topic drift, and ' +
      'an oracle) as an .npz in the seed\'s layout plus doc_ids and oracle_vectors')
    .requiredOption('--out <file>', 'the .npz to write')
    .option('--docs <n>', `documents (default ${SYNTHETIC_DEFAULTS.docs})`, integer('docs'))
    .option('--sentences <n>', `sentences per document (default ${SYNTHETIC_DEFAULTS.sentencesPerDoc})`, integer('sentences'))
    .option('--dim <n>', `vector size (default ${SYNTHETIC_DEFAULTS.dim})`, integer('dim'))
    .option('--context <n>', `context vectors per window (default ${SYNTHETIC_DEFAULTS.context})`, integer('context'))
    .option('--seed <n>', `seed (default ${SYNTHETIC_DEFAULTS.seed})`, integer('seed'))
    .option('--compress', 'deflate the arrays, as np.savez_compressed (smaller, slower)')
    .option('--json', 'print the stats as JSON')
    .action((o: { out: string; docs?: number; sentences?: number; dim?: number; context?: number; seed?: number;
      compress?: boolean; json?: boolean }) => {
      const corpus = synthesize({ docs: o.docs, sentencesPerDoc: o.sentences, dim: o.dim, context: o.context, seed: o.seed });
      try {
        const stats = saveSynthetic(corpus, o.out, { compress: o.compress });
        const bytes = statSync(o.out).size;
        if (o.json) {
          console.log(JSON.stringify({ file: o.out, bytes, options: corpus.options, ...stats }, null, 2));
          return;
        }
        const c = corpus.options;
        console.log(`wrote ${o.out} (${(bytes / 2 ** 20).toFixed(1)} MiB): ${stats.windows} windows of ${stats.context} x ` +
          `${stats.dim}-D from ${stats.docs} documents of ${c.sentencesPerDoc} sentences (${stats.vectors} vectors), seed ${c.seed}`);
        console.log(`on the val documents (${stats.valWindows} windows, split by document 80/10/10, seed 0):`);
        console.log(`  oracle            ${pct(stats.oracleCosine)}  (the best any model can expect)`);
        console.log(`  global mean       ${pct(stats.meanCosine)}`);
        console.log(`  copy last vector  ${pct(stats.copyLastCosine)}`);
      } finally {
        corpus.vectors.dispose();
        corpus.oracle.dispose();
      }
    });
  data.command('info')
    .description('rows, vector size, context, documents, NaN/Inf check and baselines of a dataset .npz')
    .argument('<file>', 'an .npz in the seed\'s layout')
    .option('--json', 'print one JSON object')
    .action((file: string, o: { json?: boolean }) => {
      const ds = fromNpz(file);
      try {
        const problems = findProblems(ds);
        const docs = ds.numDocuments;
        const stats = docs !== undefined && docs >= 3 ? datasetStats(ds) : undefined;
        const info = {
          file, rows: ds.size, dim: ds.dim, context: ds.context, vectors: ds.vectors.shape[0], documents: docs ?? null,
          oracle: ds.oracle !== undefined, texts: ds.texts !== undefined, ids: ds.ids !== undefined, problems,
          warnings: ds.warnings, ...(stats && { val: { windows: stats.valWindows, mean: stats.meanCosine,
            copyLast: stats.copyLastCosine, ...(ds.oracle && { oracle: stats.oracleCosine }) } }),
        };
        if (o.json) {
          console.log(JSON.stringify(info, null, 2));
        } else {
          console.log(`${file}: ${ds.size} rows, context ${ds.context} x ${ds.dim}-D, ` +
            `${docs === undefined ? 'no document ids (splits will be random rows)' : `${docs} documents`}` +
            `${ds.oracle ? ', with an oracle' : ''}${ds.texts ? ', with texts' : ''}`);
          console.log(problems.length ? `problems: ${problems.join('; ')}` : 'check: no NaN or Inf, shapes and indices in order');
          for (const w of ds.warnings) console.log(`warning: ${w}`);
          if (stats) {
            console.log(`val documents (${stats.valWindows} windows, split 80/10/10, seed 0): global mean ` +
              `${pct(stats.meanCosine)}, copy-last ${pct(stats.copyLastCosine)}` +
              `${ds.oracle ? `, oracle ${pct(stats.oracleCosine)}` : ''}`);
          }
        }
        if (problems.length) process.exitCode = 1;
      } finally {
        ds.dispose();
      }
    });
  return data;
}

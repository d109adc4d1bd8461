#!/usr/bin/env node
// npm run bench [-- NAME ...] [--rounds=N --sample=SECONDS ...]
// Runs every benchmark in bench/ (each bench/NAME.js exports `description` and `run({ options, log })`), or only
// those named; prints a table per benchmark and writes bench/out/NAME.json. Options go to every benchmark.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import {
  benchDir, describeLoad, formatLoad, formatMachine, loadSnapshot, machineInfo, outDir, rootDir,
} from './lib/harness.js';

const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('--'));
const options = Object.fromEntries(args.filter((a) => a.startsWith('--'))
  .map((a) => { const [k, v = 'true'] = a.slice(2).split('='); return [k, v]; }));
const all = readdirSync(benchDir).filter((f) => f.endsWith('.js') && f !== 'run.js').map((f) => f.slice(0, -3)).sort();
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${all.join(', ')}`);
  process.exit(2);
}
if (!existsSync(join(rootDir, 'dist/index.js'))) {
  console.error('lvmtorch is not built: run `npm run build` first');
  process.exit(1);
}

const machine = machineInfo();
console.log(formatMachine(machine));
// Every libtorch variant and Python PyTorch on this machine (the benchmarks that compare variants run each).
const { discover } = await import('./lib/variants.js');
const found = discover();
machine.variants = found.lvmtorch.map((v) => ({ variant: v.variant, version: v.version, binary: v.binary, libtorch: v.env.LIBTORCH }));
machine.pythons = found.pythons.map((p) => ({ python: p.python, torch: p.version }));
console.log(`lvmtorch variants: ${found.lvmtorch.map((v) => `${v.variant}${v.isDefault ? ' (default)' : ''}`).join(', ') || 'none'}; ` +
  `Python PyTorch: ${found.pythons.map((p) => `${p.minor} (${p.python})`).join(', ') || 'none'}`);
for (const why of found.skipped) console.log(`  skipped: ${why}`);
mkdirSync(outDir, { recursive: true });
for (const name of names.length ? names : all) {
  const bench = await import(pathToFileURL(join(benchDir, `${name}.js`)).href);
  console.log(`\n## ${name}: ${bench.description}\n`);
  const t0 = Date.now();
  const before = loadSnapshot();
  const { table, results } = await bench.run({ options, log: (s) => console.log(s) });
  const load = describeLoad(before, loadSnapshot());
  const seconds = +((Date.now() - t0) / 1000).toFixed(1);
  console.log(`\n${table}\n\n${formatLoad(load)}\n`);
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ name, machine, options, seconds, load, ...results }, null, 2) + '\n');
  console.log(`${name}: ${seconds} s, results in bench/out/${name}.json`);
}

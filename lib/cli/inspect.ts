import { Command } from 'commander';

import { readRecords } from '../formats/read-records.js';
import { formatTree, tensorIndex, tree } from '../formats/tree.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('print the tree of a .pt, .npy, .npz or .safetensors file: every value, and each tensor\'s ' +
      'dotted path, dtype, shape, device and float64 sum (nothing in the file is run; needs no libtorch)')
    .argument('<file>', 'the file to read')
    .option('--json', 'print one JSON object { "<dotted.path>": { dtype, shape, sum } } holding every tensor')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { format, value } = readRecords(file);
      const lines = tree(value);
      if (opts.json) console.log(JSON.stringify(tensorIndex(lines), null, 2));
      else console.log(`${file}: ${format} file\n${formatTree(lines)}`);
    });
}

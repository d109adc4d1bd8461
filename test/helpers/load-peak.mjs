// Loads one torch.save file in a fresh process and prints how much its peak resident memory (VmHWM) grew over
// what the process held once libtorch was loaded, with the float64 sum of every tensor: io-torch.test.ts checks
// that loading costs about the file's size, not twice it.
// usage: node load-peak.mjs <file.pt>
import { readFileSync } from 'node:fs';

const { torch } = await import('../../dist/index.js');
const { loadTorchFile } = await import('../../dist/torch/io/torch-file.js');

const status = (field) => Number(/(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field)))[1]) * 1024;

torch.zeros([1]).dispose(); // libtorch loaded and initialised
const before = status('VmRSS:');
const sd = await loadTorchFile(process.argv[2]);
const peak = status('VmHWM:');
let sum = 0;
for (const t of Object.values(sd)) sum += t.double().sum().item();
console.log(JSON.stringify({ growth: peak - before, sum, tensors: Object.keys(sd).length }));

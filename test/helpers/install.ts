// What the packaging tests share: a user's machine as npm sees it (a PATH with only node, npm and npx, and python3
// when asked for; none of this checkout's loader or build variables) and the script a user runs after installing.
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** A folder with node, npm and npx (and python3 when given): the PATH of a machine without a compiler. */
export function binDir(at: string, python: string | null): string {
  mkdirSync(at);
  const nodeBin = dirname(process.execPath);
  for (const tool of ['node', 'npm', 'npx']) symlinkSync(join(nodeBin, tool), join(at, tool));
  // A wrapper, not a symlink: a venv's python finds its venv from the path it was started by.
  if (python) writeFileSync(join(at, 'python3'), `#!/bin/sh\nexec ${python} "$@"\n`, { mode: 0o755 });
  return at;
}

/** The environment of a user's shell: none of this checkout's loader or build variables. */
export function userEnv(path: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: path, npm_config_update_notifier: 'false', ...extra };
  if (process.env.npm_config_cache) env.npm_config_cache = process.env.npm_config_cache;
  return env;
}

/** A command's status and output; never rejects. Async, so that a test worker answers its runner meanwhile. */
export async function run(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 600_000):
  Promise<{ status: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(args[0], args.slice(1), { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 26 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { status: typeof err.code === 'number' ? err.code : null, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

/** `npm pack` of the package in `dir` into `dest`: the tarball's path and the files it holds. */
export async function pack(dir: string, dest: string): Promise<{ tarball: string; files: string[] }> {
  const r = await run(['npm', 'pack', '--json', '--pack-destination', dest], dir, process.env);
  if (r.status !== 0) throw new Error(`npm pack in ${dir} failed:\n${r.stderr}`);
  const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(dest, info[0].filename), files: info[0].files.map((f) => f.path) };
}

/** An empty project for a user to install into. */
export function freshProject(at: string): string {
  mkdirSync(at);
  writeFileSync(join(at, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  return at;
}

/**
 * What a user's script does after `npm install lvmtorch`: doctor, a small GRU, one AdamW step on random data, save,
 * load, compare; it prints one JSON line, with the libtorch files the process has mapped (/proc/self/maps).
 */
export const CHECK = `
import { readFileSync } from 'node:fs';
import { doctor, models, optim, torch, trainStep } from 'lvmtorch';
const report = doctor();
if (!report.ok) throw new Error(report.error ?? JSON.stringify(report));
torch.manualSeed(0);
const model = models.gru({ inputDim: 16, outputDim: 16, dModel: 16, numLayers: 1 });
const before = model.stateDict()['head.3.weight'].clone();
const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
const step = await trainStep(model, opt, torch.randn([4, 5, 16]), torch.randn([4, 16]), { clipNorm: 1 });
const sd = model.stateDict();
await torch.save({ model_state_dict: sd }, 'ckpt.pt');
const back = (await torch.load('ckpt.pt')).model_state_dict;
const roundTrip = Object.keys(sd).length === Object.keys(back).length &&
  Object.entries(sd).every(([k, t]) => back[k] && back[k].sub(t).abs().max().item() === 0);
const mapped = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5])
  .filter((p) => p && /\\/lib(torch|c10|gomp)[^/]*\\.so/.test(p)))];
console.log(JSON.stringify({
  variant: report.variant, binary: report.binary.path, blas: report.blas.kind, libtorch: report.libtorch,
  searched: report.searched, lossFinite: Number.isFinite(step.loss),
  weightsChanged: sd['head.3.weight'].sub(before).abs().max().item() > 0, roundTrip, mapped,
}));
`;

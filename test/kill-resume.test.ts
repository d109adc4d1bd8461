// `lvmtorch train` killed with SIGKILL at random moments, 20 times, each time resumed from final_model.pt (or started
// afresh while there is none), loses nothing (issue 23): after every kill each file there is whole (both checkpoints
// load, training_history.json parses, its epochs are 1..k in order with the numbers of an unbroken run), and the
// run that finally completes has every epoch once, in order, with the unbroken run's numbers and weights, and no
// temporary file left. A kill lands at a random moment of the start, at a random moment of training, or as soon as
// the temporary file of a chosen write (best_model.pt, final_model.pt, training_history.json, report.html) appears.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { models, torch, type Tensor } from '../dist/index.js';
import { needPython, runPython } from './helpers/python.js';
import { mulberry32 } from './helpers/random.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lvmtorch-kill-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CYCLES = 20;
const EPOCHS = 16;
const FILES = ['best_model.pt', 'final_model.pt', 'training_history.json', 'report.html'] as const;
type File = (typeof FILES)[number];
const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

// A small corpus (60 documents of 64-D vectors) and a small LSTM with dropout on one thread: an epoch takes ~0.1 s,
// a good share of it writing files.
const data = join(dir, 'synth.npz');
const flags = (out: string) => ['train', '--data', data, '--model', 'lstm', '--d-model', '32', '--layers', '2', '--dropout', '0.2',
  '--epochs', String(EPOCHS), '--batch-size', '16', '--lr', '3e-3', '--seed', '7', '--threads', '1', '--out', out, '--no-progress'];

interface Entry { epoch: number; seconds: number; samples_per_second: number; [k: string]: number }
interface Checkpoint { epoch: number; history: Entry[]; model_state_dict: Record<string, Tensor>; model_config: Record<string, unknown> }

// A CLI run; `ms` since its start when its first line of training ("rows: ...") came, and when it exited.
function run(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const began = performance.now();
  let stdout = '';
  let stderr = '';
  let onRows: (ms: number) => void = () => {};
  const rows = new Promise<number>((resolve) => { onRows = resolve; });
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
    if (/^rows: /m.test(stdout)) onRows(performance.now() - began);
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - began })));
  return { child, rows, done, stdout: () => stdout };
}

// Every number of an epoch but its timing.
const numbers = (h: Entry[]) => h.map(({ seconds: _s, samples_per_second: _p, ...rest }) => rest);
const oneToK = (h: { epoch: number }[]) => h.every((e, i) => e.epoch === i + 1);
const temps = (out: string) => readdirSync(out).filter((f) => TEMP.test(f));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lvmtorch train, killed and resumed', () => {
  let ref: { history: Entry[]; json: Record<string, unknown>; best: Checkpoint; final: Checkpoint; startupMs: number; epochMs: number };
  const refDir = join(dir, 'reference');
  const out = join(dir, 'killed');

  beforeAll(async () => {
    const synth = run(['data', 'synth', '--out', data, '--docs', '60', '--sentences', '12', '--dim', '64']);
    const s = await synth.done;
    if (s.code !== 0) throw new Error(`lvmtorch data synth failed: ${s.stderr}`);
    // The unbroken run, timed: where its training starts, and how long an epoch takes.
    const r = run(flags(refDir));
    const [startupMs, end] = await Promise.all([r.rows, r.done]);
    if (end.code !== 0) throw new Error(`the reference run failed: ${end.stderr}`);
    const json = JSON.parse(readFileSync(join(refDir, 'training_history.json'), 'utf8'));
    ref = {
      history: json.history, json, startupMs, epochMs: (end.ms - startupMs) / EPOCHS,
      best: await torch.load<Checkpoint>(join(refDir, 'best_model.pt')), final: await torch.load<Checkpoint>(join(refDir, 'final_model.pt')),
    };
    expect(ref.history.map((e) => e.epoch)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
  }, 60_000);

  // Each file there is whole, and what it holds is the unbroken run's up to its epoch.
  async function checkWhole(cycle: string): Promise<{ final: number; history: number }> {
    const got: Partial<Record<'best' | 'final', number>> = {};
    for (const [key, file] of [['best', 'best_model.pt'], ['final', 'final_model.pt']] as const) {
      if (!existsSync(join(out, file))) continue;
      const ckpt = await torch.load<Checkpoint>(join(out, file));
      expect(Number.isInteger(ckpt.epoch) && ckpt.epoch >= 1, `${cycle}: ${file} epoch ${ckpt.epoch}`).toBe(true);
      expect(oneToK(ckpt.history) && ckpt.history.length === ckpt.epoch, `${cycle}: ${file} (epoch ${ckpt.epoch}) holds epochs ` +
        `${ckpt.history.map((e) => e.epoch)}`).toBe(true);
      expect(numbers(ckpt.history), `${cycle}: ${file}'s history`).toEqual(numbers(ref.history.slice(0, ckpt.epoch)));
      expect(Object.keys(ckpt.model_state_dict).sort()).toEqual(Object.keys(ref.final.model_state_dict).sort());
      for (const t of Object.values(ckpt.model_state_dict)) expect(t.isfinite().all().item()).toBe(true);
      got[key] = ckpt.epoch;
    }
    let k = 0;
    if (existsSync(join(out, 'training_history.json'))) {
      const json = JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8')) as { history: Entry[] };
      k = json.history.length;
      expect(oneToK(json.history), `${cycle}: training_history.json holds epochs ${json.history.map((e) => e.epoch)}`).toBe(true);
      expect(numbers(json.history), `${cycle}: training_history.json`).toEqual(numbers(ref.history.slice(0, k)));
      // Written after final_model.pt in each epoch: never ahead of it.
      expect(k, `${cycle}: training_history.json is ahead of final_model.pt`).toBeLessThanOrEqual(got.final ?? 0);
    }
    if (existsSync(join(out, 'report.html'))) expect(readFileSync(join(out, 'report.html'), 'utf8')).toMatch(/<\/html>\s*$/);
    // best_model.pt is written before final_model.pt in an epoch: at most one epoch ahead.
    if (got.best !== undefined) expect(got.best).toBeLessThanOrEqual((got.final ?? 0) + 1);
    return { final: got.final ?? 0, history: k };
  }

  it(`survives ${CYCLES} random SIGKILLs, each resumed from final_model.pt, with nothing lost`, async () => {
    const began = performance.now();
    mkdirSync(out);
    const random = mulberry32(0x23_0003);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    // The epochs whose val_loss is a new best: those that write best_model.pt.
    const improving = ref.history.filter((e, i) => ref.history.slice(0, i).every((p) => e.val_loss < p.val_loss)).map((e) => e.epoch);
    const kinds = { startup: 0, training: 0, write: 0 };
    const aimed = Object.fromEntries(FILES.map((f) => [f, 0])) as Record<File, number>;
    const landed = Object.fromEntries(FILES.map((f) => [f, 0])) as Record<File, number>;
    let aimedLanded = 0;  // kills aimed at a write that came while its temporary file was there
    let onTemp: (file: File, name: string, pid: number) => void = () => {};
    const watcher: FSWatcher = watch(out, (_, name) => {
      const m = name ? TEMP.exec(name) : null;
      if (m && (FILES as readonly string[]).includes(m[1])) onTemp(m[1] as File, name!, Number(m[2]));
    });
    let done = 0;  // epochs in final_model.pt
    let cycle = 0;
    let completed = 0;  // runs that ended before their kill came
    try {
      while (cycle < CYCLES) {
        expect(completed, 'runs that completed before their kill').toBeLessThan(CYCLES);
        const resume = existsSync(join(out, 'final_model.pt'));
        const left = EPOCHS - done;
        // What this run's kill aims at: the start, a moment of training, or the n-th write of a file, of those this
        // run makes: best_model.pt at the next improving epoch (when one of the next two is), final_model.pt or
        // training_history.json after one of the next two epochs, or at the end training_history.json and
        // report.html. The last kill aims at report.html.
        let aim: { kind: 'startup' | 'training' } | { kind: 'write'; file: File; nth: number };
        const r = random();
        if (cycle === CYCLES - 1) aim = { kind: 'write', file: 'report.html', nth: 1 };
        else if (r < 0.15) aim = { kind: 'startup' };
        else if (r < 0.45) aim = { kind: 'training' };
        else if (left === 0) aim = { kind: 'write', file: pick(['report.html', 'training_history.json'] as const), nth: 1 };
        else {
          let file: File = pick(['best_model.pt', 'final_model.pt', 'training_history.json'] as const);
          if (file === 'best_model.pt' && !improving.some((e) => e > done && e <= done + 2)) file = 'final_model.pt';
          aim = { kind: 'write', file, nth: file === 'best_model.pt' ? 1 : 1 + Math.floor(random() * Math.min(2, left)) };
        }
        const p = run(resume ? [...flags(out), '--resume', join(out, 'final_model.pt')] : flags(out));
        const pid = p.child.pid!;
        const seen = new Set<string>();
        onTemp = (file, name, from) => {
          if (aim.kind !== 'write' || from !== pid || file !== aim.file || seen.has(name)) return;
          seen.add(name);
          if (seen.size === aim.nth) p.child.kill('SIGKILL');
        };
        if (aim.kind === 'startup') void sleep(random() * ref.startupMs).then(() => p.child.kill('SIGKILL'));
        if (aim.kind === 'training') {
          const delay = random() * Math.min(2.5, left + 0.5) * ref.epochMs;
          void p.rows.then(() => sleep(delay)).then(() => p.child.kill('SIGKILL'));
        }
        const end = await p.done;
        const label = `kill ${cycle + 1} (${aim.kind}${aim.kind === 'write' ? ` ${aim.file} #${aim.nth}` : ''}, from epoch ${done})`;
        if (end.code === 0) {
          completed++;  // it finished first: its files are checked, and the next run is killed
          done = (await checkWhole(`${label}, completed`)).final;
          continue;
        }
        expect(end.signal, `${label}: the run failed (exit ${end.code}): ${end.stderr}`).toBe('SIGKILL');
        cycle++;
        kinds[aim.kind]++;
        if (aim.kind === 'write') aimed[aim.file]++;
        // A temporary file of the killed process still there: the kill came in the middle of that write.
        for (const t of temps(out)) {
          const m = TEMP.exec(t)!;
          if (Number(m[2]) !== pid) continue;
          landed[m[1] as File]++;
          if (aim.kind === 'write' && m[1] === aim.file) aimedLanded++;
        }
        const state = await checkWhole(label);
        expect(state.final, `${label}: final_model.pt went back`).toBeGreaterThanOrEqual(done);
        done = state.final;
      }
      // The last run goes on to the end.
      const last = run([...flags(out), '--resume', join(out, 'final_model.pt')]);
      const end = await last.done;
      expect(end.code, end.stderr).toBe(0);
    } finally {
      watcher.close();
    }

    await checkWhole('the completed run');
    const json = JSON.parse(readFileSync(join(out, 'training_history.json'), 'utf8'));
    expect(json.history.map((e: Entry) => e.epoch)).toEqual(ref.history.map((e) => e.epoch));
    // Epochs of the unbroken run that are not in the history with the same numbers.
    const have = new Set(numbers(json.history).map((e) => JSON.stringify(e)));
    const lost = numbers(ref.history).filter((e) => !have.has(JSON.stringify(e))).length;
    const count = (c: Record<File, number>) => FILES.map((f) => `${f} ${c[f]}`).join(', ');
    console.log(`kill-resume: ${CYCLES} cycles of SIGKILL and resume in ${((performance.now() - began) / 1000).toFixed(1)} s: ` +
      `${kinds.startup} kills at start-up, ${kinds.training} mid-training, ${kinds.write} at a write (${count(aimed)}), ${aimedLanded} of ` +
      `which landed during it; temporary files left by all kills: ${count(landed)}; epochs lost ${lost} of ${EPOCHS}; runs that ended before their kill: ${completed}`);
    expect(numbers(json.history)).toEqual(numbers(ref.history));
    for (const key of ['best_val_loss', 'scores', 'baselines', 'final_params']) expect(json[key], key).toEqual(ref.json[key]);
    expect(temps(out)).toEqual([]);
    for (const file of ['best_model.pt', 'final_model.pt'] as const) {
      const ckpt = await torch.load<Checkpoint>(join(out, file));
      const want = file === 'best_model.pt' ? ref.best : ref.final;
      expect(ckpt.epoch, file).toBe(want.epoch);
      // Bitwise: a resumed CPU run on one thread computes what the unbroken one did.
      for (const [k, t] of Object.entries(ckpt.model_state_dict)) expect(t.sub(want.model_state_dict[k]).abs().max().item(), `${file} ${k}`).toBe(0);
    }
    const writes = kinds.write;
    expect(writes, 'kills aimed at writes').toBeGreaterThanOrEqual(5);
    // The kill comes ~1 ms after the temporary file appears, while the write (and its fsync) goes on: most land.
    expect(aimedLanded, 'kills aimed at a write that landed during it').toBeGreaterThan(0);
  }, 150_000);

  it('the completed run\'s checkpoints load in PyTorch (strict) and predict as lvmtorch does', async (ctx) => {
    needPython(ctx);
    if (!existsSync(join(out, 'report.html'))) ctx.skip('the kill-and-resume run did not complete (see the test before)');
    torch.manualSeed(0);
    const x = torch.randn([3, 5, 64]);
    const jobs = [];
    for (const file of ['best_model.pt', 'final_model.pt']) {
      await torch.saveTorchFile({ x }, join(out, `x-${file}`));
      const ckpt = await torch.load<Checkpoint>(join(out, file));
      jobs.push({ job: 'check', file, inputs: `x-${file}`, kind: 'lstm', config: ckpt.model_config, ckpt });
    }
    const answers = runPython<{ keys: string[]; epoch: number }[]>('checkpoint_reference.py',
      { dir: out, jobs: jobs.map(({ ckpt: _c, ...j }) => j) });
    for (const [i, { file, inputs, ckpt }] of jobs.entries()) {
      expect(answers[i].epoch).toBe(ckpt.epoch);
      expect(answers[i].keys).toEqual(expect.arrayContaining(['epoch', 'model_state_dict', 'optimizer_state_dict', 'history', 'best']));
      const model = models.fromCheckpoint(ckpt as unknown as Record<string, unknown>);
      const theirs = (await torch.load<{ pred: Tensor }>(join(out, `${inputs}.out.pt`))).pred;
      expect(model.eval().predict(x).sub(theirs).abs().max().item(), file).toBeLessThan(1e-5);
      model.dispose();
    }
  }, 60_000);
});

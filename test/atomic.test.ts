// writeFileAtomic's housekeeping (issue 23): the temporary files that killed saves leave are removed by the next
// save into their folder unless their process lives, and a write that fails for lack of room names the file. The
// atomicity itself (the old file survives a failed write, concurrent writers) is in io-zip.test.ts, SIGKILL during
// training in kill-resume.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { writeFileAtomic, writeFileAtomicSync } from '../dist/formats/index.js';

const root = mkdtempSync(join(tmpdir(), 'lvmtorch-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => {
  const d = join(root, `d${++dirs}`);
  mkdirSync(d);
  return d;
};
const WRITER = fileURLToPath(new URL('./helpers/full-disk-writer.mjs', import.meta.url));

// The pid of a process that has exited (and been reaped): process.kill(pid, 0) says ESRCH for it.
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  return pid;
}

describe('temporary files of killed saves', () => {
  it('the next save into the folder removes those of dead processes (any target\'s) and keeps a live process\'s', async () => {
    const dir = newDir();
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const dead = deadPid();
      const names = {
        deadSame: `.best_model.pt.${dead}.0123456789ab.tmp`,
        deadOther: `.report.html.${dead}.abcdef012345.tmp`,
        // This process's pid, in a file it does not have open: a killed process's that had the same pid.
        ownNotOpen: `.final_model.pt.${process.pid}.00000000beef.tmp`,
        live: `.best_model.pt.${sleeper.pid}.fedcba987654.tmp`,
        // Not a name writeFileAtomic gives: never touched.
        notOurs: ['notes.tmp', `.best_model.pt.${dead}.xyz.tmp`, `best_model.pt.${dead}.0123456789ab.tmp`],
      };
      for (const n of [names.deadSame, names.deadOther, names.ownNotOpen, names.live, ...names.notOurs]) writeFileSync(join(dir, n), 'half');
      await writeFileAtomic(join(dir, 'best_model.pt'), (fd) => { writeFileSync(fd, 'whole'); });
      const left = readdirSync(dir).sort();
      expect(left).toEqual(['best_model.pt', names.live, ...names.notOurs].sort());
      expect(readFileSync(join(dir, 'best_model.pt'), 'utf8')).toBe('whole');
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('a save does not remove the temporary file of another save of this process that is under way', async () => {
    const dir = newDir();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slow = writeFileAtomic(join(dir, 'final_model.pt'), async (fd) => {
      writeFileSync(fd, 'slow ');
      await gate;  // meanwhile another save into the folder runs
      writeFileSync(fd, 'and whole');
    });
    writeFileAtomicSync(join(dir, 'training_history.json'), (fd) => writeFileSync(fd, '{}'));
    expect(readdirSync(dir).filter((f) => f.startsWith('.final_model.pt.'))).toHaveLength(1);
    release();
    await slow;
    expect(readFileSync(join(dir, 'final_model.pt'), 'utf8')).toBe('slow and whole');
    expect(readdirSync(dir).sort()).toEqual(['final_model.pt', 'training_history.json']);
  });
});

describe('a write that fails for lack of room', () => {
  interface Attempt {
    what: 'checkpoint' | 'history';
    error: { message: string; code: string | null; cause: string | null } | null;
    temps: string[];
    intact: boolean;
  }

  // A checkpoint (tensor bytes written natively) and training_history.json (written from JS), each too big for
  // where it goes: both fail naming the file, with the system's code, and leave the old file and no temporary one.
  function expectNamed(results: Attempt[], dir: string, code: string, text: RegExp): void {
    expect(results.map((r) => r.what)).toEqual(['checkpoint', 'history']);
    for (const r of results) {
      const file = join(dir, r.what === 'checkpoint' ? 'model.pt' : 'training_history.json');
      expect(r.error, `${r.what}: the write did not fail`).not.toBeNull();
      expect(r.error!.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: could not write \\(.*\\)$`));
      expect(r.error!.message).toMatch(text);
      expect(r.error!.code).toBe(code);
      expect(r.error!.cause).toMatch(text);
      expect(r.temps).toEqual([]);
      expect(r.intact, `${r.what}: the old file changed`).toBe(true);
    }
    // The native writer's message says where it failed, now after the file's name.
    expect(results[0].error!.message).toMatch(/could not write \(write at offset \d+: /);
  }

  it('a full disk (a 256 KiB tmpfs): ENOSPC, naming the file', (ctx) => {
    // A tmpfs of its own needs root (mount) in a mount namespace of its own (unshare -m), which vanishes with it.
    const dir = newDir();
    const probe = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=256k tmpfs '${dir}'`], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      ctx.skip(`cannot mount a tmpfs of our own here (unshare -m + mount need root): ${probe.error?.message ?? probe.stderr.trim()}`);
    }
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=256k tmpfs '${dir}' && exec '${process.execPath}' '${WRITER}' '${dir}'`],
      { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as Attempt[];
    console.log(`full tmpfs: ${results.map((x) => x.error!.message).join(' | ')}`);
    expectNamed(results, dir, 'ENOSPC', /no space left on device/i);
    expect(readdirSync(dir)).toEqual([]);  // it was all on the tmpfs, gone with its namespace
  });

  it('a file size limit (ulimit -f): EFBIG, naming the file', () => {
    const dir = newDir();
    const r = spawnSync('sh', ['-c', `ulimit -f 64 && exec '${process.execPath}' '${WRITER}' '${dir}'`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as Attempt[];
    expectNamed(results, dir, 'EFBIG', /file too large/i);
    expect(existsSync(join(dir, 'model.pt'))).toBe(true);
  });
});

// One long-lived Python process per test file, for tests that ask PyTorch many questions: importing torch takes
// about 2 s here, so a process per question would cost more than the tests. The script, run with `--serve`,
// reads one JSON request a line on stdin and answers each with one JSON line on stdout, in order.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { PYTHON } from './python.js';

/**
 * Why Python with these packages cannot be run here, or null when it can: a quick check that finds the packages
 * without importing them (an import of torch costs ~2 s; the server pays it once).
 */
export function pythonMissing(modules = ['torch', 'numpy']): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found (install python3-torch, or torch into the project's .venv)`;
  const probe = `import importlib.util, sys; m = [n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]; print(' '.join(m))`;
  const r = spawnSync(PYTHON, ['-c', probe, ...modules], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} failed: ${r.stderr.trim().split('\n').pop()}`;
  const lacking = r.stdout.trim();
  return lacking ? `${PYTHON} lacks ${lacking}` : null;
}

export class PythonServer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  #buffered = '';
  #stderr = '';
  #exited: string | null = null;

  /** Starts test/python/<script> --serve. */
  constructor(script: string) {
    const path = fileURLToPath(new URL(`../python/${script}`, import.meta.url));
    this.#child = spawn(PYTHON, [path, '--serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8');
    this.#child.stderr.setEncoding('utf8');
    this.#child.stdout.on('data', (chunk: string) => this.#onData(chunk));
    this.#child.stderr.on('data', (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-20_000)));
    this.#child.on('exit', (code, signal) => {
      this.#exited = `${script} exited (${signal ?? code}): ${this.#stderr}`;
      for (const w of this.#waiting.splice(0)) w.reject(new Error(this.#exited));
    });
  }

  /** Sends one request; resolves with the answer, rejects with the Python traceback when it failed. */
  call<T = unknown>(request: unknown): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(this.#exited));
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push({ resolve: resolve as (v: unknown) => void, reject });
      this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  close(): void {
    if (!this.#exited) this.#child.stdin.end();
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    for (let nl = this.#buffered.indexOf('\n'); nl >= 0; nl = this.#buffered.indexOf('\n')) {
      const line = this.#buffered.slice(0, nl);
      this.#buffered = this.#buffered.slice(nl + 1);
      const w = this.#waiting.shift();
      if (!w) continue;
      const answer = JSON.parse(line) as { ok?: unknown; error?: string };
      if (answer.error !== undefined) w.reject(new Error(`Python: ${answer.error}`));
      else w.resolve(answer.ok);
    }
  }
}

// Raw HTTP for tests that must choose every byte of a request (method, content type or none, a body that is not
// JSON), which fetch does not allow, and `lvmtorch serve` started as its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface RawAnswer { status: number; headers: Record<string, string | string[] | undefined>; text: string; ms: number }

export const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

/** One request with exactly these method, headers and body; rejects only when the connection fails. */
export function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer,
  timeoutMs = 30_000): Promise<RawAnswer> {
  const url = new URL(path, base);
  const t0 = performance.now();
  // A body always with its length: Node sends a GET's or DELETE's body with neither a length nor chunks.
  const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers: all, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** `lvmtorch serve ARGS` on a free port; resolves once it listens. */
export function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearInterval(poll);
        resolve({ child, url: m[1], output: () => out });
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`serve exited (${code}): ${out}`));
    });
  });
}

// The house's layers: lib/'s import graph (value and type imports alike, read from the sources) has no circles,
// so each module can be read after the ones it imports, and the formats layer imports nothing of the torch
// layer; importing the package's root loads no HTTP stack.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const lib = fileURLToPath(new URL('../lib', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

// file -> the files of lib/ it imports or re-exports from (relative specifiers; './x.js' is './x.ts').
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(lib)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gm)]
      .map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
    graph.set(file, deps);
  }
  return graph;
}

// Tarjan's strongly connected components of more than one file, and files that import themselves.
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) out.push(component.map((f) => relative(lib, f)).sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('lib/\'s import graph', () => {
  const graph = importGraph();

  it('is read: every relative import names a file of lib/', () => {
    expect(graph.size).toBeGreaterThan(100);
    const edges = [...graph.values()].flat();
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.filter((f) => !graph.has(f)).map((f) => relative(lib, f))).toEqual([]);
  });

  it('finds a circle when there is one (the check itself)', () => {
    const a = join(lib, 'a.ts'), b = join(lib, 'b.ts'), c = join(lib, 'c.ts');
    expect(circles(new Map([[a, [b]], [b, [a]], [c, [a]]]))).toEqual([['a.ts', 'b.ts']]);
  });

  it('has no circles', () => {
    expect(circles(graph)).toEqual([]);
  });

  // The folders are the layers, each importing only those below it: lib/errors.ts (the error base), formats/ (files,
  // no libtorch), torch/ (the addon, Tensor, ops, io, optim, nn, distributed), lvm/ (models, loss, data, train,
  // serve), then cli/ and the root entry point.
  it('has layers the folders show: no file imports a layer above its own', () => {
    const order = ['errors.ts', 'formats', 'torch', 'lvm', 'cli', 'index.ts'];
    const layer = (f: string): number => order.indexOf(relative(lib, f).split('/')[0]);
    const upward = [...graph].flatMap(([file, deps]) => deps.filter((d) => layer(d) > layer(file))
      .map((d) => `${relative(lib, file)} -> ${relative(lib, d)}`));
    expect([...graph.keys()].filter((f) => layer(f) < 0).map((f) => relative(lib, f))).toEqual([]);
    expect(upward).toEqual([]);
    // The check itself: the root reaches every layer but the CLI.
    expect(new Set([...reachable(graph, join(lib, 'index.ts'))].map(layer))).toEqual(new Set([0, 1, 2, 3, 5]));
  });

  // `lvmtorch inspect` reads files with no libtorch: what it reaches is the formats layer and itself.
  it('has an inspect verb that reaches only the formats layer', () => {
    const reached = [...reachable(graph, join(lib, 'cli/inspect.ts'))].map((f) => relative(lib, f));
    expect(reached.length).toBeGreaterThan(20);
    expect(reached.filter((f) => !f.startsWith('formats/') && f !== 'errors.ts' && f !== 'cli/inspect.ts')).toEqual([]);
  });
});

function reachable(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>([from]);
  const todo = [from];
  while (todo.length) for (const next of graph.get(todo.pop()!) ?? []) if (!seen.has(next)) todo.push(next), seen.add(next);
  return seen;
}

// The CommonJS packages a fresh Node process has loaded (require.cache) after importing one of dist's entry points.
function packagesLoadedBy(entry: string): string[] {
  const url = new URL(`../dist/${entry}`, import.meta.url).href;
  const code = `await import(${JSON.stringify(url)});
    const { createRequire } = await import('node:module');
    const names = Object.keys(createRequire(import.meta.url).cache).map((p) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(p)?.[1]);
    console.log(JSON.stringify([...new Set(names.filter(Boolean))].sort()));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`importing ${entry} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

describe('entry points', () => {
  const HTTP = ['fastify', '@fastify/cors', 'prom-client'];

  it("'lvmtorch' loads no HTTP stack; 'lvmtorch/serve' does (the check itself)", () => {
    const root = packagesLoadedBy('index.js');
    expect(root.filter((p) => HTTP.includes(p))).toEqual([]);
    expect(packagesLoadedBy('lvm/serve/index.js')).toEqual(expect.arrayContaining(['fastify', 'prom-client']));
  });

  // The root is what a user scripts with, PyTorch's names under `torch`; the rest lives in the namespaces.
  it("'lvmtorch' exports a small API with PyTorch's names", async () => {
    const root = await import('../dist/index.js');
    expect(Object.keys(root).length).toBeLessThanOrEqual(30);
    expect(typeof root.torch.load).toBe('function');
    expect(typeof root.torch.save).toBe('function');
    expect(typeof root.torch.optim.AdamW).toBe('function');
    expect(typeof root.torch.optim.lrScheduler.ReduceLROnPlateau).toBe('function');
    expect(typeof root.torch.nn.utils.clipGradNorm_).toBe('function');
    expect(root.nn).toBe(root.torch.nn);
    expect(root.optim).toBe(root.torch.optim);
    // Internals stay out: the formats' machinery, test oracles, the CLI's tables.
    for (const name of ['ZipReader', 'writeFileAtomic', 'compositeLossReference', 'MONITORS', 'summaryRows', 'loadTorchFile']) {
      expect(name in root, name).toBe(false);
    }
  });

  it('package.json exports the root, serve, distributed and formats, each an existing module with types', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, { import: string; types: string } | string> };
    expect(Object.keys(pkg.exports)).toEqual(['.', './serve', './distributed', './formats', './package.json']);
    for (const [name, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      for (const file of [target.import, target.types]) {
        expect(() => readFileSync(new URL(`../${file}`, import.meta.url)), `${name}: ${file}`).not.toThrow();
      }
    }
  });
});

// The house's layers: lib/'s import graph (value and type imports alike, read from the sources) has no circles,
// so each module can be read after the ones it imports.
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
});

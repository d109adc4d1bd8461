// Finds libtorch the same way at build time (scripts/libtorch-paths.mjs, read by CMake and node-gyp) and at
// load time (lib/native.ts), so a binary is always loaded against the libtorch it was built for.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export type LibtorchSource = 'LIBTORCH' | 'python' | 'system';

export interface Libtorch {
  source: LibtorchSource;
  /** Folder holding include/ and lib/ (a libtorch folder or a Python `torch` package folder). */
  root: string;
  /** Folder holding the shared libraries. */
  libDir: string;
  /** Folder holding the CMake package, as CMAKE_PREFIX_PATH wants it. */
  cmakePrefix: string;
  includeDirs: string[];
  /** As the install reports it, e.g. "1.13.0" or "2.11.0+cu130". */
  version: string;
  /** libtorch_cuda is present. */
  cuda: boolean;
  /** The libstdc++ ABI libtorch was built with (-D_GLIBCXX_USE_CXX11_ABI=...), as its CMake package says. */
  cxx11Abi: 0 | 1;
}

export interface SearchStep {
  where: string;
  found: boolean;
  detail: string;
}

export interface SearchResult {
  libtorch: Libtorch | null;
  steps: SearchStep[];
}

const SYSTEM_CMAKE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/cmake/Torch',
  '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/local/lib/cmake/Torch',
  '/usr/lib/cmake/Torch',
  '/usr/share/cmake/Torch',
];

/** "1.13.0a0" and "2.11.0+cu130" both give "1.13" / "2.11": ABI compatibility is decided at this level. */
export function majorMinor(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

export function findLibtorch(env: NodeJS.ProcessEnv = process.env): SearchResult {
  const steps: SearchStep[] = [];
  const tryFolder = (where: string, folder: string, source: LibtorchSource): Libtorch | null => {
    const probe = probeFolder(folder, source);
    steps.push({ where, found: typeof probe !== 'string', detail: typeof probe === 'string' ? probe : folder });
    return typeof probe === 'string' ? null : probe;
  };

  if (env.LIBTORCH) {
    return { libtorch: tryFolder('LIBTORCH', env.LIBTORCH, 'LIBTORCH'), steps };
  }
  steps.push({ where: 'LIBTORCH', found: false, detail: 'not set' });

  if (env.LIBTORCH_USE_PYTORCH === '1') {
    const folder = pythonTorchFolder(env);
    if (typeof folder === 'string') {
      const found = tryFolder(`Python torch (${pythonOf(env)})`, folder, 'python');
      if (found) return { libtorch: found, steps };
    } else {
      steps.push({ where: `Python torch (${pythonOf(env)})`, found: false, detail: folder.error });
    }
  } else {
    steps.push({ where: 'Python torch', found: false, detail: 'skipped: LIBTORCH_USE_PYTORCH is not 1' });
  }

  for (const dir of SYSTEM_CMAKE_DIRS) {
    if (!existsSync(join(dir, 'TorchConfig.cmake'))) {
      steps.push({ where: `system ${dir}`, found: false, detail: 'no TorchConfig.cmake' });
      continue;
    }
    const found = probeSystem(dir);
    steps.push({ where: `system ${dir}`, found: typeof found !== 'string', detail: typeof found === 'string' ? found : dir });
    if (typeof found !== 'string') return { libtorch: found, steps };
  }
  return { libtorch: null, steps };
}

function pythonOf(env: NodeJS.ProcessEnv): string {
  return env.LIBTORCH_PYTHON ?? 'python3';
}

// Asks Python where torch lives without importing it (an import takes seconds and may touch a GPU).
function pythonTorchFolder(env: NodeJS.ProcessEnv): string | { error: string } {
  const code = "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')";
  try {
    const out = execFileSync(pythonOf(env), ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return out || { error: 'this Python has no torch package' };
  } catch (e) {
    return { error: `could not run it: ${(e as Error).message.split('\n')[0]}` };
  }
}

// A libtorch folder (lib/, include/, share/cmake/Torch) or a Python torch package (same, plus version.py).
function probeFolder(folder: string, source: LibtorchSource): Libtorch | string {
  const libDir = join(folder, 'lib');
  const cmakeDir = join(folder, 'share', 'cmake', 'Torch');
  if (!existsSync(folder)) return `${folder} does not exist`;
  if (!existsSync(libDir) || !hasLib(libDir, 'libtorch_cpu')) return `${folder} has no lib/libtorch_cpu.so`;
  if (!existsSync(join(cmakeDir, 'TorchConfig.cmake'))) return `${folder} has no share/cmake/Torch/TorchConfig.cmake`;
  const version = folderVersion(folder) ?? cmakeVersion(cmakeDir);
  if (!version) return `${folder}: cannot tell its version (no version.py, build-version or TorchConfigVersion.cmake)`;
  const include = join(folder, 'include');
  return {
    source,
    root: folder,
    libDir,
    cmakePrefix: join(folder, 'share', 'cmake'),
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    version,
    cuda: hasLib(libDir, 'libtorch_cuda'),
    cxx11Abi: cxx11Abi(cmakeDir),
  };
}

// Debian-style: headers in /usr/include, libraries beside the CMake folder's parent.
function probeSystem(cmakeDir: string): Libtorch | string {
  const libDir = join(cmakeDir, '..', '..');
  const version = cmakeVersion(cmakeDir);
  if (!version) return `${cmakeDir}: no version in TorchConfigVersion.cmake`;
  if (!hasLib(libDir, 'libtorch_cpu')) return `${libDir} has no libtorch_cpu.so`;
  const include = '/usr/include';
  return {
    source: 'system',
    root: '/usr',
    libDir: normalise(libDir),
    cmakePrefix: normalise(join(cmakeDir, '..')),
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    version,
    cuda: hasLib(libDir, 'libtorch_cuda'),
    cxx11Abi: cxx11Abi(cmakeDir),
  };
}

function normalise(p: string): string {
  return join(p, '.');
}

function hasLib(dir: string, stem: string): boolean {
  try {
    return readdirSync(dir).some((f) => f === `${stem}.so` || f.startsWith(`${stem}.so.`) || f === `${stem}.dylib`);
  } catch {
    return false;
  }
}

function folderVersion(folder: string): string | null {
  const py = join(folder, 'version.py');
  if (existsSync(py)) {
    const m = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(py, 'utf8'));
    if (m) return m[1];
  }
  const bv = join(folder, 'build-version');
  if (existsSync(bv)) return readFileSync(bv, 'utf8').trim();
  return null;
}

function cxx11Abi(cmakeDir: string): 0 | 1 {
  const file = join(cmakeDir, 'TorchConfig.cmake');
  const m = existsSync(file) ? /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(file, 'utf8')) : null;
  return m && m[1] === '0' ? 0 : 1;
}

function cmakeVersion(cmakeDir: string): string | null {
  const file = join(cmakeDir, 'TorchConfigVersion.cmake');
  if (!existsSync(file)) return null;
  const m = /set\(PACKAGE_VERSION\s+"([^"]+)"\)/.exec(readFileSync(file, 'utf8'));
  return m ? m[1] : null;
}

const LIBRARY_STEMS = ['libc10', 'libtorch_cpu', 'libc10_cuda', 'libtorch_cuda', 'libtorch'];

/** The libraries to link, as linker flags (-lc10 -ltorch_cpu ...), for builds without CMake (binding.gyp). */
export function linkFlags(lt: Libtorch): string[] {
  return libtorchLibraries(lt).map((path) => `-l${/lib([^/]+?)\.so/.exec(path)![1]}`);
}

/** The shared libraries to load, in dependency order, before the addon itself. */
export function libtorchLibraries(lt: Libtorch): string[] {
  const names = LIBRARY_STEMS;
  const files = readdirSync(lt.libDir);
  const out: string[] = [];
  for (const stem of names) {
    // Any of a library's names will do: the dynamic linker files it under its own soname.
    const match = files.filter((f) => f === `${stem}.so` || f.startsWith(`${stem}.so.`)).sort((a, b) => a.length - b.length);
    if (match.length > 0) out.push(join(lt.libDir, match[0]));
  }
  return out;
}

export function describeSearch(result: SearchResult): string {
  return result.steps.map((s) => `  ${s.found ? 'found' : '-'} ${s.where}: ${s.detail}`).join('\n');
}

// Finds libtorch the same way at build time (scripts/libtorch-paths.mjs, read by CMake and node-gyp) and at
// load time (lib/torch/native.ts), so a binary is always loaded against the libtorch it was built for. In order:
//   1. LIBTORCH: a libtorch folder, a Python `torch` package folder, or a CMake package folder (Debian's);
//   2. a Python's `torch` package (LIBTORCH_PYTHON, else this package's own .venv, else python3 on PATH), found
//      without importing torch (find_spec and version.py: ~0.02 s against ~2 s for `import torch`); at load time
//      only when lvmtorch has a binary for its version (a CUDA torch keeps its GPU), else it gives way to
//   3. at load time, the libtorch carried in npm (the optional dependency @lvmtorch/libtorch-<platform>-<arch>:
//      libraries only, nothing to build against);
//   4. the system's CMake package (Debian's libtorch-dev), unless LIBTORCH_USE_SYSTEM=0.
// A Python torch that gave way is still taken when nothing follows, so that the error names the binary it needs.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LibtorchSource = 'LIBTORCH' | 'python' | 'bundled' | 'system';

export interface Libtorch {
  source: LibtorchSource;
  /** Folder holding include/ and lib/ (a libtorch folder or a Python `torch` package folder). */
  root: string;
  /** Folder holding the shared libraries. */
  libDir: string;
  /** Folder holding the CMake package, as CMAKE_PREFIX_PATH wants it ('' for the bundled one: nothing to build against). */
  cmakePrefix: string;
  /** The header folders (none for the bundled one). */
  includeDirs: string[];
  /** As the install reports it, e.g. "1.13.0" or "2.14.1+cu130". */
  version: string;
  /** libtorch_cuda is present. */
  cuda: boolean;
  /** The libstdc++ ABI libtorch was built with (-D_GLIBCXX_USE_CXX11_ABI=...), as its CMake package says. */
  cxx11Abi: 0 | 1;
  /** The Python whose `torch` this is, when one is known: the tests compute their references with it. */
  python: string | null;
  /** The binary variant this libtorch needs, e.g. "torch-2.13-cpu" (one per libtorch minor, CPU or CUDA). */
  variant: string;
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

export interface FindOptions {
  /**
   * At load time: whether lvmtorch has a binary for a variant. A Python torch without one then gives way to the
   * libtorch carried in npm; without this (at build time) that one is never taken: it has no headers.
   */
  hasBinary?: (variant: string) => boolean;
}

/** The npm package that carries libtorch for this platform (packages/libtorch-linux-x64 in the repository). */
export const BUNDLED_PACKAGE = `@lvmtorch/libtorch-${process.platform}-${process.arch}`;

const SYSTEM_CMAKE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/cmake/Torch',
  '/usr/lib/aarch64-linux-gnu/cmake/Torch',
  '/usr/local/lib/cmake/Torch',
  '/usr/lib/cmake/Torch',
  '/usr/share/cmake/Torch',
];

// The folder of this package (dist/torch/libtorch/ -> the package root), where a source checkout keeps its .venv.
/** The installed package's folder (dist/torch/libtorch/ is three below it). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** "1.13.0a0" and "2.11.0+cu130" both give "1.13" / "2.11": ABI compatibility is decided at this level. */
export function majorMinor(version: string): string {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? `${m[1]}.${m[2]}` : version;
}

/** The name of the binary variant a libtorch needs: "torch-<major.minor>-<cpu|cuda>". */
export function variantName(version: string, cuda: boolean): string {
  return `torch-${majorMinor(version)}-${cuda ? 'cuda' : 'cpu'}`;
}

export function findLibtorch(env: NodeJS.ProcessEnv = process.env, opts: FindOptions = {}): SearchResult {
  const steps: SearchStep[] = [];
  const record = (where: string, probe: Libtorch | string): Libtorch | null => {
    steps.push({ where, found: typeof probe !== 'string', detail: typeof probe === 'string' ? probe : probe.root });
    return typeof probe === 'string' ? null : probe;
  };

  if (env.LIBTORCH) return { libtorch: record('LIBTORCH', probeAny(env.LIBTORCH)), steps };
  steps.push({ where: 'LIBTORCH', found: false, detail: 'not set' });

  let gaveWay: Libtorch | null = null;
  if (env.LIBTORCH_USE_PYTORCH === '0') {
    steps.push({ where: 'Python torch', found: false, detail: 'skipped: LIBTORCH_USE_PYTORCH=0' });
  } else {
    for (const python of pythonsToAsk(env)) {
      const probe = probePython(python);
      if (typeof probe !== 'string' && opts.hasBinary && !opts.hasBinary(probe.variant)) {
        steps.push({ where: `Python torch (${python})`, found: false,
          detail: `${probe.root}: torch ${probe.version}, for which lvmtorch has no binary (${probe.variant}); passed over` });
        gaveWay ??= probe;
        continue;
      }
      const found = record(`Python torch (${python})`, probe);
      if (found) return { libtorch: found, steps };
    }
  }

  if (opts.hasBinary) {
    const probe = probeBundled();
    const fits = typeof probe === 'string' || opts.hasBinary(probe.variant);
    const found = record(`npm package ${BUNDLED_PACKAGE}`, fits ? probe : `${probe.root}: torch ${probe.version}, for which lvmtorch has no binary (${probe.variant})`);
    if (found) return { libtorch: found, steps };
  }

  if (env.LIBTORCH_USE_SYSTEM === '0') {
    steps.push({ where: 'system', found: false, detail: 'skipped: LIBTORCH_USE_SYSTEM=0' });
    return { libtorch: gaveWay, steps };
  }
  for (const dir of SYSTEM_CMAKE_DIRS) {
    const found = record(`system ${dir}`, existsSync(join(dir, 'TorchConfig.cmake')) ? probeCmakeDir(dir, 'system') : 'no TorchConfig.cmake');
    if (found) return { libtorch: found, steps };
  }
  return { libtorch: gaveWay, steps };
}

// The libtorch carried in npm: lib/ and libtorch.json (what scripts/build-libtorch-package.mjs took from the wheel),
// resolved from this package as Node resolves its dependencies.
function probeBundled(): Libtorch | string {
  let dir: string;
  try {
    dir = dirname(createRequire(join(packageRoot, 'package.json')).resolve(`${BUNDLED_PACKAGE}/package.json`));
  } catch {
    return 'not installed (npm installs it with lvmtorch on Linux x64 with glibc, unless optional dependencies are omitted)';
  }
  const meta = join(dir, 'libtorch.json');
  // A checkout links the package folder without its libraries (they are not committed).
  if (!existsSync(meta)) return `${dir} holds no libraries (in a checkout: node scripts/build-libtorch-package.mjs)`;
  let info: { version?: unknown; cxx11Abi?: unknown };
  try {
    info = JSON.parse(readFileSync(meta, 'utf8')) as typeof info;
  } catch (e) {
    return `${meta} is unreadable: ${(e as Error).message}`;
  }
  if (typeof info.version !== 'string') return `${meta} names no version`;
  const libDir = join(dir, 'lib');
  if (!hasLib(libDir, 'libtorch_cpu')) return `${dir} has no lib/libtorch_cpu.so`;
  return describe({ source: 'bundled', root: dir, libDir, cmakePrefix: '', includeDirs: [], version: info.version, cxx11Abi: info.cxx11Abi === 0 ? 0 : 1 });
}

// LIBTORCH_PYTHON alone when set; otherwise this package's .venv (a source checkout's, made by scripts/setup.sh)
// before the python3 on PATH, so that a checkout runs on the libtorch its setup installed.
function pythonsToAsk(env: NodeJS.ProcessEnv): string[] {
  if (env.LIBTORCH_PYTHON) return [env.LIBTORCH_PYTHON];
  const venv = join(packageRoot, '.venv', 'bin', 'python');
  return existsSync(venv) ? [venv, 'python3'] : ['python3'];
}

// Asks Python where torch lives without importing it (an import takes seconds and may touch a GPU), and which
// interpreter it is (python3 from PATH, made absolute, so that tests and benchmarks run the very same one).
function probePython(python: string): Libtorch | string {
  const code = "import importlib.util as u, sys; s = u.find_spec('torch'); print(sys.executable); print(s.submodule_search_locations[0] if s else '')";
  let executable: string;
  let folder: string;
  try {
    const out = execFileSync(python, ['-c', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    [executable, folder] = out.split('\n').map((l) => l.trim());
  } catch (e) {
    return `could not run it: ${(e as Error).message.split('\n')[0]}`;
  }
  if (!folder) return 'this Python has no torch package';
  if (isDebianSplitPackage(folder)) {
    return `${folder} is Debian's python3-torch, whose libraries are the system libtorch's (searched below)`;
  }
  const found = probeFolder(folder, 'python');
  // A venv's python must be named by its own path (a symlink): the venv is found from the path it runs as.
  return typeof found === 'string' ? found : { ...found, python: python.includes('/') ? resolve(python) : executable || python };
}

// Debian's python3-torch holds lib/ as symlinks into /usr/lib and no CMake package: libtorch-dev has those.
function isDebianSplitPackage(folder: string): boolean {
  const lib = join(folder, 'lib', 'libtorch_cpu.so');
  if (!existsSync(lib) || existsSync(join(folder, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) return false;
  return !realpathSync(lib).startsWith(realpathSync(folder));
}

// LIBTORCH may name a libtorch folder, a Python torch package, a CMake package folder (holding TorchConfig.cmake,
// as Debian's /usr/lib/x86_64-linux-gnu/cmake/Torch) or a prefix holding one (/usr).
function probeAny(path: string): Libtorch | string {
  if (!existsSync(path)) return `${path} does not exist`;
  if (existsSync(join(path, 'TorchConfig.cmake'))) return probeCmakeDir(path, 'LIBTORCH');
  const prefixed = SYSTEM_CMAKE_DIRS.filter((d) => d.startsWith('/usr/')).map((d) => join(path, d.slice('/usr/'.length)));
  const cmakeDir = prefixed.find((d) => existsSync(join(d, 'TorchConfig.cmake')));
  if (cmakeDir && !existsSync(join(path, 'share', 'cmake', 'Torch'))) return probeCmakeDir(cmakeDir, 'LIBTORCH');
  const found = probeFolder(path, 'LIBTORCH');
  return typeof found === 'string' ? found : { ...found, python: pythonOfPackage(path) };
}

// <prefix>/lib/pythonX.Y/site-packages/torch -> <prefix>/bin/pythonX.Y, when that interpreter is there.
function pythonOfPackage(folder: string): string | null {
  const m = /^(.*)\/lib\/(python\d+\.\d+)\/(site|dist)-packages\/torch\/?$/.exec(resolve(folder));
  if (!m) return null;
  for (const name of [m[2], 'python3', 'python']) {
    if (existsSync(join(m[1], 'bin', name))) return join(m[1], 'bin', name);
  }
  return null;
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
  return describe({
    source,
    root: folder,
    libDir,
    cmakePrefix: join(folder, 'share', 'cmake'),
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    version,
    cxx11Abi: cxx11Abi(cmakeDir),
  });
}

// Debian-style: headers in /usr/include, libraries beside the CMake folder's parent.
function probeCmakeDir(cmakeDir: string, source: LibtorchSource): Libtorch | string {
  const libDir = join(cmakeDir, '..', '..');
  const version = cmakeVersion(cmakeDir);
  if (!version) return `${cmakeDir}: no version in TorchConfigVersion.cmake`;
  if (!hasLib(libDir, 'libtorch_cpu')) return `${libDir} has no libtorch_cpu.so`;
  const prefix = join(libDir, '..', '..');
  const include = existsSync(join(prefix, 'include', 'torch')) ? join(prefix, 'include') : '/usr/include';
  return describe({
    source,
    root: join(prefix, '.'),
    libDir: join(libDir, '.'),
    cmakePrefix: join(cmakeDir, '..', '.'),
    includeDirs: [include, join(include, 'torch', 'csrc', 'api', 'include')],
    version,
    cxx11Abi: cxx11Abi(cmakeDir),
    python: debianPythonOf(libDir),
  });
}

// Debian's python3-torch is a system libtorch's own Python when its lib/ links into that libtorch's folder.
function debianPythonOf(libDir: string): string | null {
  const lib = '/usr/lib/python3/dist-packages/torch/lib/libtorch_cpu.so';
  if (!existsSync(lib) || !existsSync('/usr/bin/python3')) return null;
  return dirname(realpathSync(lib)) === realpathSync(libDir) ? '/usr/bin/python3' : null;
}

function describe(lt: Omit<Libtorch, 'cuda' | 'variant' | 'python'> & { python?: string | null }): Libtorch {
  const cuda = hasLib(lt.libDir, 'libtorch_cuda');
  return { ...lt, python: lt.python ?? null, cuda, variant: variantName(lt.version, cuda) };
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
  const libs = libtorchLibraries(lt).map((path) => `-l${/lib([^/]+?)\.so/.exec(path)![1]}`);
  // The addon calls nothing in libtorch_cuda: a linker that drops unneeded libraries would drop it, and with it
  // the registration of libtorch's CUDA kernels (as CMakeLists.txt says).
  return lt.cuda ? ['-Wl,--no-as-needed', ...libs, '-Wl,--as-needed'] : libs;
}

/** The shared libraries to load, in dependency order, before the addon itself. */
export function libtorchLibraries(lt: Libtorch): string[] {
  const files = readdirSync(lt.libDir);
  const out: string[] = [];
  for (const stem of LIBRARY_STEMS) {
    // Any of a library's names will do: the dynamic linker files it under its own soname.
    const match = files.filter((f) => f === `${stem}.so` || f.startsWith(`${stem}.so.`)).sort((a, b) => a.length - b.length);
    if (match.length > 0) out.push(join(lt.libDir, match[0]));
  }
  return out;
}

export function describeSearch(result: SearchResult): string {
  return result.steps.map((s) => `  ${s.found ? 'found' : '-'} ${s.where}: ${s.detail}`).join('\n');
}

#!/usr/bin/env node
// Fills packages/libtorch-linux-x64/ (the npm package that carries libtorch for lvmtorch's prebuilt binaries) from
// PyTorch's official CPU wheel: its four shared libraries unchanged, the licences the wheel ships, and libtorch.json
// (what it holds, for the loader: lib/torch/libtorch/find.ts). The libraries are never committed (434 MB).
//   node scripts/build-libtorch-package.mjs [--wheel torch-2.13.0+cpu-...whl]
// Without --wheel, pip downloads the wheel (as pip is configured: a local wheel store here; on a release machine
// PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu). Then `npm pack packages/libtorch-linux-x64`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = join(root, 'packages', 'libtorch-linux-x64');
const TORCH = '2.13.0+cpu';
// What lvmtorch's binaries load (lib/torch/libtorch/find.ts LIBRARY_STEMS) and what libtorch_cpu needs beside it.
const LIBRARIES = ['libc10.so', 'libtorch_cpu.so', 'libtorch.so', 'libgomp.so.1'];

const { values } = parseArgs({ options: { wheel: { type: 'string' } } });
const python = process.env.LIBTORCH_PYTHON ?? 'python3';
const scratch = mkdtempSync(join(tmpdir(), 'lvmtorch-libtorch-package-'));
try {
  const wheel = values.wheel ?? download();
  console.log(`wheel: ${wheel}`);
  const sha256 = await hashOf(wheel);
  for (const dir of ['lib', 'LICENSES']) rmSync(join(pkg, dir), { recursive: true, force: true });
  // Python's zipfile reads the wheel member by member (a wheel is a zip); no unzip needed on the machine.
  const extract = `
import json, os, re, shutil, sys, zipfile
wheel, pkg, libraries = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    version = re.search(r"__version__\\s*=\\s*'([^']+)'", z.read('torch/version.py').decode()).group(1)
    config = z.read('torch/share/cmake/Torch/TorchConfig.cmake').decode()
    abi = re.search(r'_GLIBCXX_USE_CXX11_ABI=([01])', config)
    for lib in libraries:
        os.makedirs(os.path.join(pkg, 'lib'), exist_ok=True)
        with z.open('torch/lib/' + lib) as src, open(os.path.join(pkg, 'lib', lib), 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.chmod(os.path.join(pkg, 'lib', lib), 0o755)
    licences = [n for n in names if re.match(r'torch-[^/]+\\.dist-info/licenses/.+[^/]$', n)]
    for n in licences:
        out = os.path.join(pkg, 'LICENSES', n.split('/licenses/', 1)[1])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(n) as src, open(out, 'wb') as dst:
            shutil.copyfileobj(src, dst)
print(json.dumps({'version': version, 'cxx11Abi': int(abi.group(1)) if abi else 1, 'licences': len(licences)}))
`;
  const got = JSON.parse(execFileSync(python, ['-c', extract, wheel, pkg, LIBRARIES.join(',')], { encoding: 'utf8' }));
  if (got.version !== TORCH) throw new Error(`${wheel} holds torch ${got.version}, not ${TORCH}`);
  writeFileSync(join(pkg, 'LICENSES', 'NOTICE.md'), notice());
  const meta = {
    version: got.version,
    variant: 'torch-2.13-cpu',
    cxx11Abi: got.cxx11Abi,
    libraries: LIBRARIES,
    wheel: wheel.split('/').pop(),
    sha256,
  };
  writeFileSync(join(pkg, 'libtorch.json'), `${JSON.stringify(meta, null, 2)}\n`);
  const mb = LIBRARIES.reduce((n, f) => n + readFileSync(join(pkg, 'lib', f)).length, 0) / 1e6;
  console.log(`${pkg}: torch ${got.version}, ${LIBRARIES.length} libraries (${mb.toFixed(0)} MB), ${got.licences} licence files`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function download() {
  execFileSync(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--dest', scratch, `torch==${TORCH}`],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  const found = readdirSync(scratch).filter((f) => f.endsWith('.whl'));
  if (found.length !== 1) throw new Error(`pip download gave ${found.length} wheels in ${scratch}`);
  return join(scratch, found[0]);
}

function hashOf(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

function notice() {
  return `# What this package carries, and under which licences

From PyTorch's wheel torch-${TORCH} (https://pytorch.org), unchanged:

- \`lib/libtorch_cpu.so\`, \`lib/libtorch.so\`, \`lib/libc10.so\`: PyTorch, BSD-3-Clause (\`LICENSE\`), with the third
  parties the wheel lists under \`third_party/\` built in (oneDNN under \`third_party/ideep\`, sleef, fbgemm, XNNPACK,
  ...). \`libtorch_cpu.so\` also holds Intel oneMKL, linked statically by PyTorch's build, under the Intel Simplified
  Software License (https://www.intel.com/content/www/us/en/developer/articles/license/end-user-license-agreement.html).
- \`lib/libgomp.so.1\`: GCC's OpenMP runtime, as the wheel ships it, under the GNU GPL version 3 with the GCC Runtime
  Library Exception version 3.1 (https://www.gnu.org/licenses/gcc-exception-3.1.html).

Every other file under this folder is a licence file of the wheel's \`torch-${TORCH}.dist-info/licenses/\`, as it
ships it.
`;
}

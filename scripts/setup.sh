#!/usr/bin/env bash
# Makes a machine ready for one libtorch variant, doing only what is missing: Debian packages (installed when root,
# otherwise printed as the command to run), the variant's libtorch, npm packages, then the TypeScript build and the
# native build of that variant. `npm start` and `npm test` run it for the default variant.
#   bash scripts/setup.sh [torch-2.13-cpu (default) | torch-1.13-cpu]
#   torch-2.13-cpu: PyTorch 2.13 CPU from pip into .venv/ (the loader finds it there; its python computes the
#                   tests' references). The default: the fastest here (docs/install.md, "Variants").
#   torch-1.13-cpu: Debian's libtorch-dev 1.13 with OpenBLAS, and Debian's python3-torch for the references.
#   torch-2.14-cuda: PyTorch 2.14.1 with CUDA 13's wheel, unpacked (its libtorch only, no nvidia-* wheels) into
#                   .libtorch/torch-2.14-cuda/, built with the CUDA toolkit's nvcc (/usr/local/cuda). Builds and
#                   packs on a machine without a GPU; runs where PyTorch 2.14 with CUDA is installed.
# LVMTORCH_BUILD_SYSTEM=node-gyp builds with binding.gyp instead of CMake (scripts/build-native.mjs; CI does for 1.13).
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:-torch-2.13-cpu}

# cmake and g++ for the addon; Gloo's headers for torch.distributed (c10d's ProcessGroupGloo.hpp includes them;
# PyTorch's wheels ship none); Chromium for the test that renders the training report.
packages=(cmake g++ make chromium libgloo-dev)
case "$variant" in
  torch-2.13-cpu) python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv) ;;
  # libtorch and its CMake package; OpenBLAS (the reference BLAS is ~15x slower); PyTorch 1.13 and numpy for
  # the references.
  torch-1.13-cpu) packages+=(libtorch-dev libopenblas0-pthread python3-torch python3-numpy) ;;
  torch-2.14-cuda) ;;
  *) echo "lvmtorch setup: unknown variant $variant (torch-2.13-cpu, torch-1.13-cpu or torch-2.14-cuda)" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "lvmtorch setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "lvmtorch setup: missing Debian packages. Run, then try again:"
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# A machine with a local wheel store (pip config: file:// indexes) gets them as its only indexes: no retries against
# an unreachable PyPI. Elsewhere, PyTorch's CPU wheel index.
pip_indexes() {
  local local_indexes first
  local_indexes=$(pip config list 2>/dev/null | grep -o 'file://[^ '"'"']*' | sort -u || true)
  if [ -n "$local_indexes" ]; then
    first=$(echo "$local_indexes" | head -1)
    echo "--index-url $first"
    for i in $(echo "$local_indexes" | tail -n +2); do echo "--extra-index-url $i"; done
  else
    echo "--extra-index-url https://download.pytorch.org/whl/cpu"
  fi
}
if [ "$variant" = torch-2.13-cpu ]; then
  if ! .venv/bin/python -c 'import torch, numpy; assert torch.__version__.startswith("2.13.")' 2>/dev/null; then
    echo "lvmtorch setup: PyTorch 2.13 CPU into .venv/"
    python3 -m venv .venv
    # shellcheck disable=SC2046
    .venv/bin/pip install -q --disable-pip-version-check $(pip_indexes) 'torch==2.13.0' numpy
  fi
  # FastAPI and uvicorn: the seed server's stack, which bench/serve measures lvmtorch serve against.
  if ! .venv/bin/python -c 'import fastapi, uvicorn' 2>/dev/null; then
    # shellcheck disable=SC2046
    .venv/bin/pip install -q --disable-pip-version-check $(pip_indexes) fastapi uvicorn
  fi
fi

cuda_libtorch=.libtorch/torch-2.14-cuda/torch
if [ "$variant" = torch-2.14-cuda ]; then
  # The toolkit's own bin/ first on PATH: Caffe2's FindCUDA takes the toolkit root from the nvcc it finds, and an
  # nvcc on PATH may be a wrapper elsewhere (here /usr/local/bin/nvcc), beside no headers or libcudart.
  cuda_root=${CUDA_HOME:-${CUDA_PATH:-/usr/local/cuda}}
  if [ ! -x "$cuda_root/bin/nvcc" ] && command -v nvcc >/dev/null; then
    cuda_root=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
  fi
  if [ ! -x "$cuda_root/bin/nvcc" ] || [ ! -f "$cuda_root/include/cuda_runtime.h" ]; then
    echo "lvmtorch setup: torch-2.14-cuda needs the CUDA 13 toolkit (nvcc, headers, libcudart): set CUDA_HOME (none in $cuda_root)" >&2
    exit 1
  fi
  cuda_bin=$cuda_root/bin
  if [ ! -f "$cuda_libtorch/version.py" ]; then
    echo "lvmtorch setup: PyTorch 2.14.1 (CUDA 13) wheel's libtorch into ${cuda_libtorch%/torch}/"
    wheels=$(mktemp -d)
    # shellcheck disable=SC2046
    python3 -m pip download -q --disable-pip-version-check --no-deps $(pip_indexes) 'torch==2.14.1' -d "$wheels"
    # Only what a build needs: headers, CMake package, libraries (not the Python extension), version.py.
    python3 - "$wheels"/torch-2.14.1-*.whl "${cuda_libtorch%/torch}" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    keep = [n for n in z.namelist() if n.startswith(('torch/include/', 'torch/share/', 'torch/lib/')) or n == 'torch/version.py']
    z.extractall(dest, [n for n in keep if not n.endswith('libtorch_python.so')])
PY
    rm -rf "$wheels"
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build:ts
case "$variant" in
  torch-2.13-cpu) LIBTORCH="$PWD/$(ls -d .venv/lib/python3*/site-packages/torch | head -1)" npm run --silent build:native ;;
  torch-1.13-cpu) LIBTORCH=/usr/lib/x86_64-linux-gnu/cmake/Torch npm run --silent build:native ;;
  torch-2.14-cuda) PATH="$cuda_bin:$PATH" CUDA_PATH="$cuda_root" LIBTORCH="$PWD/$cuda_libtorch" npm run --silent build:native ;;
esac

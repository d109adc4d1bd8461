#!/usr/bin/env bash
# Makes a machine ready, doing only what is missing: Debian packages (installed when root, otherwise printed as
# the command to run), npm packages, then the TypeScript and native builds. `npm start` and `npm test` run it.
set -euo pipefail
cd "$(dirname "$0")/.."

# libtorch and its CMake package; OpenBLAS (the reference BLAS is ~15x slower); cmake and g++ for the addon;
# PyTorch and numpy for the tests and benchmarks, which compare against real PyTorch; Chromium for the test that
# renders the training report.
packages=(libtorch-dev libopenblas0-pthread cmake g++ make python3-torch python3-numpy chromium)
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

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build

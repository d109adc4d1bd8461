#!/usr/bin/env bash
# Builds the second real-text corpus, another kind of text than the manuals: the King James Bible (public domain)
# from Debian's bible-kjv-text, a chapter per document and a verse per sentence, embedded as build.sh embeds the
# manuals -> artifacts/corpus-kjv/kjv.npz (no committed sample), and prints its baselines.
#   bash scripts/corpus/build-kjv.sh      (as root when bible-kjv is missing: it apt-get installs it)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
art="$root/artifacts/corpus-kjv"
if ! command -v bible > /dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "as root: apt-get install -y --no-install-recommends bible-kjv bible-kjv-text" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bible-kjv bible-kjv-text
fi
npm ci --no-audit --no-fund --silent
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
node extract-kjv.mjs "$art/sentences.jsonl"
node embed.mjs "$art/sentences.jsonl" "$art/vectors.f32"
"$python" pack-kjv.py "$art"
"$python" baselines.py "$art/kjv.npz" --out "$art/baselines.json"

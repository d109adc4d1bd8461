"""Packs the second corpus (extract-kjv.mjs + embed.mjs) into the ordered vectors layout, as pack.py packs the
Debian one: artifacts/corpus-kjv/kjv.npz with its .json and .texts.jsonl. No committed sample.

    python pack-kjv.py [artifacts/corpus-kjv]
"""
import json
import sys
from pathlib import Path

import numpy as np

from pack import ROOT, write

SOURCE = {"id": "kjv", "package": "bible-kjv-text", "license": "public domain (the King James Version, 1611/1769)",
          "document": "a chapter; its verses are the sentences"}


def main():
    art = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "artifacts/corpus-kjv"
    docs = [json.loads(line) for line in (art / "sentences.jsonl").read_text().splitlines() if line]
    vectors = np.fromfile(art / "vectors.f32", dtype="<f4").reshape(-1, 512)
    n = sum(len(d["sentences"]) for d in docs)
    if len(vectors) != n:
        sys.exit(f"pack-kjv.py: {len(vectors)} vectors for {n} verses: run embed.mjs again")
    source = {**SOURCE, "version": docs[0]["version"]}
    write(art / "kjv.npz", docs, vectors, [source], {"filters": {"minVerses": 8}})


if __name__ == "__main__":
    main()

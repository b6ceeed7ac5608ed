"""``python -m bench.index_scale``: the item index at catalog scale — FAISS and Milvus Lite, exact and
approximate, on synthetic vectors.

    python -m bench.index_scale --items 1000000 --dim 384 --queries 1000 --output runs/index-scale.json

The vectors are a seeded mixture of Gaussian clusters (unit length), so neighbourhoods exist as in real
embeddings; the ground truth is exact inner-product search (FAISS flat).  For each index: build seconds,
single-query latency p50/p99 (one query per call, as a request does), recall@10 against the ground truth,
and the index's size in bytes (FAISS: its serialised size; Milvus Lite: the database directory on disk).
``--output`` writes the table as JSON for ``python -m bench.sizing``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from tqdm.auto import tqdm

from llmrec.artifacts import atomic_write_text
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.tables import format_table
from retrieval.index import IndexConfig, ItemIndex
from retrieval.milvus import MilvusConfig, MilvusIndex


@dataclass(frozen=True, kw_only=True)
class ScaleArgs:
    items: int = arg(1_000_000, help="synthetic catalog size")
    dim: int = arg(384, help="vector dimension (all-MiniLM-L6-v2: 384)")
    clusters: int = arg(1000, help="Gaussian clusters the vectors are drawn around")
    queries: int = arg(1000, help="queries for recall (latency: the first --latency-queries of them)")
    latency_queries: int = arg(200, help="single-query calls timed per index")
    k: int = arg(10, help="recall@k")
    indexes: list[str] = arg(default_factory=lambda: ["faiss-hnsw", "faiss-ivf", "milvus-ivf", "milvus-hnsw"],
                             help="which to build: faiss-flat faiss-hnsw faiss-ivf milvus-flat milvus-ivf "
                                  "milvus-hnsw")
    seed: int = arg(0, help="random seed")
    output: str | None = arg(None, help="JSON file for the table (python -m bench.sizing reads it)")


def synthetic(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in tqdm(range(0, n, 100_000), desc="vectors", unit="block"):
        stop = min(n, start + 100_000)
        out[start:stop] = centres[rng.integers(clusters, size=stop - start)] \
            + 0.6 * rng.normal(size=(stop - start, dim)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _faiss_bytes(index: ItemIndex) -> int:
    return int(faiss.serialize_index(index._index).nbytes)


def build(name: str, x: np.ndarray, ids: np.ndarray, workdir: Path):
    backend, kind = name.split("-")
    if backend == "faiss":
        config = IndexConfig(kind=kind, use_gpu=False, ef_search=64, nprobe=16)
        return ItemIndex.build(x, ids, encoder_id="synthetic", encoder_hash="synthetic", config=config)
    config = MilvusConfig(uri=str(workdir / name / "milvus.db"),
                          index_type={"flat": "FLAT", "ivf": "IVF_FLAT", "hnsw": "HNSW"}[kind],
                          nlist=int(max(1, min(round(4 * np.sqrt(len(x))), len(x) // 39, 65536))))
    return MilvusIndex.build(x, ids, encoder_id="synthetic", encoder_hash="synthetic", config=config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.index_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, ScaleArgs)
    cfg = config_from_args(ScaleArgs, parser.parse_args(argv))
    x = synthetic(cfg.items, cfg.dim, cfg.clusters, cfg.seed)
    ids = np.arange(cfg.items, dtype=np.int64)
    rng = np.random.default_rng(cfg.seed + 1)
    q = x[rng.choice(cfg.items, cfg.queries, replace=False)] + 0.05 * rng.normal(size=(cfg.queries, cfg.dim))
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    exact = faiss.IndexFlatIP(cfg.dim)
    exact.add(x)
    _, truth = exact.search(q, cfg.k)
    del exact
    rows, table = [], []
    workdir = Path(tempfile.mkdtemp(prefix="index-scale-"))
    try:
        for name in cfg.indexes:
            t0 = time.perf_counter()
            index = build(name, x, ids, workdir)
            build_s = time.perf_counter() - t0
            _, found = index.search(q, cfg.k)
            recall = float(np.mean([len(set(f) & set(t)) / cfg.k for f, t in zip(found, truth)]))
            times = []
            for row in q[:cfg.latency_queries]:
                t0 = time.perf_counter()
                index.search(row[None, :], cfg.k)
                times.append(time.perf_counter() - t0)
            size = (_faiss_bytes(index) if isinstance(index, ItemIndex)
                    else sum(p.stat().st_size for p in (workdir / name).rglob("*") if p.is_file()))
            row = {"index": name, "items": cfg.items, "dim": cfg.dim, "build_s": round(build_s, 2),
                   "p50_ms": round(1000 * float(np.percentile(times, 50)), 3),
                   "p99_ms": round(1000 * float(np.percentile(times, 99)), 3),
                   f"recall@{cfg.k}": round(recall, 4), "bytes": size,
                   "bytes_per_item": round(size / cfg.items, 1)}
            rows.append(row)
            table.append(list(row.values()))
            print(format_table([table[-1]], list(row)), flush=True)
            if isinstance(index, MilvusIndex):
                index.close()
            del index
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(format_table(table, list(rows[0])))
    if cfg.output:
        atomic_write_text(cfg.output, json.dumps({"config": vars(cfg), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

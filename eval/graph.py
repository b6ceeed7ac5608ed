"""``python -m eval.graph``: the knowledge graph's recall, and its fusion with the dense retriever.

1. Validation split: the dense retriever and the graph's personalised PageRank (``retrieval.graph``) score
   every user's whole catalog once; candidate recall@N (the held-out item among the fused top N unseen items)
   of each fusion method and weight is read from those scores, and the best one is chosen (weight 0, the
   retriever alone, stays chosen unless a fusion beats it).
2. Test split: the same for the retriever, the graph alone and the fusion at the chosen setting, with paired
   bootstrap intervals of the differences from the retriever.  Ranks are the harness's (among every unseen
   item, ties by item id; a test checks they agree), so recall@50 here is ``python -m eval``'s recall@50 of
   the same recommender (``--recommender hybrid --param graph_weight=W --param method=M``).  The choices and
   every per-user rank go to ``--output``/graph.json.

    python -m eval.graph --retriever auto --output runs/graph
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from llmrec.artifacts import atomic_write_text
from llmrec.configargs import arg, parse_config, run_main
from llmrec.data import Dataset, load_dataset
from llmrec.evaluation.report import paired_bootstrap
from llmrec.history import History, histories
from llmrec.params import parse_params
from llmrec.recommenders import create_recommender
from llmrec.split import leave_last_out, target_items
from llmrec.tables import format_table
from retrieval.graph import GraphConfig, GraphRecommender
from retrieval.graph_fusion import fuse
from retrieval.train import resolve_retriever

__all__ = ["GraphEvalConfig", "main", "target_ranks"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class GraphEvalConfig:
    data: str | None = arg(None, help="MovieLens-100K directory (default: $LLMREC_DATA or ../shared/data)")
    retriever: str = arg("auto", help="dense retriever directory ('auto': the cached default one)")
    graph_param: list[str] = arg(default_factory=list, repeat=True,
                                 help="knowledge graph settings as key=value (retrieval.graph.GraphConfig)")
    methods: list[str] = arg(default_factory=lambda: ["rrf", "zscore"], help="fusion methods tried")
    weights: list[float] = arg(default_factory=lambda: [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0],
                               help="graph weights tried (validation)")
    candidates: int = arg(50, help="N: size of the candidate set (recall@N)")
    output: str | None = arg(None, help="directory for the test reports and the choices")
    progress: bool = arg(True, help="progress bars")


def target_ranks(scores: np.ndarray, seen: np.ndarray, targets: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per user (row), the 0-based rank of its held-out item (catalog position ``targets``) among its unseen
    items by ``scores``, ties broken by item id as the harness breaks them."""
    s = np.where(seen, -np.inf, scores)
    rows = np.arange(len(s))
    t = s[rows, targets][:, None]
    return ((s > t) | ((s == t) & (ids[None, :] < ids[targets][:, None]))).sum(axis=1)


def _catalog_scores(data: Dataset, split: str, dense, graph_cfg: GraphConfig, progress: bool):
    held = leave_last_out(data, split)
    tg = target_items(held)
    users = sorted(tg)
    hs_all = histories(held.train.interactions)
    hs = [hs_all.get(u, History.empty(u)) for u in users]
    dense.fit(held.train)
    graph = GraphRecommender(graph_cfg).fit(held.train)
    ids = data.catalog.item_ids
    d_rows, g_rows = [], []
    for start in tqdm(range(0, len(hs), 64), desc=f"scores [{split}]", disable=not progress):
        batch = hs[start:start + 64]
        dense.prepare(batch)
        graph.prepare(batch)
        d_rows += [dense.score(h, ids) for h in batch]
        g_rows += [graph.catalog_scores(h) for h in batch]
    seen = np.stack([np.isin(ids, h.items) for h in hs])
    return hs, seen, data.catalog.positions([tg[u] for u in users]), np.stack(d_rows), np.stack(g_rows)


def choose(cfg: GraphEvalConfig, data: Dataset, dense, graph_cfg: GraphConfig) -> dict:
    """The validation sweep (module doc): rows and the chosen method and weight."""
    hs, seen, targets, dense_s, graph_s = _catalog_scores(data, "validation", dense, graph_cfg, cfg.progress)
    ids, n = data.catalog.item_ids, cfg.candidates
    recall = {"dense": float((target_ranks(dense_s, seen, targets, ids) < n).mean()),
              "graph": float((target_ranks(graph_s, seen, targets, ids) < n).mean())}
    rows = [["retriever alone", "", recall["dense"]], ["graph alone", "", recall["graph"]]]
    best = ("rrf", 0.0, recall["dense"])
    for method in cfg.methods:
        for w in cfg.weights:
            fused = np.stack([fuse(dense_s[u], graph_s[u], seen[u], w, method) for u in range(len(hs))])
            r = float((target_ranks(fused, seen, targets, ids) < n).mean())
            rows.append([method, w, r])
            if r > best[2]:
                best = (method, w, r)
    print(format_table(rows, ["validation: fusion", "graph weight", f"candidate recall@{n}"]))
    print(f"chosen on validation ({len(hs)} users): method={best[0]} graph_weight={best[1]:g} "
          f"(recall@{n} {best[2]:.4f}, retriever {recall['dense']:.4f})")
    return {"method": best[0], "graph_weight": best[1], "validation": rows,
            "validation_recall": {"dense": recall["dense"], "graph": recall["graph"], "chosen": best[2]}}


def _test(cfg: GraphEvalConfig, data: Dataset, dense, graph_cfg: GraphConfig, chosen: dict) -> dict:
    hs, seen, targets, dense_s, graph_s = _catalog_scores(data, "test", dense, graph_cfg, cfg.progress)
    ids, n = data.catalog.item_ids, cfg.candidates
    fused = np.stack([fuse(dense_s[u], graph_s[u], seen[u], chosen["graph_weight"], chosen["method"])
                      for u in range(len(hs))])
    ranks = {k: target_ranks(s, seen, targets, ids) for k, s in
             (("retriever", dense_s), ("graph", graph_s), ("fused", fused))}
    rows = [[k, len(r), *(float((r < c).mean()) for c in (10, 20, n))] for k, r in ranks.items()]
    print(format_table(rows, ["test", "users", "recall@10", "recall@20", f"candidate recall@{n}"]))
    diffs = []
    for name in ("graph", "fused"):
        for c in (20, n):
            d = (ranks[name] < c).astype(float) - (ranks["retriever"] < c)
            lo, hi = paired_bootstrap(d)
            diffs.append([f"{name} - retriever", f"recall@{c}", float(d.mean()), f"[{lo:+.4f}, {hi:+.4f}]"])
    print(format_table(diffs, ["test", "metric", "difference", "paired 95% CI"]))
    return {"test": rows, "test_differences": diffs, "users": [h.user for h in hs],
            "test_ranks": {k: r.tolist() for k, r in ranks.items()}}


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(GraphEvalConfig, argv, prog="python -m eval.graph", description=__doc__.split("\n")[0])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    data = load_dataset(cfg.data)
    graph_cfg = GraphConfig(**parse_params(cfg.graph_param))
    retr_dir = str(resolve_retriever(cfg.retriever, data, progress=cfg.progress))
    dense = create_recommender("dense", {"retriever": retr_dir})
    chosen = choose(cfg, data, dense, graph_cfg)
    chosen |= _test(cfg, data, dense, graph_cfg, chosen)
    chosen["graph"] = graph_cfg.model_dump(mode="json")
    chosen["retriever"] = retr_dir
    if cfg.output:
        atomic_write_text(Path(cfg.output) / "graph.json", json.dumps(chosen, default=float))
        print(f"choices and per-user ranks written to {cfg.output}/graph.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m eval.graph"))

"""``python -m eval --objectives R...``: sweep the re-ranking weights, choose them on validation, report test.

    python -m eval --objectives itemknn dense llm --retriever auto --output runs/objectives

For each recommender, every evaluated user's top ``pool`` items and scores are computed once per split; then
each objective's weight (:mod:`llmrec.recommenders.objectives`: ``diversity``, ``calibration``,
``popularity``, ``popularity_calibration``) is swept alone over a fixed grid, re-ranking those pools (the
held-out item's rank follows the re-ranked list when it is in the pool, and stays where it was when it is
below it).  On **validation** the chosen weight per objective is the one that best serves its objective
(highest genre ILD, lowest miscalibration, highest novelty, lowest popularity miscalibration; for
``long-tail``, the highest NDCG@10 of users whose held-out item is in the long tail without a loss for those
whose item is in the short head) within ``budget`` (2%) relative NDCG@10 of the un-reranked list; on **test**
the chosen weights are reported with the paired 95% interval of the NDCG@10 change, beside the
beyond-accuracy figures.  The validation sweep is the Pareto table; the plot shows NDCG@10 against genre
diversity, novelty and coverage for every recommender and objective (PNG, ``<output>/pareto.png``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from llmrec.data import Dataset
from llmrec.evaluation.beyond import (
    ItemStats,
    catalog_coverage,
    ild_genre,
    miscalibration,
    novelty,
    popularity_miscalibration,
)
from llmrec.evaluation.metrics import ndcg_at
from llmrec.evaluation.report import Report, paired_bootstrap
from llmrec.history import History, histories
from llmrec.recommenders import Recommender
from llmrec.recommenders.objectives import MultiObjective, ObjectiveWeights
from llmrec.split import leave_last_out

__all__ = ["GRID", "Pools", "choose", "collect_pools", "objective_rows", "objective_sweep", "plot_pareto",
           "sweep"]

log = logging.getLogger(__name__)

_DIVERSITY = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8, 1.2, 2.0)
_POPULARITY = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8)
#: The weights tried per objective: each alone (0 is the un-reranked list), and diversity with popularity
#: together (for lists that are both more diverse and cover more of the catalog).
GRID: dict[str, list[dict[str, float]]] = {
    "diversity": [{"diversity": w} for w in _DIVERSITY],
    "calibration": [{"calibration": w} for w in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 4.0, 8.0)],
    "popularity": [{"popularity": w} for w in _POPULARITY],
    "diversity+popularity": [{"diversity": d, "popularity": p}
                             for d in _DIVERSITY[:7] for p in _POPULARITY[:6]],
    "calibrated-popularity": [{"popularity_calibration": w}
                              for w in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.4, 2.0, 4.0, 8.0)],
    "long-tail": [{"popularity": w} for w in _POPULARITY],
}
#: What each objective maximises when its weights are chosen (a figure, or a function of a point and the
#: un-reranked point): ILD, minus miscalibration, novelty, and for the pair the relative gains in ILD and
#: coverage added, minus the popularity miscalibration (head / middle / tail mix) for calibrated popularity,
#: and for the long tail the NDCG@10 of users whose held-out item is in the long tail, as long as the users
#: whose held-out item is in the short head lose nothing (the popularity weight swept for that goal).
GOAL = {"diversity": lambda p, b: p["ild_genre"], "calibration": lambda p, b: -p["miscalibration"],
        "popularity": lambda p, b: p["novelty"],
        "diversity+popularity": lambda p, b: p["ild_genre"] / b["ild_genre"] + p["coverage"] / b["coverage"],
        "calibrated-popularity": lambda p, b: -p["popularity_miscalibration"],
        "long-tail": lambda p, b: p["ndcg@10_tail"] if p["ndcg@10_head"] >= b["ndcg@10_head"] else -np.inf}


@dataclass
class Pools:
    """Per user of one split: the ranker's top ``pool`` items and scores, the held-out item and its rank."""

    split: str
    users: list[History]
    items: list[np.ndarray]
    scores: list[np.ndarray]
    targets: np.ndarray
    ranks: np.ndarray  # the held-out item's 0-based rank in the ranker's full order
    user_ids: np.ndarray | None = None
    candidates: np.ndarray | None = None  # how many items each user's ranking had


def collect_pools(recommender: Recommender, dataset: Dataset, split: str, pool: int = 100,
                  progress: bool = True, batch_users: int = 64) -> Pools:
    """Fit ``recommender`` on the split's training data and keep every user's top ``pool``."""
    held = leave_last_out(dataset, split)
    recommender.fit(held.train)
    hist = histories(held.train.interactions)
    all_items = dataset.catalog.item_ids
    users, items, scores, ranks, sizes = [], [], [], [], []
    targets = held.targets["item"].to_numpy()
    ids = held.targets["user"].to_numpy()
    for n, (user, target) in enumerate(tqdm(list(zip(ids, targets)), desc=f"{recommender.name} [{split}]",
                                            disable=not progress, unit="user")):
        if n % batch_users == 0:
            recommender.prepare([hist.get(int(u), History.empty(int(u))) for u in ids[n:n + batch_users]])
        history = hist.get(int(user), History.empty(int(user)))
        cands = all_items[~np.isin(all_items, history.items) | (all_items == target)]
        s = np.asarray(recommender.score(history, cands), dtype=np.float64)
        finite = np.isfinite(s)
        order = np.lexsort((cands, ~finite, -np.where(finite, s, -np.inf)))
        users.append(history)
        items.append(cands[order[:pool]])
        scores.append(s[order[:pool]])
        ranks.append(int(np.flatnonzero(cands[order] == target)[0]))
        sizes.append(len(cands))
    return Pools(split, users, items, scores, targets, np.asarray(ranks), ids, np.asarray(sizes))


def sweep(pools: Pools, stage: MultiObjective, stats: ItemStats, weights: ObjectiveWeights, k: int = 10
          ) -> dict[str, Any]:
    """NDCG@10 and the beyond-accuracy figures of the pools re-ranked with ``weights``."""
    lists, ranks, seconds = [], [], []
    for history, items, scores, target, rank in zip(pools.users, pools.items, pools.scores, pools.targets,
                                                     pools.ranks):
        t0 = time.perf_counter()
        ordered = stage.rerank(history, items, scores, weights)
        seconds.append(time.perf_counter() - t0)
        hit = np.flatnonzero(ordered == target)
        ranks.append(int(hit[0]) if len(hit) else int(rank))
        lists.append(ordered[:weights.length])
    width = max(len(x) for x in lists)
    padded = np.full((len(lists), width), -1, dtype=np.int64)
    for i, row in enumerate(lists):
        padded[i, :len(row)] = row
    per_user = ndcg_at(np.asarray(ranks), k)
    in_head = dict(zip(stats.item_ids.tolist(), stats.head.tolist()))
    head = np.array([in_head.get(int(t), False) for t in pools.targets], dtype=bool)
    return {"ndcg@10": float(per_user.mean()), "per_user_ndcg": per_user, "ranks": np.asarray(ranks),
            "ndcg@10_tail": float(per_user[~head].mean()) if (~head).any() else float("nan"),
            "ndcg@10_head": float(per_user[head].mean()) if head.any() else float("nan"),
            "lists": padded,
            "ild_genre": float(np.nanmean(ild_genre(padded, stats, k))),
            "coverage": catalog_coverage(padded, stats, k),
            "novelty": float(np.nanmean(novelty(padded, stats, k))),
            "miscalibration": float(np.nanmean(miscalibration(padded, stats, pools.users, k))),
            "popularity_miscalibration": float(np.nanmean(
                popularity_miscalibration(padded, stats, pools.users, k))),
            "ms_per_user": 1000 * float(np.mean(seconds))}


def choose(points: list[dict[str, Any]], objective: str, budget: float) -> dict[str, Any]:
    """The point that best serves ``objective`` within ``budget`` relative NDCG@10 loss of the un-reranked
    point (all weights 0); on a tie the smaller weights."""
    base = next(p for p in points if not any(p["weights"].values()))
    allowed = [p for p in points if p["ndcg@10"] >= (1 - budget) * base["ndcg@10"]]
    return max(allowed, key=lambda p: (GOAL[objective](p, base), -sum(p["weights"].values())))


class _SweepCache:
    """:func:`sweep` of one split's pools, computed once per distinct weights (grids share points: every
    grid's zero is the un-reranked list, and ``long-tail`` sweeps ``popularity``'s weights); each call
    returns a fresh top-level dict, so callers may pop from it."""

    def __init__(self, pools: Pools, stage: MultiObjective, stats: ItemStats, pool: int) -> None:
        self.pools, self.stage, self.stats, self.pool = pools, stage, stats, pool
        self.results: dict[tuple, dict[str, Any]] = {}

    def __call__(self, weights: dict[str, float]) -> dict[str, Any]:
        key = tuple(sorted((k, float(v)) for k, v in weights.items() if v))
        if key not in self.results:
            self.results[key] = sweep(self.pools, self.stage, self.stats,
                                      ObjectiveWeights(pool=self.pool, **dict(key)))
        return dict(self.results[key])


def objective_sweep(recommender: Recommender, dataset: Dataset, *, budget: float = 0.02, pool: int = 100,
                    progress: bool = True, seed: int = 0,
                    test_recommender: Recommender | None = None) -> dict[str, Any]:
    """The validation sweep, the chosen weights and their test figures for one recommender.
    ``test_recommender``: the same recommender set up for the test split where its artifacts depend on the
    split (an item-token model refitted on the test split's fit data); by default ``recommender`` serves
    both.  A distinct ``test_recommender`` starts scoring only after ``recommender`` is closed (once its
    validation pools are in), so two LLM engines never hold the memory (or the GPU) at once."""
    out: dict[str, Any] = {"recommender": recommender.name, "budget": budget, "pool": pool, "validation": {},
                           "test": {}}
    per_split = {"validation": recommender, "test": test_recommender or recommender}
    pools = {"validation": collect_pools(recommender, dataset, "validation", pool, progress)}
    if per_split["test"] is not recommender:
        recommender.close()
    pools["test"] = collect_pools(per_split["test"], dataset, "test", pool, progress)
    reports: dict[str, Report] = {}
    out["reports"] = reports  # test reports: un-reranked ("none") and at each chosen weight
    for split, p in pools.items():
        stats = ItemStats.build(dataset.catalog, leave_last_out(dataset, split).train.interactions)
        stage = MultiObjective(dataset.catalog, leave_last_out(dataset, split).train.interactions,
                               ObjectiveWeights(pool=pool))
        reranked = _SweepCache(p, stage, stats, pool)
        if split == "validation":
            for objective, grid in GRID.items():
                points = []
                for w in grid:
                    r = reranked(w)
                    for key in ("per_user_ndcg", "ranks", "lists"):
                        r.pop(key)
                    points.append({"weights": w, **r})
                out["validation"][objective] = {"points": points, "chosen": choose(points, objective, budget)}
            continue
        base = reranked({})
        base_ndcg = base.pop("per_user_ndcg")
        reports["none"] = _report(per_split["test"], dataset, p, base.pop("ranks"), base.pop("lists"), {})
        out["test"]["none"] = base
        for objective in GRID:
            w = out["validation"][objective]["chosen"]["weights"]
            r = reranked(w)
            reports[objective] = _report(per_split["test"], dataset, p, r.pop("ranks"), r.pop("lists"), w)
            diff = r.pop("per_user_ndcg") - base_ndcg
            low, high = paired_bootstrap(diff, random_state=seed)
            relative = float(diff.mean() / max(base["ndcg@10"], 1e-12))
            out["test"][objective] = {"weights": w, **r, "ndcg_diff": float(diff.mean()), "ci_low": low,
                                      "ci_high": high, "relative_ndcg_change": relative}
    return out


def _report(recommender: Recommender, dataset: Dataset, pools: Pools, ranks: np.ndarray, lists: np.ndarray,
            weights: dict[str, float]) -> Report:
    """A test report of the (re-ranked) pools: held-out ranks and top-20 lists."""
    frame = pd.DataFrame({"user": pools.user_ids, "item": pools.targets, "rank": ranks,
                          "candidates": pools.candidates})
    name = recommender.name + "".join(f"+{k}={v:g}" for k, v in weights.items())
    return Report(name, pools.split, {**recommender.describe()["config"], "objectives": weights}, frame,
                  dataset={"name": dataset.name, "fingerprint": dataset.interactions.fingerprint(),
                           "n_items": len(dataset.catalog), "n_interactions": len(dataset.interactions)},
                  lists=lists)


def plot_pareto(results: list[dict[str, Any]], path: str | Path) -> Path:
    """NDCG@10 against genre diversity, novelty and coverage over the validation sweep: one colour per
    objective, one marker per recommender, the chosen points circled (``long-tail`` sweeps popularity's own
    points, so only its choice is drawn); written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from llmrec.artifacts import atomic_write_figure

    objectives = list(dict.fromkeys(o for res in results for o in res["validation"]))
    colour = {o: plt.cm.tab10.colors[n % 10] for n, o in enumerate(objectives)}
    marker = {res["recommender"]: "osD^vP*X"[n % 8] for n, res in enumerate(results)}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    panels = (("ild_genre", "intra-list genre diversity @10"), ("novelty", "novelty @10 (bits)"),
              ("coverage", "catalog coverage @10"))
    for ax, (figure, label) in zip(axes, panels):
        for res in results:
            m = marker[res["recommender"]]
            for objective, sweep_ in res["validation"].items():
                pts, c, hue = sweep_["points"], sweep_["chosen"], colour[objective]
                if objective != "long-tail":
                    pair = len(pts[0]["weights"]) > 1  # a grid of two weights: points, not a line
                    ax.plot([p[figure] for p in pts], [p["ndcg@10"] for p in pts], marker=m, markersize=3,
                            linewidth=1, alpha=0.8, linestyle="none" if pair else "-", color=hue)
                ax.scatter([c[figure]], [c["ndcg@10"]], s=110, facecolors="none", edgecolors=hue,
                           linewidths=1.5)
        ax.set_xlabel(label)
        ax.set_ylabel("NDCG@10 (validation)")
        ax.grid(alpha=0.3)
    handles = ([Line2D([], [], color=colour[o], label=o) for o in objectives]
               + [Line2D([], [], color="0.3", marker=marker[r], linestyle="none", label=r) for r in marker])
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.865, 0.5), fontsize=8, frameon=False,
               title="objective / recommender", title_fontsize=8)
    fig.suptitle("Re-ranking trade-offs on validation (circles: weights chosen within the NDCG budget)")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    return atomic_write_figure(fig, path)


def objective_rows(results: list[dict[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    """The printed test table: per recommender, the un-reranked list and each objective at its weight."""
    header = ["recommender", "re-ranking", "weights", "NDCG@10", "change [95% CI]", "ILD genre", "coverage",
              "novelty", "miscalibration", "pop. miscalibration", "ms/user"]
    rows = []
    for res in results:
        for objective, r in res["test"].items():
            change = ("-" if objective == "none" else
                      f"{r['relative_ndcg_change']:+.1%} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]")
            weights = ", ".join(f"{k} {v:g}" for k, v in r.get("weights", {}).items()) or "-"
            rows.append([res["recommender"], objective, weights, f"{r['ndcg@10']:.4f}", change,
                         f"{r['ild_genre']:.4f}", f"{r['coverage']:.4f}", f"{r['novelty']:.3f}",
                         f"{r['miscalibration']:.4f}", 
                         f"{r.get('popularity_miscalibration', float('nan')):.4f}",
                         f"{r['ms_per_user']:.2f}"])
    return rows, header

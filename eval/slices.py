"""NDCG@10 by slice of users, with paired intervals between recommenders.

    python -m eval --recommender itemknn --output runs/knn.json        # reports first
    python -m eval --slices runs/knn.json runs/llm.json --split test    # then the slices of both

Slices (each user falls in one group of each attribute):

* **held-out item**: ``short head`` or ``long tail`` — whether the held-out item is among the most popular
  items that together hold 20% of the split's training interactions (:class:`~llmrec.evaluation.beyond.
  ItemStats`);
* **history length**: the user's training interactions, in fixed bins (< 50, 50-99, 100-199, >= 200);
* **gender**, **age** (the MovieLens-1M bands: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+) and
  **occupation** from the dataset's user profiles (``u.user``), when it has them.

Each group shows its users and every report's NDCG@10; the difference of each later report from the first
has a paired percentile-bootstrap 95% interval over the group's users.  A group with fewer than ``min_users``
users is listed as too small to say anything (no figures).  For each demographic attribute the largest gap
between groups (of enough users) is reported per recommender.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data import Dataset
from llmrec.errors import ArtifactError
from llmrec.evaluation.beyond import ItemStats
from llmrec.evaluation.metrics import ndcg_at
from llmrec.evaluation.report import Report, paired_bootstrap
from llmrec.split import leave_last_out

__all__ = ["AGE_BANDS", "DEMOGRAPHIC", "slice_groups", "slice_report", "slice_rows"]

AGE_BANDS = ((0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 49, "45-49"),
             (50, 55, "50-55"), (56, 200, "56+"))
HISTORY_BINS = ((0, 49, "< 50"), (50, 99, "50-99"), (100, 199, "100-199"), (200, 10**9, ">= 200"))
DEMOGRAPHIC = ("gender", "age", "occupation")


def _band(value: int, bands) -> str:
    return next(name for low, high, name in bands if low <= value <= high)


def slice_groups(dataset: Dataset, split: str, users: np.ndarray, targets: np.ndarray
                 ) -> dict[str, pd.Series]:
    """``{attribute: Series(group per user)}`` for the evaluated ``users`` (held-out items ``targets``)."""
    train = leave_last_out(dataset, split).train
    stats = ItemStats.build(dataset.catalog, train.interactions)
    head = dict(zip(stats.item_ids.tolist(), stats.head.tolist()))
    lengths = train.interactions.frame["user"].value_counts()
    index = pd.Index(users, name="user")
    groups = {
        "held-out item": pd.Series(["short head" if head[int(t)] else "long tail" for t in targets], index),
        "history length": pd.Series([_band(int(lengths.get(int(u), 0)), HISTORY_BINS) for u in users], index),
    }
    profiles = dataset.users
    if profiles is not None:
        known = profiles.reindex(index)
        groups["gender"] = known["gender"].fillna("unknown").astype(str)
        groups["age"] = pd.Series([_band(int(a), AGE_BANDS) if pd.notna(a) else "unknown"
                                   for a in known["age"]], index)
        groups["occupation"] = known["occupation"].fillna("unknown").astype(str)
    return groups


def slice_report(reports: dict[str, Report], dataset: Dataset, *, min_users: int = 30, k: int = 10,
                 n_resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Per attribute and group: users, NDCG@k per report, paired intervals against the first report; the
    largest demographic gap per report."""
    first = next(iter(reports.values()))
    for label, r in reports.items():
        if r.split != first.split or r.dataset.get("fingerprint") != first.dataset.get("fingerprint"):
            raise ArtifactError(f"report {label!r} is of another split or data than {next(iter(reports))!r}")
    users = first.ranks["user"].to_numpy()
    per_user: dict[str, pd.Series] = {}
    for label, r in reports.items():
        s = pd.Series(ndcg_at(r.ranks["rank"].to_numpy(), k), index=r.ranks["user"].to_numpy())
        missing = set(users) - set(s.index)
        if missing:
            raise ArtifactError(f"report {label!r} has no rank for {len(missing)} of the users of the first")
        per_user[label] = s.reindex(users)
    groups = slice_groups(dataset, first.split, users, first.ranks["item"].to_numpy())
    out: dict[str, Any] = {"split": first.split, "k": k, "min_users": min_users, "attributes": {}, "gaps": {}}
    labels = list(reports)
    for attribute, series in groups.items():
        cells = []
        for group in sorted(series.unique(), key=_group_order(attribute)):
            mask = (series == group).to_numpy()
            n = int(mask.sum())
            cell: dict[str, Any] = {"group": group, "users": n, "too_small": n < min_users}
            if n >= min_users:
                cell["ndcg"] = {label: float(per_user[label].to_numpy()[mask].mean()) for label in labels}
                cell["paired"] = {}
                for label in labels[1:]:
                    diff = per_user[label].to_numpy()[mask] - per_user[labels[0]].to_numpy()[mask]
                    low, high = paired_bootstrap(diff, n_resamples=n_resamples, random_state=seed)
                    cell["paired"][label] = {"diff": float(diff.mean()), "ci_low": low, "ci_high": high}
            cells.append(cell)
        out["attributes"][attribute] = cells
        if attribute in DEMOGRAPHIC:
            sized = [c for c in cells if not c["too_small"] and c["group"] != "unknown"]
            if len(sized) >= 2:
                out["gaps"][attribute] = {}
                for label in labels:
                    best = max(sized, key=lambda c: c["ndcg"][label])
                    worst = min(sized, key=lambda c: c["ndcg"][label])
                    out["gaps"][attribute][label] = {"gap": best["ndcg"][label] - worst["ndcg"][label],
                                                     "best": best["group"], "worst": worst["group"]}
    return out


def _group_order(attribute: str) -> Callable[[str], Any]:
    bands = {"age": AGE_BANDS, "history length": HISTORY_BINS}.get(attribute)
    if bands:
        names = [name for _, _, name in bands]
        return lambda g: names.index(g) if g in names else len(names)
    return lambda g: (g == "unknown", g)


def slice_rows(report: dict[str, Any], labels: list[str]) -> tuple[list[list[Any]], list[str]]:
    """The printed table: one row per attribute group."""
    k = report["k"]
    header = ["slice", "group", "users", *[f"NDCG@{k} {label}" for label in labels],
              *[f"{label} - {labels[0]} [95% CI]" for label in labels[1:]]]
    rows = []
    for attribute, cells in report["attributes"].items():
        for c in cells:
            if c["too_small"]:
                rows.append([attribute, c["group"], c["users"], *["too few users"] * (len(header) - 3)])
                continue
            rows.append([attribute, c["group"], c["users"], *(f"{c['ndcg'][lb]:.4f}" for lb in labels),
                         *(f"{p['diff']:+.4f} [{p['ci_low']:+.4f}, {p['ci_high']:+.4f}]"
                           for p in (c["paired"][lb] for lb in labels[1:]))])
    return rows, header

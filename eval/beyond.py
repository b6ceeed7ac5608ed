"""The beyond-accuracy table of evaluation reports (:mod:`llmrec.evaluation.beyond` on their top-N lists).

    python -m eval --recommender itemknn --split test     # prints it under the accuracy table
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from llmrec.data import Dataset
from llmrec.evaluation.beyond import ItemStats, beyond_accuracy
from llmrec.evaluation.metrics import map_at
from llmrec.evaluation.report import Report
from llmrec.history import History, histories
from llmrec.split import leave_last_out

__all__ = ["beyond_figures", "beyond_table_rows", "item_vectors"]

log = logging.getLogger(__name__)


def item_vectors(dataset: Dataset) -> np.ndarray | None:
    """The catalog's item texts embedded by the base text encoder (cached), for embedding diversity; None
    when the encoder cannot be loaded (the figure is then left out, with a warning)."""
    try:
        from retrieval.encoder import TextEncoder
        from retrieval.text import item_texts

        return TextEncoder().encode_cached(item_texts(dataset.catalog, dataset.catalog.item_ids))
    except Exception as err:  # noqa: BLE001 - an optional figure: say why it is missing
        log.warning("embedding diversity left out: %s", err)
        return None


def beyond_figures(report: Report, dataset: Dataset, k: int = 10, vectors: np.ndarray | None = None,
                   stats: ItemStats | None = None) -> dict[str, float]:
    """MAP@k and the beyond-accuracy figures of ``report``'s top-N lists (its split's training data gives
    popularity and histories)."""
    if report.lists is None:
        return {}
    train = leave_last_out(dataset, report.split).train
    stats = stats or ItemStats.build(dataset.catalog, train.interactions)
    hist = histories(train.interactions)
    users = [hist.get(int(u), History.empty(int(u))) for u in report.ranks["user"]]
    figures = {f"map@{k}": float(map_at(report.ranks["rank"].to_numpy(), k).mean())}
    figures.update(beyond_accuracy(report.lists, stats, users, k=k, vectors=vectors))
    return figures


def beyond_table_rows(reports: dict[str, Report], dataset: Dataset, k: int = 10
                      ) -> tuple[list[list[Any]], list[str]]:
    """One row per report with lists: (rows, header)."""
    with_lists = {label: r for label, r in reports.items() if r.lists is not None}
    if not with_lists:
        return [], []
    vectors = item_vectors(dataset)
    stats = {}
    figures = {}
    for label, report in with_lists.items():
        if report.split not in stats:
            stats[report.split] = ItemStats.build(dataset.catalog,
                                                  leave_last_out(dataset, report.split).train.interactions)
        figures[label] = beyond_figures(report, dataset, k, vectors, stats[report.split])
    header = ["recommender", *next(iter(figures.values()))]
    rows = [[label, *(f"{v:.4f}" for v in f.values())] for label, f in figures.items()]
    return rows, header

"""The runs one ``python -m eval`` invocation makes, and the tables it prints (shared by the holdout
command line and the cold-start / replay protocols)."""

from __future__ import annotations

from typing import Any

from llmrec.evaluation.report import Report
from llmrec.tables import format_table

__all__ = ["comparison_table", "metrics_table", "runs_for"]


def metrics_table(reports: list[Report], labels: list[str] | None = None) -> str:
    """One row per report; ``labels`` name the rows (default: the recommender names)."""
    names = list(reports[0].metrics)
    labels = labels or [r.recommender for r in reports]
    rows = [[label, r.split, r.n_users, *(r.metrics[n] for n in names)] for label, r in zip(labels, reports)]
    return format_table(rows, ["recommender", "split", "users", *names])


def comparison_table(a: Report, b: Report, table) -> str:
    rows = [[r.metric, r.a, r.b, r.diff, f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]",
             "yes" if r.excludes_0 else "no"]
            for r in table.itertuples()]
    head = f"B - A with paired bootstrap 95% CIs over {table.attrs['n_users']} users " \
           f"(A = {a.recommender}, B = {b.recommender}, split {a.split})"
    return head + "\n" + format_table(rows, ["metric", "A", "B", "B - A", "95% CI", "excludes 0"])


def runs_for(config, params: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """What to evaluate: the recommender; for ``llm``, one run per candidate order plus the retriever's
    own."""
    if config.recommender != "llm":
        return {config.recommender: (config.recommender, params)}
    runs = {f"llm ({order} order)": ("llm", {**params, "shuffle_candidates": order == "shuffled"})
            for order in config.orders}
    runs["dense (retriever order)"] = ("dense", {k: v for k, v in params.items() if k == "retriever"})
    return runs

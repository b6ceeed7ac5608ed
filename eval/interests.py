"""``python -m eval.interests``: choose the dense retriever's interest weights
(:class:`retrieval.interests.InterestConfig`) on the validation split.

The grid is walked axis by axis (sentiment, then the liked term with its recency half-life, then the
content weight), each axis keeping the best values of the ones before; the table of every configuration
tried is printed, and the best by NDCG@10 is written as JSON with ``--output`` and printed as ``--param``
flags for ``python -m eval --recommender dense``.

    python -m eval.interests --split validation --output runs/interests.json
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from eval.choice import ChoiceArgs
from llmrec.artifacts import atomic_write_text
from llmrec.configargs import arg, run_main
from llmrec.history import histories
from retrieval.interests import InterestConfig

__all__ = ["InterestGridArgs", "grid_search", "main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class InterestGridArgs(ChoiceArgs):
    """The values tried, axis by axis: sentiment first (with recency and the liked term off), then the liked
    term and its recency half-life (with the best sentiment), then the content weight (with both)."""

    disliked_weights: list[float] = arg(default_factory=lambda: [0.0, 0.05, 0.1, 0.2, 0.4],
                                        help="disliked_weight values tried")
    drops: list[str] = arg(default_factory=lambda: ["none", "text", "both"],
                           help="drop_disliked values tried")
    liked_weights: list[float] = arg(default_factory=lambda: [0.0, 0.05, 0.1, 0.2],
                                     help="liked_weight values tried")
    half_lives: list[float] = arg(default_factory=lambda: [0.0, 1.0, 7.0, 30.0],
                                  help="half_life_days values tried (0: no decay)")
    content_weights: list[float] = arg(default_factory=lambda: [0.0, 0.5, 1.0, 2.0],
                                       help="content_weight values tried")
    ablation: str | None = arg(None, help="instead of the grid: evaluate each dimension on alone, from this "
                                          "grid's JSON (--output of a grid run), on --split, with paired "
                                          "intervals against the current query; --output: a directory for "
                                          "the reports")


def grid_search(retriever, held, args: InterestGridArgs, *, progress: bool = True
                ) -> tuple[list[list], InterestConfig, dict[str, float]]:
    """Evaluate the grid axis by axis on ``held`` with a fitted dense retriever; (table rows, the best
    config by NDCG@10, its metrics).  Every axis keeps the best value found so far on the others."""
    from llmrec.evaluation.harness import evaluate
    from llmrec.evaluation.metrics import summarize

    rows: list[list] = []
    configs: list[InterestConfig] = []
    ranks: dict[InterestConfig, np.ndarray] = {}
    seen: dict[InterestConfig, dict[str, float]] = {}

    def run(axis: str, cfg: InterestConfig) -> dict[str, float]:
        if cfg not in seen:
            retriever.set_interests(cfg)
            ranks[cfg] = evaluate(retriever, held, progress=False).ranks["rank"].to_numpy()
            seen[cfg] = summarize(ranks[cfg])
            m = seen[cfg]
            configs.append(cfg)
            rows.append([axis, cfg.content_weight, cfg.disliked_weight, cfg.drop_disliked, cfg.liked_weight,
                         cfg.half_life_days or 0.0, m["ndcg@10"], m["recall@20"], m["mrr"]])
            log.info("interests axis=%s config=%s ndcg@10=%.4f", axis, cfg.model_dump(), m["ndcg@10"])
        return seen[cfg]

    best = InterestConfig()
    axes = [("sentiment", [{"disliked_weight": w, "drop_disliked": d}
                           for w in args.disliked_weights for d in args.drops]),
            ("recency", [{"liked_weight": w, "half_life_days": h or None}
                         for w in args.liked_weights for h in args.half_lives]),
            ("content", [{"content_weight": w} for w in args.content_weights])]
    with tqdm(total=sum(len(v) for _, v in axes) + 1, desc="interest grid", disable=not progress) as bar:
        run("current", best)
        bar.update()
        for axis, values in axes:
            for update in values:
                cfg = best.model_copy(update=update)
                if cfg.liked_weight == 0 and cfg.disliked_weight == 0 and cfg.half_life_days is not None:
                    bar.update()
                    continue  # the half-life weights nothing then
                run(axis, cfg)
                bar.update()
            best = max(seen, key=lambda c: (seen[c]["ndcg@10"], c.is_plain))
    best, interval = adopted(best, ranks)
    retriever.set_interests(best)
    return rows, best, {**seen[best], "best_interval": interval}, configs


def adopted(best: InterestConfig, ranks: dict[InterestConfig, np.ndarray]
            ) -> tuple[InterestConfig, tuple[float, float, float]]:
    """``best`` if its per-user NDCG@10 beats the current query's with a paired bootstrap 95% interval
    above 0 **and** its recall@20 is no lower (the retriever's top 20 are the rankers' candidates: a query
    that ranks better but recalls less is not a better retriever), else the current query; and (difference,
    low, high) of ``best``'s NDCG@10 against the current query."""
    from llmrec.evaluation.metrics import ndcg_at, recall_at
    from llmrec.evaluation.report import paired_bootstrap

    plain = InterestConfig()
    diff = ndcg_at(ranks[best], 10) - ndcg_at(ranks[plain], 10)
    low, high = paired_bootstrap(diff, random_state=0)
    keeps_recall = bool(recall_at(ranks[best], 20).mean() >= recall_at(ranks[plain], 20).mean())
    return (best if low > 0 and keeps_recall else plain), (float(diff.mean()), low, high)


def ablation_configs(grid: dict) -> dict[str, InterestConfig]:
    """Each dimension on alone, from a grid's rows (``--output`` of the grid): the current query; content
    off; the best sentiment setting that uses the disliked items (even when it loses to the current
    query), and the best that subtracts them when that one only drops them from the text; the liked term
    without decay and with its best half-life; and the configuration chosen."""
    plain = InterestConfig()
    configs = [InterestConfig(**c) for c in grid["configs"]]
    score = {c: row[6] for c, row in zip(configs, grid["rows"])}
    sentiment = [c for c in configs if c.disliked_weight > 0 or c.drop_disliked != "none"]
    recency = [c for c in configs if c.liked_weight > 0 and c.half_life_days is not None]
    liked = [c for c in configs if c.liked_weight > 0]
    out = {"current": plain, "content off": plain.model_copy(update={"content_weight": 0.0})}
    if sentiment:
        best = max(sentiment, key=score.get)
        out["sentiment"] = plain.model_copy(update={"disliked_weight": best.disliked_weight,
                                                    "drop_disliked": best.drop_disliked})
    negative = [c for c in sentiment if c.disliked_weight > 0]
    if negative and out["sentiment"].disliked_weight == 0:  # the best that subtracts the disliked items too
        best = max(negative, key=score.get)
        out["sentiment, negative vector"] = plain.model_copy(update={"disliked_weight": best.disliked_weight,
                                                                     "drop_disliked": best.drop_disliked})
    if liked:
        out["liked term, no decay"] = plain.model_copy(update={"liked_weight": max(liked, key=score.get)
                                                               .liked_weight})
    if recency:
        best = max(recency, key=score.get)
        out["recency"] = plain.model_copy(update={"liked_weight": best.liked_weight,
                                                  "half_life_days": best.half_life_days})
    chosen = InterestConfig(**grid["interests"])
    if chosen not in out.values():
        out["chosen"] = chosen
    return out


def run_ablation(dataset, directory: str, grid: dict, split: str, output: str | None, *,
                 progress: bool = True) -> tuple[list[list], list[str]]:
    """Evaluate :func:`ablation_configs` on ``split`` (reports saved under ``output``); rows with each
    one's NDCG@10 and recall@20 and the paired bootstrap interval of its difference to the current query."""
    from llmrec.evaluation.report import compare_reports
    from llmrec.evaluation.runner import evaluate_recommender
    from retrieval.retriever import DenseConfig, DenseRetriever

    reports = {}
    for name, cfg in ablation_configs(grid).items():
        rec = DenseRetriever(DenseConfig(retriever=directory, interests=cfg))
        reports[name] = evaluate_recommender(dataset, rec, split, recall_cutoffs=(50, 100), progress=progress)
        if output:
            tag = "".join(c if c.isalnum() else "-" for c in name)
            reports[name].save(Path(output) / f"dense.{tag}.{split}.json")
    base = reports["current"]
    rated = dataset.interactions.frame.groupby(["user", "item"])["rating"].max()
    rows = []
    for name, report in reports.items():
        cmp = compare_reports(base, report, n_resamples=10_000, seed=0).set_index("metric")
        cells = [name, json.dumps(ablation_configs(grid)[name].model_dump(exclude_defaults=True))]
        for metric in ("ndcg@10", "recall@20"):
            r = cmp.loc[metric]
            cells += [report.metrics[metric], f"{r['diff']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"]
        rows.append(cells + [_liked_target_diff(base, report, rated)])
    return rows, ["setting", "values", "ndcg@10", "vs current (95% CI)", "recall@20", "vs current (95% CI)",
                  "ndcg@10 vs current, held-out item rated >= 4 (95% CI)"]


def _liked_target_diff(base, report, rated) -> str:
    """NDCG@10 difference to ``base`` (paired bootstrap) on the users whose held-out item they rated >= 4:
    the protocol's target is the next interaction whatever its rating, so negative evidence from dislikes
    can only help where the next item is liked."""
    from llmrec.evaluation.metrics import ndcg_at
    from llmrec.evaluation.report import paired_bootstrap

    joined = base.ranks.merge(report.ranks, on=["user", "item"], suffixes=("_a", "_b"))
    keys = list(zip(joined["user"].astype(int), joined["item"].astype(int)))
    liked = (rated.reindex(keys).to_numpy() >= 4)
    diff = (ndcg_at(joined["rank_b"].to_numpy()[liked], 10) - ndcg_at(joined["rank_a"].to_numpy()[liked], 10))
    lo, hi = paired_bootstrap(diff, random_state=0)
    return f"{diff.mean():+.4f} [{lo:+.4f}, {hi:+.4f}] ({int(liked.sum())} users)"


def main(argv: list[str] | None = None) -> int:
    from llmrec.configargs import add_config_arguments, config_from_args
    from llmrec.data import load_dataset
    from llmrec.params import parse_params
    from llmrec.split import leave_last_out, sample_users
    from llmrec.tables import format_table
    from retrieval.retriever import DenseConfig, DenseRetriever
    from retrieval.train import resolve_retriever

    parser = argparse.ArgumentParser(prog="python -m eval.interests",
                                     description="choose the dense retriever's interest weights on "
                                                 "the validation split")
    add_config_arguments(parser, InterestGridArgs)
    args = config_from_args(InterestGridArgs, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    dataset = load_dataset(args.data, args.items, download=args.download)
    held = sample_users(leave_last_out(dataset, args.split), args.users, args.seed)
    directory = resolve_retriever(args.retriever, dataset, progress=args.progress)
    params = {**parse_params(args.param), "retriever": directory}
    if not args.ablation:
        retriever = DenseRetriever(DenseConfig(**params)).fit(held.train)
        every = histories(held.train.interactions)
        retriever.prepare([every[int(u)] for u in held.targets["user"] if int(u) in every])
    if args.ablation:
        grid = json.loads(Path(args.ablation).read_text())
        rows, headers = run_ablation(dataset, directory, grid, args.split, args.output,
                                     progress=args.progress)
        print(f"interest dimensions on {args.split}, each against the current query (paired bootstrap)")
        print(format_table(rows, headers))
        return 0
    rows, best, metrics, configs = grid_search(retriever, held, args, progress=args.progress)
    headers = ["axis", "content", "disliked", "drop", "liked", "half-life (d)", "ndcg@10", "recall@20", "mrr"]
    print(format_table(rows, headers))
    plain = rows[0]
    changed = {k: v for k, v in best.model_dump().items() if v != InterestConfig().model_dump()[k]}
    flags = " ".join(f"--param interests.{k}={v}" for k, v in changed.items()) or "(the defaults)"
    top = max(range(len(rows)), key=lambda i: (rows[i][6], i == 0))
    d, low, high = metrics["best_interval"]
    shown = json.dumps(configs[top].model_dump(exclude_defaults=True))
    print(f"best on {args.split} ({held.n_users} users): {shown}, ndcg@10 {rows[top][6]:.4f} vs current "
          f"{plain[6]:.4f}: {d:+.4f} [{low:+.4f}, {high:+.4f}] (paired bootstrap 95%)")
    print(f"adopted (only when that interval is above 0 and recall@20 is no lower): {flags}")
    if args.output:
        atomic_write_text(args.output, json.dumps({
            "split": args.split, "users": held.n_users, "retriever": directory, "headers": headers,
            "rows": rows, "configs": [c.model_dump(mode="json") for c in configs],
            "interests": best.model_dump(mode="json"), "changed": changed,
            "best": configs[top].model_dump(mode="json"), "best_vs_current": [d, low, high],
            "ndcg@10": metrics["ndcg@10"], "current_ndcg@10": plain[6]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m eval.interests"))

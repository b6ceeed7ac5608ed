"""``python -m eval``: evaluate a recommender on held-out interactions, or compare two reports.

    python -m eval --data ../shared/data/ml-100k --recommender popularity --split test --output pop.json
    python -m eval --recommender itemknn --param neighbors=100 --split validation
    python -m eval --recommender dense --retriever runs/retriever --split test
    python -m eval --recommender llm --retriever auto --split test   # both candidate orders + the retriever's
    python -m eval --recommender llm --retriever auto --adapter runs/lora --sampled 19   # HR@1 among 20
    python -m eval --compare pop.json knn.json
    python -m eval --explanations --retriever auto --adapter runs/lora --output expl   # faithfulness
    python -m eval --explanations --retriever auto --explain-param temperature=0.7 --split validation
    python -m eval --conversation --split test        # request parsing, constraint violations, latency
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eval import modes
from eval.runs import comparison_table, metrics_table, runs_for
from llmrec.cli import DataArgs, configure_logging
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.errors import LLMRecError
from llmrec.evaluation.report import Report, compare_reports
from llmrec.evaluation.runner import evaluate_recommender
from llmrec.llm.ranker import LLMRanker
from llmrec.params import parse_params
from llmrec.recommenders import create_recommender, registered_recommenders
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["EvalConfig", "main", "metrics_table", "parse_params"]


@dataclass(frozen=True, kw_only=True)
class EvalConfig(DataArgs):
    recommender: str = arg("popularity", help="recommender to evaluate")
    param: list[str] = arg(default_factory=list, repeat=True,
                           help="recommender config values as key=value (JSON values); repeatable")
    retriever: str | None = arg(None, help="trained retriever directory (python -m retrieval.train), or "
                                           "'auto' for the cached default one (trained on first use); "
                                           "same as --param retriever=PATH")
    orders: list[Literal["retriever", "shuffled"]] = arg(
        default_factory=lambda: ["retriever", "shuffled"],
        help="llm recommender: candidate orders shown to the LLM, one evaluation each, beside the "
             "retriever's own order on the same candidates")
    adapter: str | None = arg(None, help="llm recommender: LoRA adapter directory (python -m "
                                         "finetune.lora); same as --param adapter=PATH")
    sampled: int = arg(0, help="rank the held-out item among itself and N random unseen items (e.g. 19: HR@1 "
                               "among 20) instead of among all unseen items")
    explanations: bool = arg(False, help="evaluate the LLM's explanations of each user's top-1 item instead "
                                         "(faithfulness against the catalog and history, raw and verified, "
                                         "deletion test); zero-shot, and with --adapter beside it")
    users: int = arg(0, help="--explanations, --simulate: a seeded sample of this many held-out users "
                                  "(0: all)")
    deletion: bool = arg(True, help="--explanations: run the deletion test (two more scored prompts "
                                    "per user)")
    deletion_users: int = arg(0, help="--explanations: the deletion test on a seeded sample of this many of "
                                      "the evaluated users, the ones --users N picks (0: all of them)")
    explain_param: list[str] = arg(default_factory=list, repeat=True,
                                   help="--explanations: explainer config values as key=value (e.g. "
                                        "temperature=0.7); repeatable")
    conversation: bool = arg(False, help="evaluate conversational requests instead (eval.conversation): "
                                         "parse exact match on the constraint benchmark (--split test: its "
                                         "test templates; validation: its training templates) and the "
                                         "hand-written sets, constraint violations of answered requests, "
                                         "latency")
    simulate: bool = arg(False, help="simulated users instead (eval.simulate): each held-out user's "
                                     "simulator describes the held-out item without naming it and reacts "
                                     "to each list for up to --turns turns; hit@10 per turn for the LLM "
                                     "pipeline, "
                                     "deterministic parsing without the LLM, and the offline top-10, with "
                                     "paired intervals (--users N: a seeded sample)")
    turns: int = arg(5, help="--simulate: turns per conversation")
    items_model: str | None = arg(None, help="--simulate: item-token model directory (python -m "
                                             "finetune.items); the LLM pipeline ranks every allowed item "
                                             "with it, fused with the retriever (no title rerank)")
    items_ensemble: list[str] | None = arg(None, help="--simulate with --items-model: more item-token models "
                                                      "(other training seeds), their log-probabilities "
                                                      "averaged")
    items_weight: float | None = arg(None, help="--simulate with --items-model: the item-token LLM's weight "
                                               "against the retriever's 1 (default: the engine's; choose on "
                                               "validation)")
    items_seed_weight: float | None = arg(None, help="--simulate with --items-model: its weight on a turn "
                                                     "that names 'like X' items (default: the engine's)")
    items_seeds: bool = arg(False, help="--simulate with --items-model: write the 'like X' items after the "
                                       "history in the item-token model's prompt")
    no_llm: bool = arg(False, help="--conversation: deterministic parsing and the retriever only")
    parser_adapter: str | None = arg(None, help="--conversation: LoRA parser adapter directory (python -m "
                                                "finetune.parser) reading the loose clauses, served beside "
                                                "the ranking adapter; the zero-shot reading is reported "
                                                "beside it")
    requests: int = arg(0, help="--conversation: answer a seeded sample of this many benchmark requests (0: "
                                "all)")
    split: Literal["test", "validation"] = arg("test", help="held-out split (choose settings on validation)")
    output: str | None = arg(None, help="write the JSON report here (per-user ranks beside it)")
    nonfinite: Literal["error", "last"] = arg("error", help="NaN/inf scores: fail, or rank those items last")
    compare: tuple[str, str] | None = arg(None, help="compare two reports A B: paired bootstrap CIs of B - A")
    objectives: list[str] = arg(default_factory=list, help=(
        "sweep the re-ranking weights (diversity, calibration, popularity, popularity calibration; a "
        "popularity weight for the long tail) for these recommenders, choose them on validation within "
        "--budget, report test; with --output DIR: objectives.json and pareto.png "
        "(eval.objectives)"))
    budget: float = arg(0.02, help="--objectives: relative NDCG@10 loss allowed when choosing a weight")
    test_param: list[str] = arg(default_factory=list, repeat=True, help=(
        "--objectives: config values as key=value for the test split's run only, over --param (an "
        "item-token model refitted on the test split's fit data: --param model=runs/items-s0 --test-param "
        "model=runs/items-s0-test)"))
    slices: list[str] = arg(default_factory=list, help="NDCG@10 of saved reports by slice (held-out item in "
                                                       "the short head or long tail, history length, gender, "
                                                       "age, occupation) with paired CIs against the first "
                                                       "(eval.slices)")
    resamples: int = arg(10_000, help="bootstrap resamples for --compare")
    seed: int = arg(0, help="bootstrap seed for --compare; with --explanations also the seed of the user "
                            "sample, the deletion test's random items and its bootstrap; with --protocol "
                            "cold-items/cold-users the seed of the cold items / users")
    progress: bool = arg(True, help="show a progress bar")
    verbose: bool = arg(False, help="keep INFO logging (vLLM's included); default: warnings only")
    protocol: Literal["holdout", "cold-items", "cold-users", "replay"] = arg(
        "holdout", help="holdout: leave-last-out; cold-items: a seeded --cold-share of items lose all their "
                        "fit interactions, users whose held-out item is one of them are evaluated; "
                        "cold-users: a seeded --cold-share of users keep their first --history-lengths fit "
                        "interactions (--seed seeds both; docs/cold-start.md); replay: eval.replay")
    cold_share: float = arg(0.1, help="--protocol cold-items/cold-users: share of items / users made cold")
    history_lengths: list[int] = arg(default_factory=lambda: [1, 3, 5],
                                     help="--protocol cold-users: fit interactions each cold user keeps")


def _output_path(output: str, label: str, first: bool) -> Path:
    """The first run's report goes to ``output``; the others beside it, suffixed by their label."""
    path = Path(output)
    if first:
        return path
    tag = "".join(c if c.isalnum() else "-" for c in label).strip("-")
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def _print_reports(reports: dict[str, Report], dataset=None) -> None:
    print(metrics_table(list(reports.values()), list(reports)))
    if dataset is not None:
        from eval.beyond import beyond_table_rows

        rows, header = beyond_table_rows(reports, dataset)
        if rows:
            print("\nbeyond accuracy, top-10 lists (docs/metrics.md)")
            print(format_table(rows, header))
    for label, report in reports.items():
        k = report.extra.get("candidates")
        if k and not report.extra.get("protocol"):
            n, sub = report.subset_metrics(k)
            print(f"\n{label}: users whose held-out item is among the {k} candidates: {n} of "
                  f"{report.n_users}")
            if sub:
                print(format_table([[f"{v:.4f}" for v in sub.values()]], list(sub)))
    base = reports.get("dense (retriever order)")
    for label, report in reports.items():
        if base is not None and report is not base:
            print()
            print(comparison_table(base, report, compare_reports(base, report, n_resamples=2000, seed=0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n")[0],
                                     epilog=f"recommenders: {', '.join(registered_recommenders())}")
    add_config_arguments(parser, EvalConfig)
    config = config_from_args(EvalConfig, parser.parse_args(argv))
    configure_logging(config.verbose)
    try:
        if config.compare:
            a, b = (Report.load(p) for p in config.compare)
            print(comparison_table(a, b, compare_reports(a, b, n_resamples=config.resamples,
                                                         seed=config.seed)))
            return 0
        dataset = load_dataset(config.data, config.items, download=config.download)
        if config.slices:
            return modes.slices(config, dataset)
        params = parse_params(config.param)
        if config.protocol != "holdout":
            return modes.protocol(config, dataset, params)
        if config.objectives:
            return modes.objectives(config, dataset, params)
        if config.retriever:
            params["retriever"] = resolve_retriever(config.retriever, dataset, progress=config.progress)
        if config.adapter:
            params["adapter"] = config.adapter
        if config.explanations:
            return modes.explanations(config, dataset, params)
        if config.conversation:
            return modes.conversation(config, dataset, params)
        if config.simulate:
            return modes.simulate(config, dataset, params)
        runs = runs_for(config, params)
        reports, backend = {}, None
        for label, (name, run_params) in runs.items():
            rec = create_recommender(name, run_params)
            if isinstance(rec, LLMRanker):  # the candidate orders share one LLM engine
                rec = LLMRanker(rec.config, backend=backend)
            reports[label] = evaluate_recommender(dataset, rec, config.split,
                                                  nonfinite=config.nonfinite, recall_cutoffs=(50, 100),
                                                  progress=config.progress, sampled=config.sampled)
            if isinstance(rec, LLMRanker):
                backend = rec.backend
            if config.output:
                reports[label].save(_output_path(config.output, label, first=label == next(iter(runs))))
        if backend is not None and hasattr(backend, "close"):
            backend.close()
        _print_reports(reports, dataset)
        if config.output:
            print(f"reports written beside {config.output}")
        return 0
    except LLMRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

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
from pathlib import Path

from eval import modes
from eval.config import EvalConfig
from eval.runs import comparison_table, metrics_table, runs_for
from llmrec.cli import configure_logging
from llmrec.configargs import add_config_arguments, config_from_args, run_main
from llmrec.data import load_dataset
from llmrec.evaluation.report import Report, compare_reports
from llmrec.evaluation.runner import evaluate_recommender
from llmrec.llm.ranker import LLMRanker
from llmrec.params import parse_params
from llmrec.recommenders import create_recommender, registered_recommenders
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["EvalConfig", "main", "metrics_table", "parse_params"]


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
    ns = parser.parse_args(argv)

    def run() -> int:
        config = config_from_args(EvalConfig, ns)  # its own checks refuse here, printed by run_main
        configure_logging(config.verbose)
        return _run(config)

    return run_main(run, prog="python -m eval")


def _run(config: EvalConfig) -> int:
    """The chosen mode (module doc); an LLMRecError or a refused setting reaches :func:`run_main`."""
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
                                              progress=config.progress, sampled=config.sampled,
                                              users=config.users, seed=config.seed)
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

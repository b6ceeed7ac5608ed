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
from typing import Any, Literal

from eval.runs import comparison_table, metrics_table, runs_for
from llmrec.cli import DataArgs, configure_logging
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.errors import ConfigError, LLMRecError
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


def explanation_table(summaries: list[dict]) -> str:
    """Raw and verified faithfulness figures, one column per run."""
    keys = ["hallucinated_title_rate", "history_grounding_precision", "genre_claim_precision",
            "year_accuracy", "item_consistency", "distinctness", "evidence_relevance", "repetition_rate",
            "truncated_rate", "short_reason_rate", "cites_nothing_rate"]
    rows = []
    for stage in ("raw", "verified"):
        for k in keys:
            rows.append([f"{k} ({stage})", *(s[stage].get(k, float("nan")) for s in summaries)])
    rows.append(["reason_distinctness (raw)", *(s["raw"].get("reason_distinctness", float("nan"))
                                                 for s in summaries)])
    for k in ("explained", "unusable_rate", "replaced_rate", "llm_written_rate", "seconds_per_item"):
        rows.append([k, *(s.get(k, float("nan")) for s in summaries)])
    for k in ("mean_diff", "ci_low", "ci_high", "n"):
        rows.append([f"deletion effect {k}", *(s["deletion"].get(k, float("nan")) for s in summaries)])
    return format_table(rows, ["metric", *(s["label"] for s in summaries)])


def explainer_config(pairs: list[str]):
    """The :class:`~llmrec.explain.ExplainerConfig` of ``--explain-param key=value`` pairs."""
    from dataclasses import fields

    from llmrec.explain import ExplainerConfig

    params = parse_params(pairs)
    known = {f.name for f in fields(ExplainerConfig)}
    if unknown := sorted(set(params) - known):
        raise LLMRecError(f"unknown --explain-param {', '.join(unknown)}; the explainer takes "
                          f"{', '.join(sorted(known))}")
    try:
        return ExplainerConfig(**params)
    except (TypeError, ValueError) as err:
        raise LLMRecError(f"--explain-param: {err}") from err


def _explanations(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    from eval.explanations import evaluate_explanations, write_explanation_report

    llm_params = {k: v for k, v in params.items() if k != "shuffle_candidates"}
    # with the adapter (if any): its engine serves both
    first = LLMRanker(LLMRanker.config_class(**llm_params))
    base = "zero-shot" if not first.config.model else f"model {Path(first.config.model).name}"
    rankers = [(base, LLMRanker(first.config.model_copy(update={"adapter": None}), backend=first.backend))]
    if first.config.adapter:
        rankers.append((f"adapter {Path(first.config.adapter).name}", first))
    explainer = explainer_config(config.explain_param)
    runs = [evaluate_explanations(dataset, ranker, config.split, users=config.users, seed=config.seed,
                                  label=label,
                                  deletion=config.deletion, deletion_users=config.deletion_users,
                                  config=explainer, progress=config.progress) for label, ranker in rankers]
    first.close()
    print(explanation_table([r.summary for r in runs]))
    if config.output:
        write_explanation_report(config.output, runs)
        print(f"explanations and report written to {config.output}/")
    return 0


def _conversation(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    import json

    from eval.conversation import evaluate_conversation, summary_rows
    from llmrec.artifacts import atomic_write_text
    from llmrec.converse import Conversations, ConverseConfig

    retriever = params.pop("retriever", "auto")
    settings = ConverseConfig(retriever=retriever, llm=not config.no_llm, ranker=params,
                              parser_adapter=config.parser_adapter)
    with Conversations(dataset, settings) as conv:
        report = evaluate_conversation(conv, split="test" if config.split == "test" else "train",
                                       seed=config.seed, requests=config.requests, progress=config.progress)
    report["llm"] = not config.no_llm
    report["parser_adapter"] = config.parser_adapter
    print(format_table(summary_rows(report), ["figure", "value"]))
    if config.output:
        atomic_write_text(config.output, json.dumps(report, indent=1))
        print(f"report written to {config.output}")
    return 0


def _objectives(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    import json

    from eval.objectives import objective_rows, objective_sweep, plot_pareto
    from llmrec.artifacts import atomic_write_text

    results = []
    for name in config.objectives:
        run_params = dict(params)
        if name in ("dense", "llm"):
            run_params["retriever"] = resolve_retriever(config.retriever or "auto", dataset,
                                                        progress=config.progress)
        else:
            run_params = {k: v for k, v in run_params.items() if k not in ("retriever", "adapter")}
        rec = create_recommender(name, run_params)
        try:
            results.append(objective_sweep(rec, dataset, budget=config.budget, progress=config.progress,
                                           seed=config.seed))
        finally:
            rec.close()
    rows, header = objective_rows(results)
    from eval.beyond import beyond_table_rows

    every = {f"{res['recommender']} {objective}": report for res in results
             for objective, report in res["reports"].items()}
    full_rows, full_header = beyond_table_rows(every, dataset)
    if not config.output:
        for res in results:
            res.pop("reports")
    print(f"re-ranking on test at the weights chosen on validation (within {config.budget:.0%} NDCG@10)")
    print(format_table(rows, header))
    print("\nevery figure of the test lists, un-reranked and at the chosen weights (docs/metrics.md)")
    print(format_table(full_rows, full_header))
    if config.output:
        out = Path(config.output)
        for res in results:  # the test reports, for python -m eval --slices / --compare
            for objective, report in res.pop("reports").items():
                report.save(out / f"{res['recommender']}.{objective}.test.json")
        atomic_write_text(out / "objectives.json", json.dumps(results, indent=1))
        plot_pareto(results, out / "pareto.png")
        print(f"sweep written to {out}/objectives.json, plot to {out}/pareto.png")
    return 0


def _slices(config: EvalConfig, dataset) -> int:
    import json

    from eval.slices import slice_report, slice_rows
    from llmrec.artifacts import atomic_write_text

    reports = {}
    for path in config.slices:
        report = Report.load(path)
        reports[f"{report.recommender} ({Path(path).stem})" if report.recommender in
                {r.recommender for r in reports.values()} else report.recommender] = report
    result = slice_report(reports, dataset, n_resamples=config.resamples, seed=config.seed)
    rows, header = slice_rows(result, list(reports))
    print(format_table(rows, header))
    for attribute, per in result["gaps"].items():
        for label, g in per.items():
            print(f"largest {attribute} gap, {label}: {g['gap']:.4f} ({g['best']} vs {g['worst']})")
    if config.output:
        atomic_write_text(config.output, json.dumps(result, indent=1))
        print(f"slices written to {config.output}")
    return 0


def _simulate(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    import json

    from eval.simulate import simulate, simulation_rows
    from llmrec.artifacts import atomic_write_text
    from llmrec.converse import Conversations, ConverseConfig
    from llmrec.split import leave_last_out

    held = leave_last_out(dataset, config.split)
    retriever = params.pop("retriever", "auto")
    systems: dict[str, Conversations] = {}
    try:
        if not config.no_llm:
            name = "item-token LLM pipeline" if config.items_model else "LLM pipeline"
            weight = {k: v for k, v in (("items_weight", config.items_weight),
                                        ("items_seed_weight", config.items_seed_weight),
                                        ("items_ensemble", config.items_ensemble)) if v is not None}
            systems[name] = Conversations(held.train, ConverseConfig(
                retriever=retriever, ranker=params, items_model=config.items_model,
                items_seeds=config.items_seeds, **weight))
        first = next(iter(systems.values()), None)
        systems["no LLM (deterministic + retriever)"] = Conversations(
            held.train, ConverseConfig(retriever=retriever, llm=False),
            ranker=first.ranker if first else None)
        report = simulate(held, systems, users=config.users, seed=config.seed, turns=config.turns,
                          offline=first or systems["no LLM (deterministic + retriever)"],
                          progress=config.progress)
    finally:
        for conv in systems.values():
            conv.close()
    rows, header = simulation_rows(report)
    print(f"simulated users: {report['users']} ({config.split}), up to {config.turns} turns, "
          f"hit@{report['k']}")
    print(format_table(rows, header))
    for c in report["paired"]:
        print(f"{c['a']} - {c['b']}: {c['diff']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]"
              f"{'' if c['excludes_zero'] else ' (interval includes 0)'}")
    if config.output:
        atomic_write_text(config.output, json.dumps(report, indent=1))
        print(f"report written to {config.output}")
    return 0


def _protocol(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    if config.protocol == "replay":
        try:
            from eval.replay import run_replay
        except ModuleNotFoundError as err:
            if err.name != "eval.replay":
                raise
            raise ConfigError("--protocol replay needs eval/replay.py, which is not built yet") from None
        return run_replay(config, dataset)
    from eval.protocols import run_protocol

    return run_protocol(config, dataset, params)


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
            return _slices(config, dataset)
        params = parse_params(config.param)
        if config.protocol != "holdout":
            return _protocol(config, dataset, params)
        if config.objectives:
            return _objectives(config, dataset, params)
        if config.retriever:
            params["retriever"] = resolve_retriever(config.retriever, dataset, progress=config.progress)
        if config.adapter:
            params["adapter"] = config.adapter
        if config.explanations:
            return _explanations(config, dataset, params)
        if config.conversation:
            return _conversation(config, dataset, params)
        if config.simulate:
            return _simulate(config, dataset, params)
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

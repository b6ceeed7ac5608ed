"""The modes of ``python -m eval`` beside scoring a recommender: explanation faithfulness
(``--explanations``), request parsing and constraints (``--conversation``), re-ranking objectives
(``--objectives``), slices of saved reports (``--slices``), simulated users (``--simulate``) and the other
protocols (``--protocol``).  Each takes the parsed :class:`~eval.config.EvalConfig`, prints its tables and
writes its report to ``--output``; :func:`eval.cli.main` dispatches to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.config import EvalConfig
from llmrec.errors import ConfigError, LLMRecError
from llmrec.evaluation.report import Report
from llmrec.llm.ranker import LLMRanker
from llmrec.params import parse_params
from llmrec.recommenders import create_recommender
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["conversation", "explainer_config", "explanation_table", "explanations", "objectives", "protocol",
           "simulate", "slices"]


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


def explanations(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
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


def conversation(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
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


def objectives(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    import json

    from eval.objectives import objective_rows, objective_sweep, plot_pareto
    from llmrec.artifacts import atomic_write_text

    results = []
    test_params = parse_params(config.test_param)
    for name in config.objectives:
        run_params = dict(params)
        if name in ("dense", "llm"):
            run_params["retriever"] = resolve_retriever(config.retriever or "auto", dataset,
                                                        progress=config.progress)
        elif name != "genllm":  # the item-token model fuses a retriever only when --param names one
            run_params = {k: v for k, v in run_params.items() if k not in ("retriever", "adapter")}
        rec = create_recommender(name, run_params)
        test_rec = create_recommender(name, {**run_params, **test_params}) if test_params else None
        try:
            results.append(objective_sweep(rec, dataset, budget=config.budget, progress=config.progress,
                                           seed=config.seed, test_recommender=test_rec))
        finally:
            rec.close()
            if test_rec is not None:
                test_rec.close()
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


def slices(config: EvalConfig, dataset) -> int:
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


def simulate(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
    import json

    from eval.simulate import simulate as simulate_users
    from eval.simulate import simulation_rows
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
        report = simulate_users(held, systems, users=config.users, seed=config.seed, turns=config.turns,
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


def protocol(config: EvalConfig, dataset, params: dict[str, Any]) -> int:
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

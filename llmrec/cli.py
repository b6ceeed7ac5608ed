"""The ``llmrec`` command: an LLM-as-recommender on your interaction data.

    llmrec                         # main job: evaluate the recommenders on MovieLens-100K, print the table
    llmrec evaluate [--split S]    # the same, explicitly
    llmrec recommend --user 42     # top-k titles with scores for one user
    llmrec history --user 42       # the user's history as the LLM and retriever read it
    llmrec models                  # resolve (and on first use convert) the default LLM and embedder
    llmrec serve-llm [--lora N=DIR]  # an OpenAI-compatible vLLM server for the remote LLM backend
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from typing import Literal

from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.errors import LLMRecError
from llmrec.history import HistoryFormat, histories, render_history
from llmrec.llm.serve import ServerConfig
from llmrec.tables import format_table

__all__ = ["main"]

MAIN_JOB_RECOMMENDERS = ("popularity", "itemknn", "dense", "llm")
#: recommenders that read the retriever (``--retriever``)
RETRIEVER_RECOMMENDERS = ("dense", "llm")


@dataclass(frozen=True, kw_only=True)
class DataArgs:
    data: str | None = arg(None, help="MovieLens-100K directory, or interactions table with --items "
                                      "(default: $LLMREC_DATA, ../shared/data/ml-100k, or the download cache)")
    items: str | None = arg(None, help="item table (CSV/Parquet) when --data is an interactions table")
    download: bool = arg(False, help="download MovieLens-100K from GroupLens when it is not on disk")


@dataclass(frozen=True, kw_only=True)
class EvaluateArgs(DataArgs):
    split: Literal["test", "validation"] = arg("test", help="held-out split")
    recommenders: list[str] = arg(default_factory=lambda: list(MAIN_JOB_RECOMMENDERS),
                                  help="recommenders to evaluate")
    retriever: str = arg("auto", help="trained retriever directory for dense/llm, or 'auto' for the cached "
                                      "default one (trained on first use, a few minutes)")
    adapter: str | None = arg(None, help="llm: LoRA adapter directory (python -m finetune.lora)")
    output_dir: str | None = arg(None, help="write one JSON report per recommender here")
    progress: bool = arg(True, help="show progress bars")


@dataclass(frozen=True, kw_only=True)
class RecommendArgs(DataArgs):
    user: int = arg(help="user id")
    k: int = arg(10, help="how many items to recommend")
    recommender: str = arg("llm", help="recommender (default: the two-stage retriever + LLM ranker)")
    retriever: str = arg("auto", help="trained retriever directory for dense/llm, or 'auto' for the cached "
                                      "default one (trained on first use, a few minutes)")
    backend: Literal["vllm", "remote", "transformers"] = arg("vllm", help="llm: the in-process vLLM engine, "
                                                                         "or a remote server at --url")
    url: str | None = arg(None, help="llm with --backend remote: the server's API root "
                                     "(llmrec serve-llm prints it)")
    adapter: str | None = arg(None, help="llm: LoRA adapter directory (python -m finetune.lora); with --backend "
                                         "remote the server must serve it (llmrec serve-llm --lora NAME=DIR)")
    explain: int = arg(3, help="llm: explain the top N recommendations (0: none)")
    param: list[str] = arg(default_factory=list, help="recommender config values as key=value (JSON values)")


@dataclass(frozen=True, kw_only=True)
class HistoryArgs(DataArgs):
    user: int = arg(help="user id")
    max_items: int = arg(10, help="most recent items shown")


def _evaluate(args: EvaluateArgs) -> int:
    from pathlib import Path

    from eval.cli import metrics_table
    from eval.runner import evaluate_recommender

    dataset = load_dataset(args.data, args.items, download=args.download)
    reports = []
    for name in args.recommenders:
        params = _retriever_params(name, args.retriever, dataset, args.progress)
        if name == "llm" and args.adapter:
            params["adapter"] = args.adapter
        report = evaluate_recommender(dataset, name, args.split, params=params, progress=args.progress)
        if args.output_dir:
            report.save(Path(args.output_dir) / f"{name}.{args.split}.json")
        reports.append(report)
    print(f"{dataset.name}: {len(dataset.interactions):,} interactions, {len(dataset.catalog):,} items, "
          f"leave-last-out {args.split} split")
    print(metrics_table(reports))
    return 0


def _retriever_params(name: str, retriever: str, dataset, progress: bool) -> dict:
    if name not in RETRIEVER_RECOMMENDERS:
        return {}
    from retrieval.train import resolve_retriever

    return {"retriever": resolve_retriever(retriever, dataset, progress=progress)}


def _user_history(args: RecommendArgs | HistoryArgs):
    """The dataset and the user's history; an unknown user is an error naming the valid range."""
    dataset = load_dataset(args.data, args.items, download=args.download)
    hist = histories(dataset.interactions)
    if args.user not in hist:
        raise LLMRecError(f"unknown user {args.user}; users range {min(hist)}..{max(hist)}")
    return dataset, hist[args.user]


def _recommend(args: RecommendArgs) -> int:
    from eval.cli import parse_params
    from llmrec.recommenders import create_recommender

    if args.adapter and args.recommender != "llm":
        raise LLMRecError(f"--adapter is for the llm recommender, not {args.recommender!r}")
    dataset, history = _user_history(args)
    params = {**_retriever_params(args.recommender, args.retriever, dataset, progress=True),
              **parse_params(args.param)}
    if args.recommender == "llm":
        params.update(backend=args.backend, url=args.url, **({"adapter": args.adapter} if args.adapter else {}))
    rec = create_recommender(args.recommender, params).fit(dataset)
    try:
        recs = rec.recommend(history, dataset.catalog.item_ids, n=args.k)
        if args.recommender == "llm" and args.explain and not recs.meta.get("degraded"):
            from llmrec.explain import Explainer

            recs = Explainer(rec).explain(history, recs, k=args.explain)
    finally:
        if hasattr(rec, "close"):
            rec.close()
    rows = [[i + 1, dataset.catalog.display_title(int(item)), float(score)]
            for i, (item, score) in enumerate(zip(recs.items, recs.scores))]
    print(f"top {args.k} for user {args.user} ({args.recommender}):")
    print(format_table(rows, ["#", "title", "score"]))
    for e in recs.meta.get("explanations", []):
        flag = " [verified facts: the LLM's explanation failed a check]" if e.replaced else ""
        print(f"* {dataset.catalog.short_title(e.item)}: {e.text}{flag}")
    if recs.meta.get("degraded"):
        print(f"degraded: true (the LLM was unavailable; retriever order shown): {recs.meta['reason']}")
    return 0


def _history(args: HistoryArgs) -> int:
    dataset, history = _user_history(args)
    print(render_history(history, dataset.catalog, HistoryFormat(max_items=args.max_items)))
    return 0


def _models(_: object) -> int:
    from llmrec.models import resolve_embedder, resolve_llm

    print(f"llm:      {resolve_llm()}")
    print(f"embedder: {resolve_embedder()}")
    return 0


def _serve_llm(config: ServerConfig) -> int:
    from llmrec.llm.serve import serve

    return serve(config)


COMMANDS = {
    "evaluate": (EvaluateArgs, _evaluate, "evaluate recommenders on held-out interactions (the main job)"),
    "recommend": (RecommendArgs, _recommend, "recommend items for one user"),
    "history": (HistoryArgs, _history, "show a user's history as text"),
    "models": (None, _models, "resolve the default LLM and embedder (converting the LLM on first use)"),
    "serve-llm": (ServerConfig, _serve_llm, "run an OpenAI-compatible vLLM server for the remote LLM backend"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["evaluate", *argv]  # the main job
    parser = argparse.ArgumentParser(prog="llmrec", description=__doc__.split("\n")[0] or "llmrec")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (cls, _, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if cls is not None:
            add_config_arguments(p, cls)
    ns = parser.parse_args(argv)
    cls, run, _ = COMMANDS[ns.command]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        return run(config_from_args(cls, ns) if cls is not None else ns)
    except LLMRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

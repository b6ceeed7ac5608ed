"""``llmrec evaluate`` (and plain ``llmrec``): the main job — evaluate the recommenders on MovieLens-100K.

Each recommender is fitted on the split's fit data and ranks every held-out item; the table of metrics is
printed, with progress bars while it runs (vLLM's logging stays at warning level unless ``--verbose``).
The command is added to ``llmrec`` through the ``llmrec.commands`` entry point ``evaluate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eval.cli import metrics_table
from llmrec.cli import Command, DataArgs
from llmrec.configargs import arg
from llmrec.data import Dataset, load_dataset
from llmrec.evaluation import evaluate_recommender
from retrieval.train import resolve_retriever

__all__ = ["COMMAND", "MAIN_JOB_RECOMMENDERS", "EvaluateArgs", "run"]

log = logging.getLogger(__name__)

MAIN_JOB_RECOMMENDERS = ("popularity", "itemknn", "dense", "llm")
#: recommenders that read the retriever (``--retriever``)
RETRIEVER_RECOMMENDERS = ("dense", "llm")
#: The line the main job ends with.
NEXT = ("next: `llmrec recommend --user 42 --k 10` for one user's recommendations with explanations; "
        "`llmrec --help` for every command; the README's five-minute tour for the rest")


@dataclass(frozen=True, kw_only=True)
class EvaluateArgs(DataArgs):
    split: Literal["test", "validation"] = arg("test", help="held-out split")
    recommenders: list[str] = arg(default_factory=lambda: list(MAIN_JOB_RECOMMENDERS),
                                  help="recommenders to evaluate")
    retriever: str = arg("auto", help="trained retriever directory for dense/llm, or 'auto' for the cached "
                                      "default one (trained on first use, about ten minutes)")
    adapter: str | None = arg(None, help="llm: LoRA adapter directory (python -m finetune.lora)")
    output_dir: str | None = arg(None, help="write one JSON report per recommender here")
    progress: bool = arg(True, help="show progress bars")


def _params(name: str, args: EvaluateArgs, dataset: Dataset) -> dict:
    """The recommender's config values: the retriever resolved against the whole log (``auto``: the cached
    default one), and the adapter for ``llm``."""
    params: dict = {}
    if name in RETRIEVER_RECOMMENDERS:
        params["retriever"] = resolve_retriever(args.retriever, dataset, progress=args.progress)
    if name == "llm" and args.adapter:
        params["adapter"] = args.adapter
    return params


def run(args: EvaluateArgs) -> int:
    dataset = load_dataset(args.data, args.items, download=args.download)
    reports = []
    for name in args.recommenders:
        report = evaluate_recommender(dataset, name, args.split, params=_params(name, args, dataset),
                                      progress=args.progress)
        if args.output_dir:
            report.save(Path(args.output_dir) / f"{name}.{args.split}.json")
        reports.append(report)
    print(f"{dataset.name}: {len(dataset.interactions):,} interactions, {len(dataset.catalog):,} items, "
          f"leave-last-out {args.split} split")
    print(metrics_table(reports))
    print(NEXT)
    return 0


COMMAND = Command(EvaluateArgs, run, "evaluate recommenders on held-out interactions (the main job)")

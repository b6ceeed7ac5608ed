"""``python -m eval --protocol cold-items|cold-users``: evaluate a recommender under a cold-start protocol.

    python -m eval --protocol cold-items --recommender dense --retriever auto --output runs/ci/dense.json
    python -m eval --protocol cold-users --history-lengths 1 3 5 --recommender itemknn --output cu/knn.json

The protocols (fit data, users evaluated) are :mod:`llmrec.protocols`.  Every report is the usual
:class:`~llmrec.evaluation.report.Report` with ``extra.protocol`` naming the protocol and its settings, so
``python -m eval --compare`` pairs two reports of the same protocol on the same users and refuses two of
different ones.  ``--retriever auto`` is here the default retriever trained on the protocol's
:func:`~llmrec.protocols.pretraining_splits` (cached after its first training, about ten minutes): the one
trained on the whole log has seen the interactions the protocol removes.  Under cold-items, popularity is
evaluated beside any other recommender as the reference (recall@20 ratio and paired intervals).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from eval.runs import comparison_table, metrics_table, runs_for
from llmrec.artifacts import read_manifest
from llmrec.data import Dataset
from llmrec.errors import ArtifactError, ConfigError
from llmrec.evaluation.harness import evaluate
from llmrec.evaluation.metrics import DEFAULT_CUTOFFS
from llmrec.evaluation.report import Report, compare_reports
from llmrec.llm.ranker import LLMRanker
from llmrec.protocols import ColdStart, pretraining_splits
from llmrec.recommenders import Recommender, create_recommender
from llmrec.split import HoldoutSplit
from retrieval.store import RETRIEVER_KIND
from retrieval.train import ensure_retriever

__all__ = ["check_item_models", "evaluate_on_split", "protocol_retriever", "run_protocol"]

log = logging.getLogger(__name__)

REFERENCE = "popularity (reference)"


def evaluate_on_split(dataset: Dataset, held: HoldoutSplit, rec: Recommender, protocol: str, *,
                      nonfinite: str = "error", progress: bool = True, sampled: int = 0) -> Report:
    """Fit ``rec`` on ``held.train``, rank each held-out item, and report with ``extra.protocol``."""
    t0 = time.perf_counter()
    rec.fit(held.train)
    fit_s = time.perf_counter() - t0
    result = evaluate(rec, held, nonfinite=nonfinite, progress=progress, sampled=sampled)
    eval_s = time.perf_counter() - t0 - fit_s
    return Report(
        recommender=rec.name, split=held.name, config=rec.describe()["config"], ranks=result.ranks,
        lists=result.lists,
        dataset={"name": dataset.name, "fingerprint": dataset.interactions.fingerprint(),
                 "n_items": len(dataset.catalog), "n_interactions": len(dataset.interactions),
                 "fit_fingerprint": held.train.interactions.fingerprint(),
                 "fit_interactions": len(held.train.interactions)},
        cutoffs=(1, 5, 10) if sampled else DEFAULT_CUTOFFS, recall_cutoffs=() if sampled else (50, 100),
        extra={"protocol": protocol + (f"; sampled: held-out item + {sampled} random unseen items"
                                       if sampled else ""),
               "fit_seconds": round(fit_s, 3), "eval_seconds": round(eval_s, 3),
               "nonfinite_users": result.nonfinite_users, "nonfinite_policy": nonfinite, **rec.stats()})


def protocol_retriever(spec: str | None, dataset: Dataset, protocol: ColdStart, *,
                       progress: bool = True) -> str | None:
    """The retriever directory for ``spec`` under ``protocol``: ``"auto"`` -> the default retriever trained
    on the protocol's pretraining splits (trained and cached on first use); a directory trained on the whole
    log is refused (it has seen what the protocol removes); None/"untrained" -> None."""
    if spec in (None, "untrained"):
        return None
    if spec == "auto":
        return str(ensure_retriever(dataset, progress=progress, splits=pretraining_splits(dataset, protocol)))
    try:
        trained_on = read_manifest(spec, RETRIEVER_KIND).get("dataset")
    except ArtifactError as err:
        raise ConfigError(f"--retriever {spec}: {err}") from None
    if trained_on == dataset.interactions.fingerprint():
        raise ConfigError(f"--retriever {spec} was trained on the whole interaction log, including what the "
                          f"{protocol.protocol} protocol removes; use --retriever auto (trained on the "
                          "protocol's fit data)")
    return spec


def check_item_models(params: dict[str, Any], dataset: Dataset, protocol: ColdStart, split: str) -> None:
    """Refuse an item-token model (``genllm``'s ``model`` and ``ensemble``) not trained on ``protocol``'s
    pretraining split for ``split``: one trained on the whole log, or under another protocol, share or seed,
    has learned what this protocol removes."""
    from llmrec.llm.items import ITEM_MODEL_KIND

    models = [m for m in [params.get("model"), *(params.get("ensemble") or [])] if m]
    if not models:
        return
    validation, test = pretraining_splits(dataset, protocol)
    wanted = (validation if split == "validation" else test).train.interactions.fingerprint()
    for model in models:
        try:
            trained_on = read_manifest(model, ITEM_MODEL_KIND).get("trained_on")
        except ArtifactError as err:
            raise ConfigError(f"--param model={model}: {err}") from None
        if trained_on != wanted:
            raise ConfigError(
                f"item-token model {model} was not trained on the {protocol.protocol} protocol's pretraining "
                f"data for the {split} split (share {protocol.share:g}, seed {protocol.seed}): it may have "
                f"learned what the protocol removes. Train one with python -m finetune.items --split {split} "
                f"--protocol {protocol.protocol} --cold-share {protocol.share:g} --cold-seed {protocol.seed}")


def _output(output: str, length: int | None, label: str, first: bool) -> Path:
    path = Path(output)
    if length is not None:
        path = path.with_name(f"{path.stem}.h{length}{path.suffix}")
    if first:
        return path
    tag = "".join(c if c.isalnum() else "-" for c in label).strip("-")
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def run_protocol(config, dataset: Dataset, params: dict[str, Any]) -> int:
    """Evaluate ``config.recommender`` (for ``llm``: each candidate order and the retriever's) under
    ``config.protocol`` on ``config.split``; print the tables, write the reports; returns the exit code."""

    if config.adapter or params.get("adapter"):
        raise ConfigError(f"--protocol {config.protocol}: a LoRA adapter is trained on the whole log, "
                          "including what the protocol removes; evaluate the zero-shot ranker")
    if config.history_lengths and any(n < 1 for n in config.history_lengths):
        raise ConfigError(f"--history-lengths must be positive, got {config.history_lengths}")
    lengths = list(config.history_lengths) if config.protocol == "cold-users" else [None]
    protocols = [ColdStart(config.protocol, share=config.cold_share, seed=config.seed,
                           **({"history_length": n} if n else {})) for n in lengths]
    if config.recommender == "genllm":
        check_item_models(params, dataset, protocols[0], config.split)
    spec = config.retriever or params.get("retriever")
    if spec is not None:  # one retriever serves every history length (the cold users are not in it)
        params["retriever"] = protocol_retriever(spec, dataset, protocols[0], progress=config.progress)
    # llm: --param text_weight=W is its retriever's (LLMRankerConfig has none), for its candidates and the
    # retriever-order run beside it
    text_weight = params.pop("text_weight", None) if config.recommender == "llm" else None
    runs = runs_for(config, params)
    if config.protocol == "cold-items" and config.recommender != "popularity":
        runs[REFERENCE] = ("popularity", {})
    reports: dict[str, Report] = {}
    backend = None
    for length, protocol in zip(lengths, protocols):
        held = protocol.split(dataset, config.split)
        print(f"{protocol.describe()} ({config.split}): {held.n_users} users evaluated, "
              f"{len(held.train.interactions)} fit interactions")
        for i, (label, (name, run_params)) in enumerate(runs.items()):
            if text_weight is not None and name == "dense":
                run_params = {**run_params, "text_weight": text_weight}
            rec = create_recommender(name, run_params)
            if isinstance(rec, LLMRanker):  # the candidate orders and history lengths share one engine
                rec = LLMRanker(rec.config, backend=backend,
                                retriever=_llm_retriever(rec.config, text_weight))
            row = label if length is None else f"{label} (first {length})"
            reports[row] = evaluate_on_split(dataset, held, rec, protocol.describe(),
                                             nonfinite=config.nonfinite, progress=config.progress,
                                             sampled=config.sampled)
            if isinstance(rec, LLMRanker):
                backend = rec.backend
            if config.output:
                reports[row].save(_output(config.output, length, label, first=i == 0))
    if backend is not None and hasattr(backend, "close"):
        backend.close()
    print(metrics_table(list(reports.values()), list(reports)))
    if REFERENCE in reports:
        _reference_tables(reports)
    if config.output:
        print(f"reports written beside {config.output}")
    return 0


def _llm_retriever(config, text_weight: float | None) -> Recommender | None:
    """The LLM ranker's retriever with ``text_weight`` (None: the ranker builds its own)."""
    if text_weight is None:
        return None
    return create_recommender("dense", {"retriever": config.retriever, "text_weight": text_weight,
                                        **({"profile": True} if getattr(config, "profile", False) else {})})


def _reference_tables(reports: dict[str, Report]) -> None:
    """Each report against popularity on the same users: recall@20 ratio and paired intervals."""

    ref = reports[REFERENCE]
    for label, report in reports.items():
        if report is ref:
            continue
        a, b = ref.metrics["recall@20"], report.metrics["recall@20"]
        ratio = "inf (popularity 0)" if a == 0 and b > 0 else f"{b / a:.2f}x" if a else "n/a (both 0)"
        print(f"\n{label}: recall@20 of the cold held-out items {b:.4f} vs popularity {a:.4f}: {ratio}")
        print(comparison_table(ref, report, compare_reports(ref, report, n_resamples=2000, seed=0)))

"""``python -m eval.fusion``: choose the LLM ranker's fusion weight on the validation split.

The final score is ``llm_weight * llm + retriever_weight * z(retriever)``; only the ratio matters, so
``llm_weight`` stays 1 and each ``retriever_weight`` in the grid is evaluated (plus the retriever's own
order, ``llm_weight`` 0).  The LLM scores every user once: the candidates and prompts are the same for
every weight, and a memoising backend answers the repeats.  The weight with the best validation NDCG@10
is printed (and written with ``--output``); pass it to the ranker as ``--param retriever_weight=W``.

    python -m eval.fusion --retriever auto --weights 0 0.25 0.5 1 2 4
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass

from eval.choice import ChoiceArgs
from llmrec.artifacts import atomic_write_text
from llmrec.configargs import add_config_arguments, arg, config_from_args, run_main
from llmrec.data import load_dataset
from llmrec.evaluation.harness import evaluate
from llmrec.evaluation.metrics import summarize
from llmrec.llm.backends import LLMBackend
from llmrec.llm.memo import MemoBackend
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.split import leave_last_out, sample_users
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["FusionConfig", "main", "select_fusion_weight"]


@dataclass(frozen=True, kw_only=True)
class FusionConfig(ChoiceArgs):
    weights: list[float] = arg(default_factory=lambda: [0.0, 0.25, 0.5, 1.0, 2.0, 4.0],
                               help="retriever weights tried with llm_weight 1")


def select_fusion_weight(ranker_config: LLMRankerConfig, held, weights: list[float], backend: LLMBackend,
                         *, progress: bool = True) -> tuple[list[list], float]:
    """Rows (weight, metrics...) for the retriever's order and each weight; the weight with the best
    NDCG@10."""
    memo = MemoBackend(backend)
    rows, best = [], None
    for llm_w, ret_w in [(0.0, 1.0)] + [(1.0, w) for w in weights]:
        cfg = ranker_config.model_copy(update={"llm_weight": llm_w, "retriever_weight": ret_w})
        ranker = LLMRanker(cfg, backend=memo).fit(held.train)
        m = summarize(evaluate(ranker, held, progress=progress).ranks["rank"].to_numpy())
        label = "retriever order" if llm_w == 0 else ret_w
        rows.append([label, m["ndcg@5"], m["ndcg@10"], m["mrr"]])
        if llm_w and (best is None or m["ndcg@10"] > best[1]):
            best = (ret_w, m["ndcg@10"])
    return rows, best[0]


def main(argv: list[str] | None = None) -> int:
    from llmrec.params import parse_params

    parser = argparse.ArgumentParser(prog="python -m eval.fusion", description=__doc__.split("\n")[0])
    add_config_arguments(parser, FusionConfig)
    cfg = config_from_args(FusionConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    dataset = load_dataset(cfg.data, cfg.items, download=cfg.download)
    held = sample_users(leave_last_out(dataset, cfg.split), cfg.users, cfg.seed)
    ranker_config = LLMRankerConfig(**{**parse_params(cfg.param),
                                       "retriever": resolve_retriever(cfg.retriever, dataset,
                                                                      progress=cfg.progress)})
    backend = LLMRanker(ranker_config).backend  # started the way the ranker starts it
    rows, best = select_fusion_weight(ranker_config, held, cfg.weights, backend, progress=cfg.progress)
    headers = ["retriever weight (llm 1)", "ndcg@5", "ndcg@10", "mrr"]
    print(format_table(rows, headers))
    print(f"chosen on {cfg.split} ({held.n_users} users): retriever_weight={best} (llm_weight=1)")
    if cfg.output:
        atomic_write_text(cfg.output, json.dumps({"split": cfg.split, "users": held.n_users, "rows": rows,
                                                  "headers": headers, "retriever_weight": best,
                                                  "ranker": ranker_config.model_dump(mode="json")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m eval.fusion"))

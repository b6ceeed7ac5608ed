"""``python -m eval.sampling``: choose the explanations' sampling temperature on the validation split.

Greedy decoding gives users in similar situations the same words: a model keeps the likeliest of several
equivalent predicates, so explanations repeat across users (low distinctness).  Sampling within the answer's
schema varies the choice without loosening what can be claimed — the schema admits only the citable evidence
and, per citation, the predicates true of it (:mod:`llmrec.explain.phrases`).  For every user of the split (a
seeded sample with ``--users``) the LLM's top-1 item is explained once per temperature, from one ranking and
one influence computation; the table gives each temperature's faithfulness figures (raw) and distinctness, and
the lowest temperature whose distinctness reaches ``--target`` is chosen (the most distinct one when none
does).  Pass it on as ``--explain-param temperature=T``.

    python -m eval.sampling --retriever runs/retriever --param model=runs/lora-merged \\
        --temperatures 0 0.5 0.7 1
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass

from tqdm.auto import tqdm

from eval.choice import ChoiceArgs
from eval.explanations import held_out_users, summarize, top1_jobs
from llmrec.artifacts import atomic_write_text
from llmrec.configargs import add_config_arguments, arg, config_from_args, run_main
from llmrec.data import load_dataset
from llmrec.errors import LLMRecError
from llmrec.explain import Explainer, ExplainerConfig
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.params import parse_params
from llmrec.tables import format_table
from retrieval.train import resolve_retriever

__all__ = ["SamplingConfig", "compare_temperatures", "main", "select_temperature"]

FIGURES = ("hallucinated_title_rate", "history_grounding_precision", "genre_claim_precision", "year_accuracy",
           "item_consistency", "distinctness", "reason_distinctness")


@dataclass(frozen=True, kw_only=True)
class SamplingConfig(ChoiceArgs):
    temperatures: list[float] = arg(default_factory=lambda: [0.0, 0.5, 0.7, 1.0], help="temperatures tried")
    target: float = arg(0.9, help="the distinctness the chosen temperature must reach")
    seed: int = arg(0, help="seed of the user sample and of the sampled words")


def compare_temperatures(dataset, ranker: LLMRanker, split, temperatures: list[float], *, users: int = 0,
                         seed: int = 0, batch_users: int = 64, progress: bool = True) -> list[dict]:
    """Per temperature, the summary (:func:`eval.explanations.summarize`, no deletion test) of explaining each
    user's top-1 item; every temperature explains the same items from the same influence."""
    hs, ids = held_out_users(dataset, ranker, split, users, seed)
    explainers = [Explainer(ranker, ExplainerConfig(temperature=t, seed=seed)) for t in temperatures]
    out: list[list] = [[] for _ in temperatures]
    bar = tqdm(total=len(ids), desc="explanations per temperature", unit="user", disable=not progress)
    for start in range(0, len(ids), batch_users):
        batch = [hs[u] for u in ids[start:start + batch_users]]
        jobs = top1_jobs(ranker, batch)
        influence = explainers[0].influence(jobs)
        for explained, explainer in zip(out, explainers):
            explained += explainer.explain_many(jobs, influence)
        bar.update(len(batch))
    bar.close()
    return [{"temperature": t, "users": len(ids), **summarize(e, hs, explainers[0], [], [], seed)}
            for t, e in zip(temperatures, out)]


def select_temperature(summaries: list[dict], target: float) -> float:
    """The lowest temperature whose raw distinctness reaches ``target``; the most distinct one when none
    does."""
    if not summaries:
        raise ValueError("no temperatures to choose from")
    reached = [s["temperature"] for s in summaries if s["raw"].get("distinctness", 0.0) >= target]
    if reached:
        return min(reached)
    return max(summaries, key=lambda s: (s["raw"].get("distinctness", 0.0), -s["temperature"]))["temperature"]


def temperature_table(summaries: list[dict]) -> str:
    rows = [[f"{s['temperature']:g}", *(s["raw"].get(k, float("nan")) for k in FIGURES), s["replaced_rate"]]
            for s in summaries]
    return format_table(rows, ["temperature", *FIGURES, "replaced_rate"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.sampling", description=__doc__.split("\n")[0])
    add_config_arguments(parser, SamplingConfig)
    config = config_from_args(SamplingConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        if any(t < 0 for t in config.temperatures):
            raise LLMRecError(f"temperatures must be >= 0, got {config.temperatures}")
        dataset = load_dataset(config.data, config.items, download=config.download)
        params = parse_params(config.param)
        params["retriever"] = resolve_retriever(config.retriever, dataset, progress=config.progress)
        ranker = LLMRanker(LLMRankerConfig(**params))
        summaries = compare_temperatures(dataset, ranker, config.split, config.temperatures,
                                         users=config.users, seed=config.seed, progress=config.progress)
        ranker.close()
    except LLMRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    chosen = select_temperature(summaries, config.target)
    print(temperature_table(summaries))
    print(f"chosen on {config.split} ({summaries[0]['users']} users): temperature {chosen:g} "
          f"(the lowest with distinctness >= {config.target:g}, else the most distinct)")
    if config.output:
        atomic_write_text(config.output, json.dumps({"split": config.split, "chosen": chosen,
                                                     "target": config.target, "summaries": summaries},
                                                    indent=2, default=str))
        print(f"written to {config.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, prog="python -m eval.sampling"))

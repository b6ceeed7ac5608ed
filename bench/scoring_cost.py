"""``python -m bench.scoring_cost``: one-pass scoring time per user for one vLLM engine configuration.

Scores the retriever's K candidates for batches of test users (as the evaluation harness hands them to the
ranker) after a warm-up on other users, and prints seconds per user and the mean prompt length.  Engine
options are per run, so compare configurations by running it once each on a quiet machine:

    python -m bench.scoring_cost --retriever runs/retriever
    python -m bench.scoring_cost --retriever runs/retriever --enforce-eager --block-size 128
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass

import numpy as np

from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.history import histories
from llmrec.llm.backends import VLLMBackend, VLLMConfig, engine_options
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.split import leave_last_out
from llmrec.tables import format_table


@dataclass(frozen=True)
class CostConfig:
    data: str | None = arg(None, help="MovieLens-100K directory")
    retriever: str | None = arg(None, help="trained retriever directory (default: untrained text retriever)")
    batch: int = arg(64, help="users per engine call (the evaluation harness uses 64)")
    batches: int = arg(2, help="timed batches")
    details: str = arg("titles", help="prompt item details: titles or full")
    enforce_eager: bool = arg(False, help="skip torch.compile")
    block_size: int | None = arg(None, help="KV-cache block size (default: 32 on CPU)")
    max_num_batched_tokens: int | None = arg(None, help="tokens per engine step (default: vLLM's)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring_cost", description=__doc__.split("\n")[0])
    add_config_arguments(parser, CostConfig)
    cfg = config_from_args(CostConfig, parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING)
    test = leave_last_out(load_dataset(cfg.data), "test")
    engine = VLLMBackend(VLLMConfig(enforce_eager=cfg.enforce_eager, block_size=cfg.block_size,
                                       max_num_batched_tokens=cfg.max_num_batched_tokens))
    ranker = LLMRanker(LLMRankerConfig(retriever=cfg.retriever, details=cfg.details),
                       backend=engine).fit(test.train)
    hs = list(histories(test.train.interactions).values())
    ranker.llm_scores_many([ranker.request(h) for h in hs[-8:]])  # warm-up, other users
    rows = []
    for b in range(cfg.batches):
        jobs = [ranker.request(h) for h in hs[b * cfg.batch:(b + 1) * cfg.batch]]
        tokens = np.mean([len(engine.tokenizer.encode(ranker.prompts(h, c)[0][0])) for h, c in jobs])
        t0 = time.perf_counter()
        ranker.llm_scores_many(jobs)
        rows.append([b + 1, len(jobs), f"{tokens:.0f}", f"{(time.perf_counter() - t0) / len(jobs):.3f}"])
    opts = engine_options(cfg.enforce_eager, cfg.block_size)
    print(f"engine: {'eager' if opts['enforce_eager'] else 'compiled'}, block size "
          f"{opts.get('block_size', 'default')}, max_num_batched_tokens "
          f"{cfg.max_num_batched_tokens or 'default'}")
    print(format_table(rows, ["batch", "users", "mean prompt tokens", "s/user"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

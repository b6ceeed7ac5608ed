"""``llmrec batch`` / ``python -m batch``: every user's top-N recommendations into Parquet, on Ray Data.

    llmrec batch --recommender dense --output runs/batch-dense              # a local Ray, 2 workers
    llmrec batch --recommender llm --users users.parquet --output out/      # users from a Parquet column
    llmrec batch --recommender llm --param backend=remote --param url=http://10.0.0.5:8000/v1 \\
        --address ray://head:10001 --workers 16 --output s3-mounted/out     # a Ray cluster

The fit data is the split's (``--split test``: as ``python -m eval``, so the lists equal the evaluation's
top-20 lists for the same configuration) or the whole log (``--split all``: tonight's recommendations).
Run the same command again after a crash: finished blocks are kept, only the missing ones are computed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from batch.job import BatchSpec, run_batch
from llmrec.cli import Command, DataArgs, configure_logging
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.errors import ConfigError, LLMRecError
from llmrec.params import parse_params
from llmrec.split import leave_last_out
from retrieval.train import resolve_retriever

__all__ = ["COMMAND", "BatchArgs", "main", "run"]


@dataclass(frozen=True, kw_only=True)
class BatchArgs(DataArgs):
    output: str = arg(help="directory the Parquet parts and batch.json are written to (resumed when it "
                           "holds the same run)")
    recommender: str = arg("llm", help="registered recommender (popularity, itemknn, dense, llm, ...)")
    param: list[str] = arg(default_factory=list, repeat=True,
                           help="recommender config values as key=value (JSON values); repeatable")
    retriever: str | None = arg("auto", help="dense/llm: trained retriever directory, or 'auto' for the "
                                             "cached default one (resolved once, before the workers start)")
    users: str | None = arg(None, help="Parquet file with a 'user' column (default: every user the split "
                                       "evaluates, or every user with --split all)")
    split: Literal["test", "validation", "all"] = arg("test", help="fit data: a split's, as python -m eval, "
                                                                   "or the whole log")
    top_n: int = arg(20, help="items per user")
    block_size: int = arg(64, help="users per block (the unit of work and of resuming)")
    workers: int = arg(2, help="Ray Data actors, each holding its own recommender (and LLM backend)")
    address: str | None = arg(None, help="Ray cluster address (None: a local Ray started in-process)")

    def __post_init__(self):
        for name in ("top_n", "block_size", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


def read_users(path: str) -> list[int]:
    """The ``user`` column of a Parquet file, as ints."""
    try:
        frame = pd.read_parquet(path, columns=["user"])
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"--users {path}: cannot read a 'user' column from it ({err})") from err
    if frame["user"].isna().any():
        raise ConfigError(f"--users {path}: the 'user' column has missing values")
    return [int(u) for u in frame["user"]]


def run(cfg: BatchArgs) -> int:
    load = {"data": cfg.data, "items": cfg.items, "download": cfg.download}
    dataset = load_dataset(**load)
    params = parse_params(cfg.param)
    if cfg.recommender in ("dense", "llm", "genllm", "rerank") and "retriever" not in params:
        params["retriever"] = resolve_retriever(cfg.retriever, dataset)
    if cfg.users:
        users = read_users(cfg.users)
    elif cfg.split == "all":
        users = sorted(int(u) for u in dataset.interactions.frame["user"].unique())
    else:
        users = [int(u) for u in leave_last_out(dataset, cfg.split).targets["user"]]
    spec = BatchSpec(cfg.recommender, params, cfg.split, dataset.interactions.fingerprint(), users,
                     cfg.block_size, cfg.top_n)
    result = run_batch(spec, load, cfg.output, workers=cfg.workers, address=cfg.address)
    print(f"{len(users)} users in {result.blocks} blocks -> {cfg.output}: {len(result.computed)} computed, "
          f"{result.skipped} already finished"
          + (f", {result.seconds:.1f} s ({result.users_per_second:.1f} users/s with {cfg.workers} "
             f"worker(s))" if result.computed else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="log at INFO level")
    add_config_arguments(parser, BatchArgs)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return run(config_from_args(BatchArgs, args))
    except LLMRecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


COMMAND = Command(BatchArgs, run, "batch recommendations for many users on Ray Data, resumable (Parquet)")

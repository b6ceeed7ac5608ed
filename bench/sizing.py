"""``python -m bench.sizing``: how many machines a deployment needs, computed from figures measured here.

    python -m bench.sizing --batch runs/scale/batch-llm.json --index runs/scale/index-1m.json \\
        --users 10000000 --items 10000000 --hours 8

Inputs are the JSON files the benchmarks write: ``bench.batch --output`` (users/s of the batch job with 1
and 2 workers, one LLM backend per worker) and ``bench.index_scale --output`` (bytes per item of each index
type at 1M items).  Nothing is assumed that was not measured: a GPU replica's throughput is an input
(``--gpu-users-per-second``, from ``bench.batch`` or ``bench.ranking`` run on a GPU); without it the GPU
row says it is not measured.  Index memory scales linearly with the item count for every type here (flat
and IVF store each vector once; HNSW adds a fixed number of links per item).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.errors import ConfigError
from llmrec.tables import format_table


@dataclass(frozen=True, kw_only=True)
class SizingArgs:
    batch: str = arg(help="bench.batch --output JSON of the LLM recommender")
    index: str | None = arg(None, help="bench.index_scale --output JSON")
    users: int = arg(10_000_000, help="users to score in one nightly run")
    items: int = arg(10_000_000, help="catalog size for the index memory estimate")
    hours: float = arg(8.0, help="the nightly window")
    gpu_users_per_second: float | None = arg(None, help="users/s of one GPU vLLM replica, measured with "
                                                        "bench.batch or bench.ranking on that GPU")


def replicas(users: int, users_per_second: float, hours: float) -> int:
    """Replicas needed to score ``users`` within ``hours`` at ``users_per_second`` each."""
    if users_per_second <= 0 or hours <= 0:
        raise ConfigError(f"users/s and hours must be positive, got {users_per_second} and {hours}")
    return math.ceil(users / (users_per_second * hours * 3600))


def batch_rows(measured: dict, cfg: SizingArgs) -> list[list]:
    rows = []
    by_workers = {r["workers"]: r for r in measured["rows"]}
    one = by_workers.get(1)
    if one:
        rows.append([f"CPU replica ({measured.get('cpu', 'this machine')}, 1 worker)", one["users_per_s"],
                     replicas(cfg.users, one["users_per_s"], cfg.hours)])
    two = by_workers.get(2)
    if one and two:
        speed_up = two["users_per_s"] / one["users_per_s"]
        rows.append([f"CPU machine, 2 workers (measured speed-up {speed_up:.2f}x)", two["users_per_s"],
                     replicas(cfg.users, two["users_per_s"], cfg.hours)])
    if cfg.gpu_users_per_second:
        rows.append(["GPU replica (given)", cfg.gpu_users_per_second,
                     replicas(cfg.users, cfg.gpu_users_per_second, cfg.hours)])
    else:
        rows.append(["GPU replica", "not measured (no GPU here)", "-"])
    return rows


def index_rows(measured: dict, items: int) -> list[list]:
    return [[r["index"], r["bytes_per_item"], f"{r['bytes_per_item'] * items / 2**30:.1f}",
             r.get("recall@10", "-"), r["p50_ms"], r["p99_ms"]] for r in measured["rows"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sizing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, SizingArgs)
    cfg = config_from_args(SizingArgs, parser.parse_args(argv))
    measured = json.loads(Path(cfg.batch).read_text())
    print(f"Nightly batch: {cfg.users:,} users in {cfg.hours:g} h, recommender {measured['recommender']!r}")
    print(format_table(batch_rows(measured, cfg), ["replica", "users/s each", "replicas needed"]))
    if cfg.index:
        scale = json.loads(Path(cfg.index).read_text())
        n = scale["rows"][0]["items"]
        print(f"\nItem index at {cfg.items:,} items (bytes/item measured at {n:,} items, "
              f"dim {scale['rows'][0]['dim']})")
        print(format_table(index_rows(scale, cfg.items), ["index", "bytes/item", "GiB", "recall@10",
                                                          "p50 ms", "p99 ms"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench.batch``: the batch job's throughput with 1 and 2 local Ray workers, and its agreement
with ``python -m eval``'s top-20 lists for the same configuration.

    python -m bench.batch --recommender dense --report runs/base/dense.test.json
    python -m bench.batch --recommender llm --users 200 --report runs/llm.test.json

Each worker count runs the whole job into a fresh directory (actors' start and fitting included: that is
what a nightly job pays).  With ``--report`` (a ``python -m eval --output`` report of the same recommender
and configuration on the test split) the share of users whose batch list equals the report's is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from batch.job import BatchSpec, read_results, run_batch
from llmrec.artifacts import atomic_write_text
from llmrec.cli import DataArgs, configure_logging
from llmrec.configargs import add_config_arguments, arg, config_from_args
from llmrec.data import load_dataset
from llmrec.evaluation.report import Report
from llmrec.params import parse_params
from llmrec.split import leave_last_out, seeded_sample
from llmrec.tables import format_table
from retrieval.train import resolve_retriever


@dataclass(frozen=True, kw_only=True)
class BenchBatchArgs(DataArgs):
    recommender: str = arg("dense", help="registered recommender")
    param: list[str] = arg(default_factory=list, repeat=True, help="recommender config key=value")
    retriever: str = arg("auto", help="dense/llm: retriever directory or 'auto'")
    users: int = arg(0, help="a seeded sample of this many test users (0: all)")
    workers: list[int] = arg(default_factory=lambda: [1, 2], help="worker counts to time")
    block_size: int = arg(32, help="users per block")
    report: str | None = arg(None, help="python -m eval report to compare the lists with")
    output: str | None = arg(None, help="JSON file for the table (python -m bench.sizing reads it)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchBatchArgs)
    cfg = config_from_args(BenchBatchArgs, parser.parse_args(argv))
    configure_logging()
    load = {"data": cfg.data, "items": cfg.items, "download": cfg.download}
    dataset = load_dataset(**load)
    params = parse_params(cfg.param)
    if cfg.recommender in ("dense", "llm") and "retriever" not in params:
        params["retriever"] = resolve_retriever(cfg.retriever, dataset)
    users = seeded_sample([int(u) for u in leave_last_out(dataset, "test").targets["user"]], cfg.users)
    spec = BatchSpec(cfg.recommender, params, "test", dataset.interactions.fingerprint(), users,
                     cfg.block_size, 20)
    expected = None
    if cfg.report:
        rep = Report.load(cfg.report)
        expected = {int(u): [int(i) for i in row if i >= 0] for u, row in zip(rep.ranks["user"], rep.lists)}
    rows, base = [], None
    for workers in cfg.workers:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_batch(spec, load, Path(tmp) / "out", workers=workers)
            seconds = time.perf_counter() - t0
            frame = read_results(Path(tmp) / "out")
        base = base or seconds
        lists = {int(u): g.sort_values("rank")["item"].tolist() for u, g in frame.groupby("user")}
        same = (sum(lists.get(u) == expected.get(u) for u in users) / len(users)) if expected else None
        rows.append({"workers": workers, "users": len(users), "seconds": round(seconds, 1),
                     "users_per_s": round(len(users) / seconds, 3), "speed_up": round(base / seconds, 2),
                     "lists_equal_to_eval": None if same is None else round(same, 4)})
    print(format_table([list(r.values()) for r in rows], list(rows[0])))
    if cfg.output:
        atomic_write_text(cfg.output, json.dumps({"recommender": cfg.recommender, "params": params,
                                                  "cpu": cpu_name(), "rows": rows}, indent=2))
    return 0


def cpu_name() -> str:
    """The CPU model and whether it has bf16 units (figures depend on it)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    models = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    model = models[0] if models else "unknown"
    return f"{model} ({os.cpu_count()} cores, {'AVX512-BF16' if 'avx512_bf16' in info else 'no bf16 units'})"


if __name__ == "__main__":
    raise SystemExit(main())

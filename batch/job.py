"""Batch recommendation: every user's top-N list, computed in blocks by Ray Data actors, resumable.

The users (all of the split's evaluated users, or a Parquet file's ``user`` column) are cut into blocks of
``block_size`` users in ascending id order.  A Ray Data dataset of the *pending* block numbers is mapped by
a pool of actors (``workers`` of them, one CPU each); each actor builds the recommender once (an embedded
vLLM engine, or a remote vLLM endpoint through ``--param backend=remote``), fits it on the split's fit data
and, for each block it receives, ranks all unseen items of each user exactly as the evaluation harness does
(:func:`llmrec.evaluation.harness.top_items`: score descending, ties by smaller item id) and writes the
block's rows as ``part-NNNNN.parquet`` atomically (a temporary file, then a rename).  A crash leaves
finished blocks whole and unfinished ones absent, so a restart computes only the missing blocks and never
writes a row twice.  ``batch.json`` records what the run is (recommender, parameters, split, data
fingerprint, users, block size); resuming into a directory made by another configuration is refused,
naming what differs.

Ray's own vLLM processor (``ray.data.llm``) is not used: it needs ``ray[llm]``, which pins the CUDA ``vllm``
package (with the CPU build it fails at import: ``No module named 'boto3'`` first, then the CUDA engine),
and it generates text, while the ranker scores candidates in one pass through llmrec's own backend.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from llmrec.artifacts import atomic_write_bytes, atomic_write_text
from llmrec.errors import ArtifactError, ConfigError

__all__ = ["BATCH_FILE", "BatchSpec", "BlockRanker", "pending_blocks", "rank_block", "read_results",
           "run_batch", "user_blocks"]

log = logging.getLogger(__name__)

BATCH_FILE = "batch.json"
FORMAT_VERSION = 1
COLUMNS = ["user", "rank", "item", "score"]


@dataclass(frozen=True)
class BatchSpec:
    """What a batch run computes; equal specs give identical output files (the resume key)."""

    recommender: str
    params: dict[str, Any]
    split: Literal["test", "validation", "all"]  # fit data: a split's (as python -m eval) or the whole log
    data_fingerprint: str
    users: list[int]
    block_size: int
    top_n: int

    def key(self) -> dict[str, Any]:
        """The fields a resumed run must share (the users as a digest, not a list)."""
        out = asdict(self)
        out["users"] = hashlib.sha256(json.dumps(self.users).encode()).hexdigest()[:16]
        out["n_users"] = len(self.users)
        return out


def user_blocks(users: list[int], block_size: int) -> list[list[int]]:
    """``users`` sorted and cut into consecutive blocks of ``block_size`` (the last may be shorter)."""
    if block_size < 1:
        raise ConfigError(f"block_size must be >= 1, got {block_size}")
    ordered = sorted({int(u) for u in users})
    return [ordered[i:i + block_size] for i in range(0, len(ordered), block_size)]


def part_path(output: Path, block: int) -> Path:
    return output / f"part-{block:05d}.parquet"


def pending_blocks(output: Path, n_blocks: int) -> list[int]:
    """Block numbers whose part file is not written yet."""
    return [b for b in range(n_blocks) if not part_path(output, b).exists()]


def prepare_output(output: Path, spec: BatchSpec) -> None:
    """Create ``output`` with its ``batch.json``, or check that an existing one is the same run."""
    output.mkdir(parents=True, exist_ok=True)
    path = output / BATCH_FILE
    key = {"format_version": FORMAT_VERSION, **spec.key()}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ArtifactError(f"{path} is unreadable ({err}); remove the directory to start over") from err
        differs = sorted(k for k in set(old) | set(key) if k not in ("finished", "seconds")
                         and old.get(k) != key.get(k))
        if differs:
            raise ArtifactError(f"{output} holds another batch run (differs in {', '.join(differs)}); use "
                                f"another --output or remove it to start over")
        return
    stray = sorted(p.name for p in output.glob("part-*.parquet"))
    if stray:
        raise ArtifactError(f"{output} has part files but no {BATCH_FILE} ({stray[0]}, ...): not a batch run "
                            "this command can resume")
    atomic_write_text(path, json.dumps(key, indent=2))


def rank_block(recommender, histories: dict, all_items: np.ndarray, users: list[int], top_n: int
               ) -> pd.DataFrame:
    """Rows (user, rank, item, score) of each user's top ``top_n`` among the items not in their history,
    in the harness's order (so the lists equal ``python -m eval``'s for the same configuration)."""
    from llmrec.evaluation.harness import top_items
    from llmrec.history import History

    hist = [histories.get(u, History.empty(u)) for u in users]
    recommender.prepare(hist)
    rows = []
    for h in hist:
        candidates = all_items[~np.isin(all_items, h.items)]
        scores = np.asarray(recommender.score(h, candidates), dtype=np.float64)
        best = top_items(candidates, scores, top_n)
        best = best[best >= 0]
        by_item = dict(zip(candidates.tolist(), scores.tolist()))
        rows.extend((h.user, r, int(i), by_item[int(i)]) for r, i in enumerate(best.tolist()))
    return pd.DataFrame(rows, columns=COLUMNS).astype({"user": "int64", "rank": "int32", "item": "int64"})


class BlockRanker:
    """A Ray Data actor: builds and fits the recommender once, then ranks and writes whole blocks."""

    def __init__(self, load: dict[str, Any], spec: dict[str, Any], blocks: list[list[int]], output: str):
        from llmrec.history import histories
        from llmrec.recommenders import create_recommender

        data = _fit_data(load, spec["split"])
        self.recommender = create_recommender(spec["recommender"], spec["params"]).fit(data)
        self.histories = histories(data.interactions)
        self.all_items = data.catalog.item_ids
        self.blocks, self.output, self.top_n = blocks, Path(output), spec["top_n"]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done, rows, seconds = [], [], []
        for block in batch["block"].tolist():
            t0 = time.perf_counter()
            frame = rank_block(self.recommender, self.histories, self.all_items, self.blocks[block],
                               self.top_n)
            atomic_write_bytes(part_path(self.output, block), frame.to_parquet(index=False))
            done.append(block)
            rows.append(len(frame))
            seconds.append(time.perf_counter() - t0)
        return {"block": np.array(done), "rows": np.array(rows), "seconds": np.array(seconds)}

    def __del__(self):  # an embedded engine's processes stop with the actor
        rec = getattr(self, "recommender", None)
        if rec is not None:
            rec.close()


def _fit_data(load: dict[str, Any], split: str):
    from llmrec.data import load_dataset
    from llmrec.split import leave_last_out

    dataset = load_dataset(**load)
    return dataset if split == "all" else leave_last_out(dataset, split).train


@dataclass
class BatchResult:
    output: Path
    blocks: int
    computed: list[int] = field(default_factory=list)  # blocks computed by this run
    skipped: int = 0  # blocks found finished
    seconds: float = 0.0  # wall time of the blocks computed (actors' start included)
    n_users_computed: int = 0

    @property
    def users_per_second(self) -> float:
        return 0.0 if not self.seconds else self.n_users_computed / self.seconds


def run_batch(spec: BatchSpec, load: dict[str, Any], output: str | Path, *, workers: int = 2,
              address: str | None = None, progress: bool = True) -> BatchResult:
    """Compute the missing blocks of ``spec`` into ``output`` on a Ray cluster (``address``; None: a local
    one started in-process with ``workers`` CPUs) with ``workers`` actors."""
    import ray
    from tqdm.auto import tqdm

    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    output = Path(output)
    prepare_output(output, spec)
    blocks = user_blocks(spec.users, spec.block_size)
    todo = pending_blocks(output, len(blocks))
    result = BatchResult(output, len(blocks), skipped=len(blocks) - len(todo))
    if not todo:
        log.info("batch_done_already output=%s blocks=%d", output, len(blocks))
        return result
    started = False
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.WARNING)
        started = True
    try:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        t0 = time.perf_counter()
        ds = ray.data.from_items([{"block": b} for b in todo], override_num_blocks=len(todo))
        mapped = ds.map_batches(BlockRanker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers),
                                num_cpus=1,
                                fn_constructor_kwargs={"load": load, "spec": asdict(spec), "blocks": blocks,
                                                       "output": str(output)})
        with tqdm(total=len(todo), desc="batch blocks", unit="block", disable=not progress) as bar:
            for row in mapped.iter_rows():
                result.computed.append(int(row["block"]))
                result.n_users_computed += len(blocks[int(row["block"])])
                bar.update()
        result.seconds = time.perf_counter() - t0
    finally:
        if started:
            ray.shutdown()
    missing = pending_blocks(output, len(blocks))
    if missing:
        raise ArtifactError(f"batch run ended with {len(missing)} block(s) unwritten (first {missing[0]})")
    log.info("batch_done output=%s blocks=%d computed=%d skipped=%d seconds=%.1f", output, len(blocks),
             len(result.computed), result.skipped, result.seconds)
    return result


def read_results(output: str | Path) -> pd.DataFrame:
    """Every row of a finished batch run, sorted by user and rank; an unfinished run is an error."""
    output = Path(output)
    path = output / BATCH_FILE
    if not path.exists():
        raise ArtifactError(f"{output} is not a batch run (no {BATCH_FILE})")
    key = json.loads(path.read_text())
    n_blocks = -(-key["n_users"] // key["block_size"])
    missing = pending_blocks(output, n_blocks)
    if missing:
        raise ArtifactError(f"{output} is unfinished: {len(missing)} of {n_blocks} blocks missing (run the "
                            "same command again to finish it)")
    frames = [pd.read_parquet(part_path(output, b)) for b in range(n_blocks)]
    return pd.concat(frames, ignore_index=True).sort_values(["user", "rank"]).reset_index(drop=True)

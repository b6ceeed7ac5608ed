"""Batch recommendation on Ray Data: the evaluation's lists, in blocks, resumable after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch.job import BATCH_FILE, BatchSpec, pending_blocks, rank_block, read_results, run_batch, user_blocks
from llmrec.data import load_dataset
from llmrec.errors import ArtifactError
from llmrec.evaluation.harness import evaluate
from llmrec.history import histories
from llmrec.recommenders import create_recommender
from llmrec.split import leave_last_out

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict:
    """A random log of 40 users over 30 items, written as the two tables ``load_dataset`` reads."""
    root = tmp_path_factory.mktemp("batchdata")
    rng = np.random.default_rng(0)
    rows = [(u, int(i), float(rng.integers(1, 6)), t) for u in range(1, 41)
            for t, i in enumerate(rng.choice(30, rng.integers(4, 12), replace=False) + 1)]
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(root / "log.csv", index=False)
    pd.DataFrame({"item": range(1, 31), "title": [f"Film {i}" for i in range(1, 31)],
                  "year": 1990, "genres": "Drama"}).to_csv(root / "items.csv", index=False)
    return {"data": str(root / "log.csv"), "items": str(root / "items.csv"), "download": False}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def spec_for(tables: dict, recommender: str = "itemknn", block_size: int = 8) -> BatchSpec:
    dataset = load_dataset(**tables)
    users = [int(u) for u in leave_last_out(dataset, "test").targets["user"]]
    return BatchSpec(recommender, {}, "test", dataset.interactions.fingerprint(), users, block_size, 10)


def eval_lists(tables: dict, recommender: str, top_n: int = 10) -> dict[int, list[int]]:
    """``python -m eval``'s top lists for the same configuration, by user."""
    held = leave_last_out(load_dataset(**tables), "test")
    rec = create_recommender(recommender).fit(held.train)
    out = evaluate(rec, held, progress=False, top_n=top_n)
    return {int(u): [int(i) for i in row if i >= 0] for u, row in zip(out.ranks["user"], out.lists)}


def batch_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    return {int(u): g.sort_values("rank")["item"].tolist() for u, g in frame.groupby("user")}


@pytest.mark.parametrize("recommender", ["popularity", "itemknn"])
def test_a_block_ranks_exactly_as_the_evaluation_harness(tables, recommender):
    held = leave_last_out(load_dataset(**tables), "test")
    rec = create_recommender(recommender).fit(held.train)
    users = [int(u) for u in held.targets["user"]]
    frame = rank_block(rec, histories(held.train.interactions), held.train.catalog.item_ids, users, 10)
    assert batch_lists(frame) == eval_lists(tables, recommender)
    assert not frame.duplicated(["user", "rank"]).any()


def test_users_are_cut_into_sorted_blocks():
    assert user_blocks([5, 3, 9, 3, 1], 2) == [[1, 3], [5, 9]]


def test_two_actors_give_the_evaluation_lists_and_one_row_per_user_and_rank(tables, local_ray, tmp_path):
    spec = spec_for(tables)
    result = run_batch(spec, tables, tmp_path / "out", workers=2, progress=False)
    assert sorted(result.computed) == list(range(result.blocks)) and result.skipped == 0
    frame = read_results(tmp_path / "out")
    assert batch_lists(frame) == eval_lists(tables, "itemknn")
    assert not frame.duplicated(["user", "rank"]).any()


def test_a_restart_computes_only_the_missing_blocks(tables, local_ray, tmp_path):
    spec = spec_for(tables)
    out = tmp_path / "out"
    run_batch(spec, tables, out, workers=2, progress=False)
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    (out / "part-00001.parquet").unlink()  # as if the run died before that block was written
    result = run_batch(spec, tables, out, workers=1, progress=False)
    assert result.computed == [1] and result.skipped == result.blocks - 1
    assert all((out / n).stat().st_mtime_ns == t for n, t in kept.items() if n != "part-00001.parquet")
    assert batch_lists(read_results(out)) == eval_lists(tables, "itemknn")


def test_a_directory_of_another_run_is_refused_naming_the_difference(tables, local_ray, tmp_path):
    run_batch(spec_for(tables), tables, tmp_path / "out", workers=1, progress=False)
    with pytest.raises(ArtifactError, match="recommender"):
        run_batch(spec_for(tables, "popularity"), tables, tmp_path / "out", workers=1, progress=False)


def test_an_unfinished_run_cannot_be_read_as_a_result(tables, local_ray, tmp_path):
    out = tmp_path / "out"
    run_batch(spec_for(tables), tables, out, workers=1, progress=False)
    (out / "part-00000.parquet").unlink()
    with pytest.raises(ArtifactError, match="unfinished"):
        read_results(out)


def test_killed_halfway_and_restarted_it_finishes_without_recomputing_or_duplicating(tables, tmp_path):
    """The real command, killed (SIGKILL, its whole process group: Ray included) once some blocks are
    written, then run again."""
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "batch", "--data", tables["data"], "--items", tables["items"],
            "--recommender", "itemknn", "--block-size", "1", "--workers", "1", "--top-n", "10",
            "--output", str(out)]
    n_blocks = len(spec_for(tables).users)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("part-*.parquet"))) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the batch job never wrote 3 blocks"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert 3 <= len(done) < n_blocks and (out / BATCH_FILE).exists()
    rerun = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(done)} already finished" in rerun.stdout
    assert all((out / n).stat().st_mtime_ns == t for n, t in done.items())
    assert not pending_blocks(Path(out), n_blocks)
    frame = read_results(out)
    assert not frame.duplicated(["user", "rank"]).any()
    assert batch_lists(frame) == eval_lists(tables, "itemknn")

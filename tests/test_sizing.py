"""The sizing estimate is arithmetic on measured figures, and says when a figure was not measured."""

from __future__ import annotations

import json

import pytest

from bench.sizing import main, replicas
from llmrec.errors import ConfigError


def test_replicas_cover_the_users_within_the_window():
    assert replicas(10_000_000, 2.0, 8) == 174  # 2 users/s * 28,800 s = 57,600 users per replica
    assert replicas(57_600, 2.0, 8) == 1 and replicas(57_601, 2.0, 8) == 2
    with pytest.raises(ConfigError, match="positive"):
        replicas(10, 0.0, 8)


def test_the_report_uses_the_measured_files_and_marks_the_gpu_row_unmeasured(tmp_path, capsys):
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"recommender": "llm", "cpu": "EPYC", "rows": [
        {"workers": 1, "users_per_s": 2.0}, {"workers": 2, "users_per_s": 3.0}]}))
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"rows": [{"index": "faiss-hnsw", "items": 1_000_000, "dim": 384,
                                           "bytes_per_item": 1700.0, "recall@10": 0.95, "p50_ms": 0.2,
                                           "p99_ms": 0.5}]}))
    assert main(["--batch", str(batch), "--index", str(index), "--items", "10000000"]) == 0
    out = capsys.readouterr().out
    assert "174" in out and "116" in out  # 1 worker: 174 replicas; 2 workers at 3 users/s: 116
    assert "not measured" in out
    assert "15.8" in out  # 1700 bytes * 10M items = 15.8 GiB

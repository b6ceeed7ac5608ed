"""Slices of users (eval.slices): every user in one group per attribute, small groups named as such,
paired intervals and demographic gaps from the per-user NDCG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eval.slices import slice_groups, slice_report, slice_rows
from llmrec.errors import ArtifactError
from llmrec.evaluation.metrics import ndcg_at
from llmrec.evaluation.report import Report
from llmrec.split import leave_last_out


def _report(ml100k, name: str, ranks: np.ndarray, split: str = "test") -> Report:
    targets = leave_last_out(ml100k, split).targets
    frame = pd.DataFrame({"user": targets["user"], "item": targets["item"], "rank": ranks,
                          "candidates": 1600})
    return Report(name, split, {}, frame, dataset={"fingerprint": ml100k.interactions.fingerprint()})


def test_the_loader_reads_user_profiles_and_splits_keep_them(ml100k):
    assert ml100k.users.loc[1].to_dict() == {"age": 24, "gender": "M", "occupation": "technician",
                                             "zip": "85711"}
    assert leave_last_out(ml100k, "test").train.users is ml100k.users


def test_every_user_falls_in_exactly_one_group_of_each_attribute(ml100k):
    targets = leave_last_out(ml100k, "test").targets
    groups = slice_groups(ml100k, "test", targets["user"].to_numpy(), targets["item"].to_numpy())
    assert set(groups) == {"held-out item", "history length", "gender", "age", "occupation"}
    for series in groups.values():
        assert len(series) == len(targets) and series.notna().all()
    assert set(groups["held-out item"]) == {"short head", "long tail"}
    assert groups["gender"].value_counts().to_dict() == ml100k.users["gender"].value_counts().to_dict()


def test_groups_report_ndcg_paired_intervals_and_the_largest_gap(ml100k):
    rng = np.random.default_rng(0)
    n = len(leave_last_out(ml100k, "test").targets)
    a = rng.integers(0, 40, n)
    reports = {"a": _report(ml100k, "a", a), "same": _report(ml100k, "same", a)}
    result = slice_report(reports, ml100k, n_resamples=200)
    gender = {c["group"]: c for c in result["attributes"]["gender"]}
    users = reports["a"].ranks["user"].to_numpy()
    women = ml100k.users.loc[users, "gender"].to_numpy() == "F"
    assert gender["F"]["ndcg"]["a"] == pytest.approx(ndcg_at(a[women], 10).mean())
    assert gender["F"]["paired"]["same"] == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    small = [c for c in result["attributes"]["occupation"] if c["users"] < 30]
    assert small and all(c["too_small"] and "ndcg" not in c for c in small)
    gap = result["gaps"]["gender"]["a"]
    assert gap["gap"] == pytest.approx(abs(gender["F"]["ndcg"]["a"] - gender["M"]["ndcg"]["a"]))
    rows, header = slice_rows(result, ["a", "same"])
    assert all(len(r) == len(header) for r in rows)
    assert any(r[3] == "too few users" for r in rows)


def test_reports_of_other_splits_are_not_sliced_together(ml100k):
    n_test = len(leave_last_out(ml100k, "test").targets)
    n_val = len(leave_last_out(ml100k, "validation").targets)
    with pytest.raises(ArtifactError, match="another split"):
        slice_report({"a": _report(ml100k, "a", np.zeros(n_test, int)),
                      "b": _report(ml100k, "b", np.zeros(n_val, int), split="validation")}, ml100k)

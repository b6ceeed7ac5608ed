"""Reports are written atomically with their ranks, refused when altered, and compared with paired CIs."""

import json

import pandas as pd
import pytest

from eval.cli import main as eval_main
from llmrec.errors import ArtifactError
from llmrec.evaluation.report import Report, compare_reports


def _report(name, ranks, fingerprint="abc"):
    frame = pd.DataFrame({"user": range(len(ranks)), "item": range(len(ranks)), "rank": ranks,
                          "candidates": 100})
    return Report(name, "test", {}, frame, dataset={"fingerprint": fingerprint})


def test_a_report_round_trips_with_its_ranks(tmp_path):
    r = _report("a", [0, 3, 50])
    r.save(tmp_path / "a.json")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert set(doc) >= {"recommender", "split", "config", "n_users", "metrics"}
    assert (tmp_path / "a.ranks.csv").exists()
    loaded = Report.load(tmp_path / "a.json")
    assert loaded.metrics == r.metrics and loaded.n_users == 3


def test_a_report_with_an_altered_ranks_file_is_refused(tmp_path):
    _report("a", [0, 3, 50]).save(tmp_path / "a.json")
    (tmp_path / "a.ranks.csv").write_text("user,item,rank,candidates\n0,0,0,100\n")
    with pytest.raises(ArtifactError, match="corrupt"):
        Report.load(tmp_path / "a.json")


def test_a_report_without_its_ranks_file_is_refused(tmp_path):
    _report("a", [0]).save(tmp_path / "a.json")
    (tmp_path / "a.ranks.csv").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        Report.load(tmp_path / "a.json")


def test_paired_bootstrap_ci_excludes_zero_for_a_clear_improvement():
    a = _report("a", [30] * 100 + [2] * 100)
    b = _report("b", [0] * 100 + [2] * 100)
    table = compare_reports(a, b, n_resamples=2000).set_index("metric")
    assert table.loc["ndcg@10", "diff"] == pytest.approx(0.5)
    assert table.loc["ndcg@10", "ci_low"] > 0 and table.loc["ndcg@10", "excludes_0"]


def test_paired_bootstrap_ci_includes_zero_for_noise():
    a = _report("a", [0, 30] * 100)
    b = _report("b", [30, 0] * 100)
    table = compare_reports(a, b, n_resamples=2000).set_index("metric")
    assert table.loc["mrr", "ci_low"] < 0 < table.loc["mrr", "ci_high"]


def test_reports_on_different_data_are_not_compared():
    with pytest.raises(ArtifactError, match="different data"):
        compare_reports(_report("a", [0], "x"), _report("b", [0], "y"))


def test_the_cli_compares_two_saved_reports(tmp_path, capsys):
    _report("a", [30] * 50 + [1] * 50).save(tmp_path / "a.json")
    _report("b", [0] * 50 + [1] * 50).save(tmp_path / "b.json")
    assert eval_main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                      "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap 95% CIs over 100 users" in out and "ndcg@10" in out


def test_the_cli_names_a_bad_param(capsys):
    assert eval_main(["--recommender", "itemknn", "--param", "neighbours=5", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m eval: error: ") and "neighbours" in err and "Traceback" not in err


def test_subset_metrics_keep_only_users_ranked_within_the_candidates():
    report = _report("llm", [0, 5, 19, 20, 400])
    n, sub = report.subset_metrics(20)
    assert n == 3
    assert sub["recall@10"] == pytest.approx(2 / 3) and sub["mrr"] == pytest.approx((1 + 1 / 6 + 1 / 20) / 3)
    assert report.subset_metrics(0) == (0, {})


def test_a_report_keeps_each_users_top_n_list_and_refuses_an_altered_one(tmp_path):
    import numpy as np

    r = _report("a", [0, 3, 50])
    r.lists = np.array([[5, 7, 9], [2, -1, -1], [1, 4, 8]])  # user 1 had only one candidate
    r.save(tmp_path / "a.json")
    loaded = Report.load(tmp_path / "a.json")
    assert loaded.lists.tolist() == [[5, 7, 9], [2, -1, -1], [1, 4, 8]]
    assert json.loads((tmp_path / "a.json").read_text())["manifest"]["lists_file"] == "a.lists.csv"
    (tmp_path / "a.lists.csv").write_text("user,items\n0,5 7 9\n1,2\n2,1 4 7\n")
    with pytest.raises(ArtifactError, match="a.lists.csv is corrupt"):
        Report.load(tmp_path / "a.json")
    (tmp_path / "a.lists.csv").unlink()
    with pytest.raises(ArtifactError, match="a.lists.csv is missing"):
        Report.load(tmp_path / "a.json")
    r.lists = r.lists[:2]
    with pytest.raises(ArtifactError, match="2 top-N lists for 3 users"):
        r.save(tmp_path / "b.json")


def test_users_samples_an_evaluation_and_is_refused_where_nothing_uses_it(capsys):
    assert eval_main(["--recommender", "popularity", "--split", "validation", "--users", "25", "--seed", "3",
                      "--no-progress"]) == 0
    assert "validation     25" in capsys.readouterr().out
    assert eval_main(["--objectives", "popularity", "--users", "25"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m eval: error: --users samples held-out users, which --objectives")
    assert eval_main(["--recommender", "popularity", "--users", "-1"]) == 2
    assert "--users must be 0 (all)" in capsys.readouterr().err


def test_the_user_sample_follows_its_seed(ml100k):
    from llmrec.evaluation.runner import evaluate_recommender

    def sample(seed: int) -> set[int]:
        return set(evaluate_recommender(ml100k, "popularity", "validation", users=25, seed=seed,
                                        progress=False).ranks["user"])

    assert sample(3) == sample(3) and len(sample(3)) == 25 and sample(3) != sample(4)

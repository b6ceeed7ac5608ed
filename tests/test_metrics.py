"""Each metric by its definition, and against trec_eval (pytrec-eval-terrier) as the reference."""

import math

import numpy as np
import pytest
import pytrec_eval

from llmrec.evaluation.metrics import metric_functions, mrr, ndcg_at, recall_at, summarize


@pytest.mark.parametrize("rank, k, expected", [
    (0, 10, 1.0), (1, 10, 1 / math.log2(3)), (9, 10, 1 / math.log2(11)), (10, 10, 0.0),
    (4, 5, 1 / math.log2(6)), (5, 5, 0.0),
])
def test_ndcg_is_one_over_log2_rank_plus_two_inside_the_cutoff(rank, k, expected):
    assert ndcg_at(np.array([rank]), k)[0] == pytest.approx(expected)


@pytest.mark.parametrize("rank, k, expected", [(0, 5, 1.0), (4, 5, 1.0), (5, 5, 0.0), (19, 20, 1.0),
                                               (20, 20, 0.0)])
def test_recall_is_a_hit_inside_the_cutoff(rank, k, expected):
    assert recall_at(np.array([rank]), k)[0] == expected


@pytest.mark.parametrize("rank, expected", [(0, 1.0), (1, 0.5), (999, 0.001)])
def test_mrr_has_no_cutoff(rank, expected):
    assert mrr(np.array([rank]))[0] == pytest.approx(expected)


def test_summary_names_the_reported_metrics():
    names = list(summarize(np.array([0, 3, 30])))
    assert names == ["ndcg@5", "ndcg@10", "ndcg@20", "recall@5", "recall@10", "recall@20", "mrr"]
    assert "recall@100" in metric_functions((5, 10), recall_cutoffs=(50, 100))


def test_metrics_agree_with_trec_eval():
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 60, size=300)
    qrels, run = {}, {}
    for q, r in enumerate(ranks):
        # 100 documents; the relevant one sits at position r; scores strictly decreasing
        docs = [f"d{j}" for j in range(100)]
        docs.insert(int(r), "rel")
        qrels[str(q)] = {"rel": 1}
        run[str(q)] = {d: float(1000 - i) for i, d in enumerate(docs)}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.5,10,20", "recall.5,10,20", "recip_rank"})
    ref = evaluator.evaluate(run)
    ours = summarize(ranks)
    for k in (5, 10, 20):
        assert ours[f"ndcg@{k}"] == pytest.approx(np.mean([v[f"ndcg_cut_{k}"] for v in ref.values()]),
                                                  abs=1e-12)
        assert ours[f"recall@{k}"] == pytest.approx(np.mean([v[f"recall_{k}"] for v in ref.values()]),
                                                    abs=1e-12)
    assert ours["mrr"] == pytest.approx(np.mean([v["recip_rank"] for v in ref.values()]), abs=1e-12)


def test_map_at_k_agrees_with_trec_eval_map_cut():
    from llmrec.evaluation.metrics import map_at

    ranks = np.random.default_rng(1).integers(0, 30, size=200)
    qrels, run = {}, {}
    for q, r in enumerate(ranks):
        docs = [f"d{j}" for j in range(40)]
        docs.insert(int(r), "rel")
        qrels[str(q)] = {"rel": 1}
        run[str(q)] = {d: float(1000 - i) for i, d in enumerate(docs)}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"map_cut.10,20"}).evaluate(run)
    for k in (10, 20):
        assert map_at(ranks, k).mean() == pytest.approx(np.mean([v[f"map_cut_{k}"] for v in ref.values()]),
                                                        abs=1e-12)

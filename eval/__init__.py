"""Offline evaluation: the leave-last-out harness, metrics, reports and paired comparison."""

from eval.harness import Evaluation, evaluate, rank_of_target
from eval.metrics import mrr, ndcg_at, recall_at, summarize
from eval.report import Report, compare_reports
from eval.runner import evaluate_recommender

__all__ = [
           "Evaluation",
           "Report",
           "compare_reports",
           "evaluate",
           "evaluate_recommender",
           "mrr",
           "ndcg_at",
           "rank_of_target",
           "recall_at",
           "summarize",
]

"""Batch recommendation on Ray Data: every user's top-N list, in resumable blocks (``llmrec batch``)."""

from batch.job import BatchResult, BatchSpec, read_results, run_batch

__all__ = ["BatchResult", "BatchSpec", "read_results", "run_batch"]

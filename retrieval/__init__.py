"""Candidate recall: text + collaborative dense retriever over a FAISS item index."""

from retrieval.index import IndexConfig, ItemIndex
from retrieval.retriever import DenseConfig, DenseRetriever
from retrieval.text import item_text, query_text

__all__ = ["DenseConfig", "DenseRetriever", "IndexConfig", "ItemIndex", "item_text", "query_text"]

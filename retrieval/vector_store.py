"""The item index as an interface: FAISS in-process (the default) or Milvus (Lite embedded, or a cluster).

Both backends take the same calls — ``build``/``load``/``save``, ``add``/``remove`` without a rebuild,
``search(queries, k, exclude=, only=)`` returning ``(scores, item ids)`` best first — and on the same vectors
an exact index of either returns the same top-k (tests/test_vector_store.py checks it for every test user
of MovieLens-100K).  A saved index's manifest names its backend, so :func:`load_index` opens either.

    index = build_index(vectors, ids, encoder_id=model, encoder_hash=digest)                 # FAISS
    index = build_index(vectors, ids, encoder_id=model, encoder_hash=digest,
                        config=MilvusConfig(uri="runs/index/milvus.db"))                     # Milvus Lite
    index = build_index(..., config=MilvusConfig(uri="http://milvus:19530", index_type="HNSW"))  # cluster
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from llmrec.artifacts import read_manifest
from retrieval.index import ARTIFACT_KIND, IndexConfig, ItemIndex
from retrieval.milvus import MilvusConfig, MilvusIndex

__all__ = ["VectorIndex", "build_index", "load_index"]


@runtime_checkable
class VectorIndex(Protocol):
    """What the retriever and the service need of an item index."""

    @property
    def dim(self) -> int: ...

    @property
    def item_ids(self) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray, item_ids: np.ndarray) -> None: ...

    def remove(self, item_ids: np.ndarray | Sequence[int]) -> None: ...

    def search(self, queries: np.ndarray, k: int, *, exclude: Sequence[np.ndarray] | None = None,
               only: np.ndarray | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: str | Path) -> Path: ...


def build_index(vectors: np.ndarray, item_ids: np.ndarray, *, encoder_id: str, encoder_hash: str,
                config: IndexConfig | MilvusConfig | None = None) -> VectorIndex:
    """An index of ``vectors[i]`` as item ``item_ids[i]`` on the backend ``config`` selects (an
    :class:`IndexConfig`: FAISS, the default; a :class:`MilvusConfig`: Milvus)."""
    if isinstance(config, MilvusConfig):
        return MilvusIndex.build(vectors, item_ids, encoder_id=encoder_id, encoder_hash=encoder_hash,
                                 config=config)
    return ItemIndex.build(vectors, item_ids, encoder_id=encoder_id, encoder_hash=encoder_hash,
                           config=config or IndexConfig())


def load_index(path: str | Path, *, expect_encoder_hash: str | None = None,
               token: str | None = None) -> VectorIndex:
    """Open a saved index of either backend (its manifest says which); a mismatch: ArtifactError."""
    manifest = read_manifest(path, ARTIFACT_KIND, verify=False)
    if manifest.get("backend") == "milvus":
        return MilvusIndex.load(path, expect_encoder_hash=expect_encoder_hash, token=token)
    return ItemIndex.load(path, expect_encoder_hash=expect_encoder_hash)

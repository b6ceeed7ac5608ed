"""The text channel: a sentence-transformers encoder for item and query texts."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from llmrec.models import resolve_embedder

__all__ = ["TextEncoder"]

log = logging.getLogger(__name__)


class TextEncoder:
    """Wraps ``SentenceTransformer``; ``encode`` returns L2-normalised float32 rows ``(n, dim)``."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, max_seq_length: int = 128):
        from sentence_transformers import SentenceTransformer

        self.model_path = resolve_embedder(model)
        self.model = SentenceTransformer(self.model_path, device="cpu")
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def identity(self) -> tuple[str, str]:
        """(model path or id, short hash of its weights) — written into index manifests."""
        path = Path(self.model_path)
        weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
        h = hashlib.sha256()
        for w in weights:
            h.update(w.read_bytes())
        if not weights:
            h.update(self.model_path.encode())
        return self.model_path, h.hexdigest()[:16]

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=progress).astype(np.float32)

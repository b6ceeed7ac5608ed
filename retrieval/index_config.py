"""How the item index is built and searched: :class:`IndexConfig` (validated on construction), shared by the
FAISS :class:`~retrieval.index.ItemIndex` and the Milvus store."""

from __future__ import annotations

import dataclasses
from typing import Literal

import faiss
import numpy as np

from llmrec.configargs import arg
from llmrec.errors import ConfigError

__all__ = ["IndexConfig"]


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """How the item index is built and searched (validated on construction)."""

    kind: Literal["auto", "flat", "hnsw", "ivf"] = arg(
        "auto", help="flat (exact), hnsw or ivf (approximate); auto: flat up to exact_max_items, hnsw above")
    exact_max_items: int = arg(
        100_000, help="auto uses exact flat inner-product search up to this many items")
    m: int = arg(32, help="HNSW links per node: more = better recall, more memory, slower build")
    ef_construction: int = arg(80, help="HNSW candidate-list size while building")
    ef_search: int = arg(64, help="HNSW candidate-list size while searching (recall/speed trade-off)")
    nlist: int | None = arg(None, help="IVF lists (None: 4*sqrt(n), at most n/39 and 65536)")
    nprobe: int = arg(16, help="IVF lists visited per query (recall/speed trade-off)")
    use_gpu: bool | None = arg(None, help="GPU FAISS for flat/ivf (None: when faiss sees a GPU)")
    metric: Literal["cosine", "ip"] = arg(
        "cosine", help="cosine (vectors and queries L2-normalised) or ip (raw inner product, unnormalised)")

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "flat", "hnsw", "ivf"):
            raise ConfigError(f"IndexConfig.kind must be auto, flat, hnsw or ivf, got {self.kind!r}")
        for name in ("exact_max_items", "m", "ef_construction", "ef_search", "nprobe", "nlist"):
            value = getattr(self, name)
            if (value is not None or name != "nlist") and (
                    isinstance(value, bool) or not isinstance(value, int)
                    or value < (name != "exact_max_items")):
                raise ConfigError(f"IndexConfig.{name} must be a positive integer, got {value!r}")
        if self.metric not in ("cosine", "ip"):
            raise ConfigError(f"IndexConfig.metric must be cosine or ip, got {self.metric!r}")
        if self.use_gpu not in (None, True, False):
            raise ConfigError(f"IndexConfig.use_gpu must be None, True or False, got {self.use_gpu!r}")
        if self.use_gpu and faiss.get_num_gpus() == 0:
            raise ConfigError("IndexConfig.use_gpu=True but FAISS sees no GPU (faiss.get_num_gpus() == 0: "
                              "faiss-cpu is installed or no CUDA device is visible); install faiss-gpu-cu12 "
                              "on a CUDA machine, or use use_gpu=None (auto) or False")

    def resolve_kind(self, n_items: int) -> Literal["flat", "hnsw", "ivf"]:
        """The concrete kind for a catalog of ``n_items`` items."""
        if self.kind == "auto":
            return "flat" if n_items <= self.exact_max_items else "hnsw"
        return self.kind

    def resolve_nlist(self, n_items: int) -> int:
        """IVF list count: ``nlist``, else ~4*sqrt(n) capped so each list gets >= 39 training points."""
        if self.nlist is not None:
            return self.nlist
        return int(max(1, min(round(4 * np.sqrt(n_items)), n_items // 39, 65536)))

    def resolve_gpu(self) -> bool:
        return bool(self.use_gpu) if self.use_gpu is not None else faiss.get_num_gpus() > 0

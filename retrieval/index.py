"""The item index: cosine nearest-neighbour search over item embeddings with FAISS.

Vectors are L2-normalised float32 searched by inner product (``metric="cosine"``), or searched as they are
(``metric="ip"``: the raw inner product, the dense retriever's own score, so an exact index ranks as its
matmul does).  ``kind``: ``flat`` (exact), ``hnsw`` (graph)
or ``ivf`` (inverted lists), both approximate; ``auto`` is flat up to ``exact_max_items`` items, HNSW above.

Each vector added gets a *slot* (0, 1, 2, ..., never reused): FAISS stores slots, ``slot_ids[slot]`` is
the catalog's int64 item id and ``alive[slot]`` whether it is still indexed.  ``remove`` deletes vectors
from CPU flat and IVF indexes (``remove_ids``).  FAISS HNSW cannot delete, so there a removed item is a
*tombstone*: its vector stays in the graph (still routing searches) and is filtered out at search time by
an ``IDSelectorBitmap`` of live slots; GPU indexes keep tombstones too, filtered by over-fetching.
Tombstones cost memory and, in numbers, speed and recall: rebuild when many items were removed (a warning
is logged above 20%).  A removed id may be added again (it gets a new slot).

FAISS keeps its default thread count (OpenMP, all cores); callers may use ``faiss.omp_set_num_threads``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from llmrec.artifacts import atomic_directory, read_manifest, write_manifest
from llmrec.errors import ArtifactError, ConfigError
from retrieval.index_config import IndexConfig
from retrieval.vectors import check_ids, few, normalised

__all__ = ["ARTIFACT_KIND", "FORMAT_VERSION", "IndexConfig", "ItemIndex"]

log = logging.getLogger(__name__)

ARTIFACT_KIND, FORMAT_VERSION = "item-index", 1
_INDEX_FILE, _SLOTS_FILE, _ALIVE_FILE = "index.faiss", "slot_ids.npy", "alive.npy"
_FAISS_TYPES = {"flat": "IndexIDMap2", "hnsw": "IndexHNSWFlat", "ivf": "IndexIVFFlat"}
_TOMBSTONE_WARNING = 0.2
_REBUILD = ("the item index cannot be used: rebuild it with ItemIndex.build() from the current encoder's "
            "vectors")


class ItemIndex:
    """Cosine nearest-neighbour search over a catalog's item vectors.  Create with build() or load()."""

    def __init__(self, index: Any, slot_ids: np.ndarray, alive: np.ndarray, *, kind: str, dim: int,
                 encoder_id: str, encoder_hash: str, config: IndexConfig):
        self._index, self._slot_ids, self._alive = index, slot_ids, alive
        self._kind, self._dim, self._config = kind, dim, config
        self._encoder_id, self._encoder_hash = encoder_id, encoder_hash
        self._gpu_resources: Any = None
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted live ids, their slots)
        self._selector: tuple[np.ndarray, Any] | None = None  # (bitmap of live slots, IDSelectorBitmap)
        self.tune()

    @classmethod
    def build(cls, vectors: np.ndarray, item_ids: np.ndarray, *, encoder_id: str, encoder_hash: str,
              config: IndexConfig | None = None) -> ItemIndex:
        """Index ``vectors[i]`` (normalised here) as catalog item ``item_ids[i]`` (``config``: the default
        :class:`IndexConfig` when None)."""
        started = time.perf_counter()
        config = config or IndexConfig()
        if not all(isinstance(s, str) and s for s in (encoder_id, encoder_hash)):
            raise ConfigError(f"encoder_id and encoder_hash must be non-empty strings, got {encoder_id!r} "
                              f"and {encoder_hash!r}")
        vectors = np.asarray(vectors)
        ids = check_ids(item_ids, len(vectors) if vectors.ndim else -1)
        x = normalised(vectors, None, "vectors", ids, unit=config.metric == "cosine")
        kind, n, d = config.resolve_kind(len(x)), len(x), x.shape[1]
        if kind == "flat":
            index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, config.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.ef_construction
        else:
            nlist = config.resolve_nlist(n)
            if n < nlist:
                raise ConfigError(f"an IVF index with nlist={nlist} needs at least {nlist} training vectors, "
                                  f"got {n}; lower nlist or use kind='flat'")
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(x)
        built = cls(index, np.empty(0, np.int64), np.empty(0, bool), kind=kind, dim=d, encoder_id=encoder_id,
                    encoder_hash=encoder_hash, config=config)
        built._append(x, ids)
        built._to_gpu()
        log.info("built kind=%s n_items=%d dim=%d encoder_id=%s gpu=%s seconds=%.2f", kind, n, d, encoder_id,
                 built._gpu_resources is not None, time.perf_counter() - started)
        return built

    @classmethod
    def load(cls, path: str | Path, *, expect_encoder_hash: str | None = None,
             expect_encoder_id: str | None = None) -> ItemIndex:
        """Load a saved index; a mismatched encoder, corrupt/missing file or inconsistency: ArtifactError."""
        directory = Path(path)
        expect: dict[str, Any] = {"format_version": FORMAT_VERSION}
        for key, value in (("encoder_id", expect_encoder_id), ("encoder_hash", expect_encoder_hash)):
            if value is not None:
                expect[key] = value
        try:
            manifest = read_manifest(directory, ARTIFACT_KIND, verify=True, expect=expect)
        except ArtifactError as err:
            raise ArtifactError(f"{err}; {_REBUILD}") from None

        def bad(what: str) -> ArtifactError:
            return ArtifactError(f"{directory}: {what}; {_REBUILD}")

        missing = [f for f in (_INDEX_FILE, _SLOTS_FILE, _ALIVE_FILE) if f not in manifest.get("files", {})]
        if missing:
            raise bad(f"the manifest does not list {', '.join(missing)}")
        try:
            index = faiss.read_index(str(directory / _INDEX_FILE))
            slot_ids = np.load(directory / _SLOTS_FILE, allow_pickle=False)
            alive = np.load(directory / _ALIVE_FILE, allow_pickle=False)
            config = IndexConfig(**{**manifest.get("config", {}), "use_gpu": None})
        except (RuntimeError, OSError, ValueError, TypeError) as err:
            raise bad(f"unreadable ({type(err).__name__}: {str(err).strip().splitlines()[0]})") from None
        kind, dim, n_items = manifest.get("index_kind"), manifest.get("dim"), manifest.get("n_items")
        if kind not in _FAISS_TYPES or type(index).__name__ != _FAISS_TYPES[kind]:
            raise bad(f"index_kind={kind!r} in the manifest but the FAISS file holds {type(index).__name__}")
        if index.d != dim or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise bad(f"dim={dim} in the manifest but the FAISS index has d={index.d}, "
                      f"metric {index.metric_type}")
        if ((slot_ids.dtype, alive.dtype, slot_ids.ndim) != (np.int64, bool, 1)
                or slot_ids.shape != alive.shape):
            raise bad(f"bad id mapping: {slot_ids.dtype}{slot_ids.shape} ids, "
                      f"{alive.dtype}{alive.shape} flags")
        ntotal = len(slot_ids) if kind == "hnsw" else n_items
        if int(alive.sum()) != n_items or index.ntotal != ntotal:
            raise bad(f"n_items={n_items} in the manifest but the id mapping holds {int(alive.sum())} live "
                      f"items and the FAISS index {index.ntotal} vectors (expected {ntotal})")
        loaded = cls(index, slot_ids, alive, kind=kind, dim=dim, encoder_id=manifest["encoder_id"],
                     encoder_hash=manifest["encoder_hash"], config=config)
        loaded._to_gpu()
        log.info("loaded path=%s kind=%s n_items=%d dim=%d", directory, kind, n_items, dim)
        return loaded

    def save(self, path: str | Path) -> Path:
        """Write atomically: FAISS file (CPU), id mapping and tombstones (.npy), checksummed manifest."""
        index = self._index
        if self._gpu_resources is not None:
            index = faiss.index_gpu_to_cpu(index)
            if self.n_tombstones:  # on CPU, flat and IVF hold live vectors only
                index.remove_ids(np.flatnonzero(~self._alive).astype(np.int64))
        with atomic_directory(path) as tmp:
            faiss.write_index(index, str(tmp / _INDEX_FILE))
            np.save(tmp / _SLOTS_FILE, self._slot_ids)
            np.save(tmp / _ALIVE_FILE, self._alive)
            write_manifest(tmp, ARTIFACT_KIND, encoder_id=self._encoder_id, encoder_hash=self._encoder_hash,
                           dim=self._dim, n_items=len(self), index_kind=self._kind,
                           format_version=FORMAT_VERSION, config=dataclasses.asdict(self._config))
        log.info("saved path=%s kind=%s n_items=%d", path, self._kind, len(self))
        return Path(path)

    def add(self, vectors: np.ndarray, item_ids: np.ndarray) -> None:
        """Add items without rebuilding (IVF: into the lists trained at build); a present id: ValueError."""
        vectors = np.asarray(vectors)
        ids = check_ids(item_ids, len(vectors) if vectors.ndim else -1)
        present = ids[self._slots_of(ids) >= 0]
        if len(present):
            raise ValueError(f"item ids already in the index: {few(present)}; remove them first to replace")
        unit = self._config.metric == "cosine"
        self._append(normalised(vectors, self._dim, "vectors", ids, unit=unit), ids)
        log.info("added n=%d n_items=%d kind=%s", len(ids), len(self), self._kind)

    def remove(self, item_ids: np.ndarray | Sequence[int]) -> None:
        """Remove items (deleted from CPU flat/IVF, tombstoned in HNSW and on GPU); unknown id: ValueError."""
        ids = check_ids(item_ids, -1)
        slots = self._slots_of(ids)
        if (slots < 0).any():
            raise ValueError(f"item ids not in the index: {few(ids[slots < 0])}")
        if self._kind != "hnsw" and self._gpu_resources is None \
                and (removed := self._index.remove_ids(slots)) != len(slots):
            raise RuntimeError(f"FAISS removed {removed} vectors, expected {len(slots)}")
        self._alive[slots] = False
        self._lookup = self._selector = None
        dead = self.n_tombstones / max(1, self._index.ntotal)
        log.info("removed n=%d n_items=%d tombstones=%d", len(ids), len(self), self.n_tombstones)
        if dead > _TOMBSTONE_WARNING:
            log.warning("tombstones fraction=%.2f kind=%s action='rebuild the index'", dead, self._kind)

    def tune(self, *, ef_search: int | None = None, nprobe: int | None = None) -> None:
        """Change the search-time parameters (HNSW ``ef_search``, IVF ``nprobe``) of a built index."""
        changes = {k: v for k, v in (("ef_search", ef_search), ("nprobe", nprobe)) if v is not None}
        self._config = dataclasses.replace(self._config, **changes)
        if self._kind == "hnsw":
            self._index.hnsw.efSearch = self._config.ef_search
        elif self._kind == "ivf":
            self._index.nprobe = self._config.nprobe

    def search(self, queries: np.ndarray, k: int, *, exclude: Sequence[np.ndarray] | None = None,
               only: np.ndarray | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per query: (scores float32 (m, k), item ids int64 (m, k)), best first.

        Rows are padded with -inf / -1 when fewer than ``k`` items qualify.  ``exclude[i]`` lists item
        ids to leave out of row i; the search over-fetches so each row still has ``k`` results if it can.
        ``only``: search among these item ids alone (a catalog masked by hard constraints; ids not in the
        index are ignored), filtered inside FAISS by a bitmap of their slots.
        Exact (flat) search is much faster in big batches: FAISS 1.15 uses BLAS only when m * d >= 128,000.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = normalised(queries, self._dim, "queries", None, encoder=self._encoder_id,
                        unit=self._config.metric == "cosine")
        if exclude is not None and len(exclude) != len(q):
            raise ValueError(f"exclude has {len(exclude)} entries for {len(q)} queries")
        excl = [np.asarray(e, dtype=np.int64).ravel() for e in exclude] if exclude is not None else []
        dead = self.n_tombstones
        overfetch = max(map(len, excl), default=0) + (dead if self._kind != "hnsw" else 0)
        fetch = min(int(k) + overfetch, self._index.ntotal)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        if fetch == 0 or len(q) == 0:
            return scores, ids
        params, selector = None, None
        if only is not None:
            selector = self._only_selector(np.asarray(only, dtype=np.int64).ravel())
            fetch = min(int(k) + max(map(len, excl), default=0), int(np.count_nonzero(selector[0])))
            if fetch == 0:
                return scores, ids
        if self._kind == "hnsw":  # efSearch must cover the over-fetch; tombstones filtered inside FAISS
            sel = selector[1] if selector is not None else (self._live_selector() if dead else None)
            params = faiss.SearchParametersHNSW(efSearch=max(self._config.ef_search, fetch), sel=sel)
        elif selector is not None:
            params = (faiss.SearchParametersIVF(sel=selector[1], nprobe=self._config.nprobe)
                      if self._kind == "ivf" else faiss.SearchParameters(sel=selector[1]))
        dist, slots = self._index.search(q, fetch, params=params)
        valid = slots >= 0
        safe = np.where(valid, slots, 0)
        found = np.where(valid, self._slot_ids[safe], -1)
        if dead and self._kind != "hnsw":
            valid &= self._alive[safe]
        for row, e in enumerate(excl):
            if len(e):
                valid[row] &= ~np.isin(found[row], e)
        if fetch > k or not valid.all():
            order = np.argsort(~valid, axis=1, kind="stable")[:, :k]  # valid hits first, score order kept
            dist, found, valid = (np.take_along_axis(a, order, axis=1) for a in (dist, found, valid))
        width = min(k, fetch)
        scores[:, :width] = np.where(valid, dist, -np.inf)[:, :width]
        ids[:, :width] = np.where(valid, found, -1)[:, :width]
        return scores, ids

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def item_ids(self) -> np.ndarray:
        """Current item ids (removed ones excluded), in insertion order."""
        return self._slot_ids[self._alive]

    @property
    def encoder_id(self) -> str:
        return self._encoder_id

    @property
    def encoder_hash(self) -> str:
        return self._encoder_hash

    @property
    def kind(self) -> str:
        """The concrete FAISS structure: flat, hnsw or ivf (never auto)."""
        return self._kind

    @property
    def config(self) -> IndexConfig:
        return self._config

    @property
    def n_tombstones(self) -> int:
        """Removed items whose vectors are still in the FAISS index (HNSW, GPU)."""
        return int(self._index.ntotal) - len(self)

    def __len__(self) -> int:
        return int(np.count_nonzero(self._alive))

    def __repr__(self) -> str:
        return (f"ItemIndex(kind={self._kind!r}, n_items={len(self)}, dim={self._dim}, "
                f"encoder_id={self._encoder_id!r})")

    def _append(self, x: np.ndarray, ids: np.ndarray) -> None:
        slots = np.arange(len(self._slot_ids), len(self._slot_ids) + len(ids), dtype=np.int64)
        if self._kind == "hnsw":  # HNSW positions are the slots (nothing is ever deleted from it)
            self._index.add(x)
        else:
            self._index.add_with_ids(x, slots)
        self._slot_ids = np.concatenate([self._slot_ids, ids])
        self._alive = np.concatenate([self._alive, np.ones(len(ids), dtype=bool)])
        self._lookup = self._selector = None

    def _slots_of(self, ids: np.ndarray) -> np.ndarray:
        """The slot of each live id, or -1."""
        if self._lookup is None:
            live = np.flatnonzero(self._alive)
            order = np.argsort(self._slot_ids[live])
            self._lookup = (self._slot_ids[live][order], live[order])
        sorted_ids, sorted_slots = self._lookup
        if not len(sorted_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[pos] == ids, sorted_slots[pos], -1)

    def _only_selector(self, only: np.ndarray) -> tuple[np.ndarray, Any, np.ndarray]:
        """(mask, IDSelectorBitmap, its bitmap) of the live slots of the ids in ``only`` (the caller keeps
        the bitmap referenced while FAISS reads it)."""
        if self._gpu_resources is not None:
            raise ConfigError("ItemIndex.search(only=...) is not supported on a GPU index; use use_gpu=False")
        slots = self._slots_of(only)
        mask = np.zeros(len(self._slot_ids), dtype=bool)
        mask[slots[slots >= 0]] = True
        bitmap = np.packbits(mask, bitorder="little")
        return mask, faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap

    def _live_selector(self) -> Any:
        if self._selector is None:  # keep the bitmap referenced: FAISS reads it without owning it
            bitmap = np.packbits(self._alive, bitorder="little")  # bit slot % 8 of byte slot // 8
            self._selector = (bitmap, faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)))
        return self._selector[1]

    def _to_gpu(self) -> None:
        if not self._config.resolve_gpu():
            return
        if self._kind == "hnsw":
            log.info("gpu=unsupported kind=hnsw action='kept on CPU'")
            return
        self._gpu_resources = faiss.StandardGpuResources()
        self._index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self._index)
        self.tune()

"""The item index on Milvus: Milvus Lite (an embedded file, the tests' and laptops' engine) or a Milvus
cluster by URI, behind the same interface as the FAISS :class:`~retrieval.index.ItemIndex`.

Vectors are L2-normalised float32 searched by inner product (cosine), as in FAISS, so the same vectors give
the same top-k on an exact (``FLAT``) index.  ``index_type``: ``FLAT`` (exact), ``IVF_FLAT``, ``HNSW``
(approximate; Milvus Lite builds FLAT and IVF_FLAT, a cluster all three).  Items are rows keyed by their
catalog id; ``add`` inserts rows and ``remove`` deletes them (Milvus deletes for real: no tombstones to
rebuild around).  An index directory holds ``manifest.json`` (kind ``item-index``, ``backend: milvus``, the
encoder it was built for, dimension, item count, URI and collection) and, for Milvus Lite, the database
file itself; loading checks the collection against the manifest and refuses a mismatch.

    index = MilvusIndex.build(vectors, ids, encoder_id="all-MiniLM-L6-v2", encoder_hash=h,
                              config=MilvusConfig(uri="runs/index/milvus.db"))
    scores, ids = index.search(queries, 20)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from llmrec.artifacts import MANIFEST, atomic_write_text, read_manifest
from llmrec.configargs import arg
from llmrec.errors import ArtifactError, ConfigError
from retrieval.index import ARTIFACT_KIND, FORMAT_VERSION
from retrieval.vectors import check_ids, few, normalised

__all__ = ["MilvusConfig", "MilvusIndex"]

log = logging.getLogger(__name__)

_ID, _VEC = "item", "vector"
_LITE_FILE = "milvus.db"
_BATCH = 10_000  # rows per insert call (Milvus limits a request's size)


@dataclasses.dataclass(frozen=True)
class MilvusConfig:
    """Where the collection lives and how it is indexed."""

    uri: str | None = arg(None, help="Milvus Lite database file (a path ending in .db), or a cluster URI "
                                     "(http://host:19530); None: milvus.db inside the directory the index "
                                     "is saved to (build needs a uri then)")
    collection: str = arg("items", help="collection name")
    index_type: Literal["FLAT", "IVF_FLAT", "HNSW"] = arg("FLAT", help="FLAT (exact), IVF_FLAT or HNSW")
    nlist: int = arg(1024, help="IVF_FLAT lists")
    nprobe: int = arg(16, help="IVF_FLAT lists visited per query")
    m: int = arg(32, help="HNSW links per node")
    ef_construction: int = arg(80, help="HNSW candidate-list size while building")
    ef_search: int = arg(64, help="HNSW candidate-list size while searching")
    metric: Literal["cosine", "ip"] = arg("cosine", help="cosine (vectors and queries L2-normalised) or ip "
                                                         "(raw inner product, the dense retriever's score)")
    token: str | None = arg(None, help="cluster credentials (user:password or an API key); never saved")

    def __post_init__(self) -> None:
        if self.index_type not in ("FLAT", "IVF_FLAT", "HNSW"):
            raise ConfigError(f"MilvusConfig.index_type must be FLAT, IVF_FLAT or HNSW, got "
                              f"{self.index_type!r}")
        for name in ("nlist", "nprobe", "m", "ef_construction", "ef_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"MilvusConfig.{name} must be a positive integer, got {value!r}")
        if not self.collection.replace("_", "").isalnum():
            raise ConfigError(f"MilvusConfig.collection must be letters, digits and _, got "
                              f"{self.collection!r}")

    @property
    def lite(self) -> bool:
        return self.uri is not None and not self.uri.startswith(("http://", "https://", "tcp://"))

    def index_params(self) -> dict[str, Any]:
        return {"FLAT": {}, "IVF_FLAT": {"nlist": self.nlist},
                "HNSW": {"M": self.m, "efConstruction": self.ef_construction}}[self.index_type]

    def search_params(self) -> dict[str, Any]:
        return {"FLAT": {}, "IVF_FLAT": {"nprobe": self.nprobe},
                "HNSW": {"ef": self.ef_search}}[self.index_type]


def _client(config: MilvusConfig):
    from pymilvus import MilvusClient

    if config.uri is None:
        raise ConfigError("MilvusConfig.uri is required to build an index (a .db path for Milvus Lite, or a "
                          "cluster URI)")
    if config.lite:
        Path(config.uri).parent.mkdir(parents=True, exist_ok=True)
    return MilvusClient(config.uri, **({"token": config.token} if config.token else {}))


class MilvusIndex:
    """Cosine nearest-neighbour search over item vectors in a Milvus collection.  build() or load()."""

    backend = "milvus"

    def __init__(self, client: Any, config: MilvusConfig, *, dim: int, encoder_id: str, encoder_hash: str):
        self._client, self._config, self._dim = client, config, dim
        self._encoder_id, self._encoder_hash = encoder_id, encoder_hash
        self._ids = self._fetch_ids()

    @classmethod
    def build(cls, vectors: np.ndarray, item_ids: np.ndarray, *, encoder_id: str, encoder_hash: str,
              config: MilvusConfig) -> MilvusIndex:
        """A new collection (an existing one of that name is replaced) holding ``vectors[i]`` (normalised
        here) as item ``item_ids[i]``."""
        from pymilvus import DataType

        started = time.perf_counter()
        if not all(isinstance(s, str) and s for s in (encoder_id, encoder_hash)):
            raise ConfigError(f"encoder_id and encoder_hash must be non-empty strings, got {encoder_id!r} "
                              f"and {encoder_hash!r}")
        vectors = np.asarray(vectors)
        ids = check_ids(item_ids, len(vectors) if vectors.ndim else -1)
        x = normalised(vectors, None, "vectors", ids, unit=config.metric == "cosine")
        client = _client(config)
        if client.has_collection(config.collection):
            client.drop_collection(config.collection)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(_ID, DataType.INT64, is_primary=True)
        schema.add_field(_VEC, DataType.FLOAT_VECTOR, dim=x.shape[1])
        params = client.prepare_index_params()
        params.add_index(field_name=_VEC, index_type=config.index_type, metric_type="IP",
                         params=config.index_params())
        client.create_collection(config.collection, schema=schema, index_params=params,
                                 consistency_level="Strong")
        _insert(client, config.collection, x, ids)
        built = cls(client, config, dim=x.shape[1], encoder_id=encoder_id, encoder_hash=encoder_hash)
        log.info("built backend=milvus index_type=%s n_items=%d dim=%d seconds=%.2f", config.index_type,
                 len(built), x.shape[1], time.perf_counter() - started)
        return built

    @classmethod
    def load(cls, path: str | Path, *, expect_encoder_hash: str | None = None, token: str | None = None
             ) -> MilvusIndex:
        """Open the collection a saved index directory names; a mismatch with its manifest: ArtifactError."""
        directory = Path(path)
        expect: dict[str, Any] = {"format_version": FORMAT_VERSION, "backend": "milvus"}
        if expect_encoder_hash is not None:
            expect["encoder_hash"] = expect_encoder_hash
        manifest = read_manifest(directory, ARTIFACT_KIND, verify=False, expect=expect)
        fields = dict(manifest["config"])
        uri = str(directory / _LITE_FILE) if manifest.get("lite") else fields["uri"]
        config = MilvusConfig(**{**fields, "uri": uri, "token": token})
        client = _client(config)
        if not client.has_collection(config.collection):
            raise ArtifactError(f"{directory}: collection {config.collection!r} is missing at {uri}")
        loaded = cls(client, config, dim=manifest["dim"], encoder_id=manifest["encoder_id"],
                     encoder_hash=manifest["encoder_hash"])
        if len(loaded) != manifest["n_items"]:
            raise ArtifactError(f"{directory}: n_items={manifest['n_items']} in the manifest but the "
                                f"collection holds {len(loaded)} items")
        return loaded

    def save(self, path: str | Path) -> Path:
        """Write the manifest into ``path``.  Milvus Lite's database must already live there (build with
        ``uri=<path>/milvus.db``); a cluster's collection stays where it is and the manifest names it."""
        directory = Path(path)
        lite = self._config.lite
        if lite and Path(self._config.uri).resolve() != (directory / _LITE_FILE).resolve():
            raise ArtifactError(f"a Milvus Lite index is saved where its database is: build it with "
                                f"uri={directory / _LITE_FILE}, not {self._config.uri}")
        self._client.flush(self._config.collection)
        directory.mkdir(parents=True, exist_ok=True)
        config = {k: v for k, v in dataclasses.asdict(self._config).items() if k != "token"}
        _write_manifest(directory, encoder_id=self._encoder_id, encoder_hash=self._encoder_hash,
                        dim=self._dim, n_items=len(self), backend="milvus", lite=lite,
                        format_version=FORMAT_VERSION, config=config)
        return directory

    def add(self, vectors: np.ndarray, item_ids: np.ndarray) -> None:
        """Insert items; an id already present: ValueError (remove it first to replace it)."""
        vectors = np.asarray(vectors)
        ids = check_ids(item_ids, len(vectors) if vectors.ndim else -1)
        present = ids[np.isin(ids, self._ids)]
        if len(present):
            raise ValueError(f"item ids already in the index: {few(present)}; remove them first to replace")
        x = normalised(vectors, self._dim, "vectors", ids, unit=self._config.metric == "cosine")
        _insert(self._client, self._config.collection, x, ids)
        self._ids = np.concatenate([self._ids, ids])
        log.info("added backend=milvus n=%d n_items=%d", len(ids), len(self))

    def remove(self, item_ids: np.ndarray | Sequence[int]) -> None:
        """Delete items; an unknown id: ValueError."""
        ids = check_ids(item_ids, -1)
        unknown = ids[~np.isin(ids, self._ids)]
        if len(unknown):
            raise ValueError(f"item ids not in the index: {few(unknown)}")
        self._client.delete(self._config.collection, ids=ids.tolist())
        self._ids = self._ids[~np.isin(self._ids, ids)]
        log.info("removed backend=milvus n=%d n_items=%d", len(ids), len(self))

    def search(self, queries: np.ndarray, k: int, *, exclude: Sequence[np.ndarray] | None = None,
               only: np.ndarray | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per query: (scores float32 (m, k), item ids int64 (m, k)), best first, padded with
        -inf / -1; ``exclude[i]``: item ids left out of row i; ``only``: search among these ids alone (both
        filter expressions evaluated inside Milvus)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = normalised(queries, self._dim, "queries", None, encoder=self._encoder_id,
                        unit=self._config.metric == "cosine")
        if exclude is not None and len(exclude) != len(q):
            raise ValueError(f"exclude has {len(exclude)} entries for {len(q)} queries")
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        limit = min(int(k), len(self))
        if limit == 0 or len(q) == 0:
            return scores, ids
        within = "" if only is None else f"{_ID} in {np.asarray(only, dtype=np.int64).ravel().tolist()}"
        rows = range(len(q)) if exclude is not None else [slice(None)]
        for row in rows:  # a filter is per request: with exclusions one query per call
            block = q[row] if isinstance(row, slice) else q[row:row + 1]
            clauses = [within] if within else []
            if exclude is not None and len(exclude[row]):
                clauses.append(f"{_ID} not in {np.asarray(exclude[row], dtype=np.int64).ravel().tolist()}")
            expr = " and ".join(clauses)
            hits = self._client.search(self._config.collection, data=block.tolist(), limit=limit,
                                       anns_field=_VEC, filter=expr, output_fields=[],
                                       search_params={"metric_type": "IP",
                                                      "params": self._config.search_params()})
            start = 0 if isinstance(row, slice) else row
            for r, found in enumerate(hits):
                for c, hit in enumerate(found[:k]):
                    scores[start + r, c] = hit["distance"]
                    ids[start + r, c] = hit[_ID]
        return scores, ids

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def item_ids(self) -> np.ndarray:
        return self._ids.copy()

    @property
    def encoder_hash(self) -> str:
        return self._encoder_hash

    @property
    def kind(self) -> str:
        return self._config.index_type

    @property
    def config(self) -> MilvusConfig:
        return self._config

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return (f"MilvusIndex(index_type={self.kind!r}, n_items={len(self)}, dim={self._dim}, "
                f"uri={self._config.uri!r})")

    def close(self) -> None:
        self._client.close()

    def _fetch_ids(self) -> np.ndarray:
        out: list[int] = []
        quiet = logging.getLogger("pymilvus.client.iterator.query_iterator")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # Milvus Lite has no server timestamp: the iterator warns each time
        try:
            iterator = self._client.query_iterator(self._config.collection, batch_size=10_000, filter="",
                                                   output_fields=[_ID])
            while batch := iterator.next():
                out.extend(int(r[_ID]) for r in batch)
            iterator.close()
        finally:
            quiet.setLevel(level)
        return np.asarray(out, dtype=np.int64)


def _insert(client: Any, collection: str, x: np.ndarray, ids: np.ndarray) -> None:
    for i in range(0, len(ids), _BATCH):
        client.insert(collection, [{_ID: int(j), _VEC: v} for j, v in zip(ids[i:i + _BATCH].tolist(),
                                                                         x[i:i + _BATCH].tolist())])
    client.flush(collection)


def _write_manifest(directory: Path, **fields: Any) -> None:
    """The manifest alone: the database file is live (it changes while open), so no file is checksummed."""
    atomic_write_text(directory / MANIFEST, json.dumps({"kind": ARTIFACT_KIND, "files": {}, **fields},
                                                       indent=2, sort_keys=True))

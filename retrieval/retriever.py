"""``DenseRetriever``: recall candidates with a text channel fused with an optional collaborative channel.

score(user, item) = text_weight * cos(text(query), text(item)) + collab(query) . collab(item)

The text channel (sentence-transformers) works for every item with text, including items nobody has
interacted with (cold start).  The collaborative channel (``retrieval.collab``) comes from a trained
artifact (``python -m retrieval.train``); items it never saw get zero collaborative vectors.  Both are
concatenated into one vector per item, so a single inner product (one FAISS search) scores both.
A user with no history is served from the request text; with neither, from popularity.

The query reads the history's content, sentiment and recency as :class:`retrieval.interests.InterestConfig`
says (``interests``: by default every item counts the same).  With ``profile`` the user's profile (age
band, gender, occupation) serves short histories: popularity within the user's demographic groups
(:mod:`retrieval.profiles`) replaces global popularity for a user with neither history nor request, and is
blended into the scores of a history of at most ``profile_max_history`` items.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from llmrec.artifacts import read_manifest
from llmrec.data import Dataset
from llmrec.history import History
from llmrec.items import ItemList, top_n
from llmrec.recommenders.base import Recommender, RecommenderConfig, catalog_candidates
from llmrec.recommenders.popularity import Popularity
from retrieval.collab import CollabConfig, CollabEnsemble, pad_window
from retrieval.encoder import TextEncoder
from retrieval.index import IndexConfig
from retrieval.interests import InterestConfig, InterestProfile
from retrieval.milvus import MilvusConfig
from retrieval.profiles import DemographicPopularity
from retrieval.store import RETRIEVER_KIND, find_cached
from retrieval.text import item_texts, query_text
from retrieval.vector_store import VectorIndex, build_index

__all__ = ["RETRIEVER_KIND", "DenseConfig", "DenseRetriever"]

log = logging.getLogger(__name__)


class DenseConfig(RecommenderConfig):
    retriever: str | None = Field(None, description="trained retriever directory (python -m "
                                                    "retrieval.train), 'auto' for the cached default one "
                                                    "(trained on first use), None or 'untrained': the "
                                                    "untrained text encoder alone")
    encoder: str | None = Field(None, description="sentence-transformers model when no retriever is given")
    text_weight: float | None = Field(None, ge=0, description="weight of the text channel (None: the "
                                                              "artifact's validation-chosen value, or 1)")
    batch_size: int = Field(64, ge=1, description="encoding batch size")
    interests: InterestConfig = Field(default_factory=InterestConfig,
                                      description="how the history's content, sentiment and recency shape "
                                                  "the query (--param interests.disliked_weight=0.2)")
    profile: bool = Field(False, description="cold-user fallback from the user's profile (age band, gender, "
                                             "occupation): demographic popularity for an empty history, "
                                             "blended in for a short one")
    profile_weight: float = Field(0.5, ge=0, description="weight of the standardised demographic popularity "
                                                          "blended into a short history's standardised "
                                                          "scores, divided by the history's length")
    profile_max_history: int = Field(5, ge=0, description="histories of at most this many items get the "
                                                          "demographic blend")


class DenseRetriever(Recommender[DenseConfig]):
    name = "dense"
    config_class = DenseConfig

    def fit(self, data: Dataset) -> DenseRetriever:
        """Encode the catalog (text, cached after the first time, and with an artifact collaborative vectors);
        nothing is trained here."""
        cfg = self.config
        self._catalog = data.catalog
        self._collab: CollabEnsemble | None = None
        text_model, weight = cfg.encoder, 1.0
        directory = self._directory(data)
        if directory:
            manifest = read_manifest(directory, RETRIEVER_KIND)
            root = Path(directory)
            text_model = str(root / manifest["text"]) if manifest.get("text") else manifest["encoder"]
            weight = manifest["text_weight"]
            self._collab_items = np.load(root / "items.npy")
            self._collab = CollabEnsemble.load(root / self._collab_file(manifest, data),
                                               len(self._collab_items), CollabConfig(**manifest["collab"]))
        self.text_weight = cfg.text_weight if cfg.text_weight is not None else weight
        self.encoder = TextEncoder(text_model, batch_size=cfg.batch_size)
        ids = data.catalog.item_ids
        self._text = self.encoder.encode_cached(item_texts(data.catalog, ids))  # (n_items, text dim)
        self._collab_vectors = np.zeros((len(ids), 0), dtype=np.float32)
        if self._collab is not None:
            vecs = self._collab.item_vectors().numpy().astype(np.float32)
            self._collab_vectors = np.zeros((len(ids), vecs.shape[1]), dtype=np.float32)
            known = np.isin(self._collab_items, ids)
            self._collab_vectors[data.catalog.positions(self._collab_items[known])] = vecs[known]
            # items nobody interacted with were only ever pushed down by the softmax: neutral (zero) vectors,
            # so the text channel alone decides whether they are recalled (cold start)
            cold = ~np.isin(ids, data.interactions.frame["item"].to_numpy())
            self._collab_vectors[cold] = 0.0
        self.set_text_weight(self.text_weight)
        self._fallback = Popularity().fit(data)  # for users with neither history nor request
        self._demographic = DemographicPopularity().fit(data) if cfg.profile else None
        self._query_cache: dict[str, np.ndarray] = {}
        self._trained = True
        return self

    def _directory(self, data: Dataset) -> str | None:
        """The trained retriever to load: the configured directory, or for ``"auto"`` the cached default one
        for ``data`` (trained now, on ``data`` as the whole log, when there is none)."""
        spec = self.config.retriever
        if spec in (None, "untrained"):
            return None
        if spec != "auto":
            return spec
        cached = find_cached(data)
        if cached is None:
            from retrieval.train import ensure_retriever

            cached = ensure_retriever(data)
        self.resolved = str(cached)
        return self.resolved

    @staticmethod
    def _collab_file(manifest: dict, data: Dataset) -> str:
        """The validation-fit model for exactly the validation fit data, else the final (refit) one."""
        fits = manifest["fits"]
        fingerprint = data.interactions.fingerprint()
        if fingerprint == fits["validation"] or "final" not in fits:
            return "collab-validation.pt"
        if fingerprint != fits["final"]:
            log.info("retriever_data_differs: fitting on interactions the collaborative channel was not "
                     "trained on (%s); they are read as history, the item vectors are the trained ones",
                     fingerprint)
        return "collab-final.pt"

    @property
    def collab_vectors(self) -> np.ndarray:
        """(catalog items, dim) the collaborative channel's item vectors in catalog order (zero for items it
        never saw; no columns without a trained channel)."""
        return self._collab_vectors

    def set_text_weight(self, weight: float) -> None:
        """Re-weight the text channel (item side) without re-encoding anything."""
        self.text_weight = float(weight)
        self._items = np.concatenate([self.text_weight * self._text, self._collab_vectors], axis=1)
        self.set_interests(getattr(self, "interests", self.config.interests))  # kept when re-weighted

    def set_interests(self, interests: InterestConfig) -> None:
        """Change how the query reads the history (content, sentiment, recency) without re-encoding items."""
        self.interests = interests
        bias = np.zeros(self._items.shape[1], dtype=bool)
        if self._collab is not None:  # each member's block ends with its bias column
            block = self._collab.config.dim + 1
            bias[self._text.shape[1] + block - 1::block] = True
        self._profile = InterestProfile(interests, self._items, bias)

    def query_vector(self, history: History, request: str | None = None) -> np.ndarray | None:
        """The fused query vector, or None for a user with neither history nor request."""
        if len(history) == 0 and not (request or "").strip():
            return None
        interests = self.interests
        text = self._encode_query(query_text(interests.kept(history, "text"), self._catalog, request))
        parts = [(interests.content_weight if len(history) else 1.0) * text]  # a request alone: as it is
        if self._collab is not None:
            window = interests.kept(history, "collab")
            known = window.items[np.isin(window.items, self._collab_items)]
            pos = np.searchsorted(self._collab_items, known)
            x = torch.from_numpy(pad_window(pos, self._collab.config.window)).unsqueeze(0)
            q = self._collab.query(x)[0].numpy()
            if len(known) == 0:
                q[:] = 0.0
            parts.append(q.astype(np.float32))
        query = np.concatenate(parts)
        if len(history):
            query = self._profile.adjust(query, history, self._catalog.positions(history.items))
        return query

    def prepare(self, histories: list[History]) -> None:
        """Encode these users' query texts in batches into the query cache, so scoring them afterwards encodes
        nothing one text at a time (a batch costs about half as much per text on CPU)."""
        self._cache_queries([query_text(self.interests.kept(h, "text"), self._catalog)
                             for h in histories if len(h)])

    def _cache_queries(self, texts: list[str]) -> None:
        """Encode the texts not in the query cache yet, in batches (the one place the cache is filled)."""
        new = [t for t in dict.fromkeys(texts) if t not in self._query_cache]
        if not new:
            return
        if len(self._query_cache) + len(new) > 100_000:
            self._query_cache.clear()
        self._query_cache.update(zip(new, self.encoder.encode(new)))

    def _encode_query(self, text: str) -> np.ndarray:
        """Text-channel query embedding, cached (re-weighting or re-scoring never re-encodes)."""
        self._cache_queries([text])
        return self._query_cache[text]

    def score(self, history: History, items: np.ndarray, request: str | None = None) -> np.ndarray:
        q = self.query_vector(history, request)
        if q is None:
            return self._cold_scores(history, items)
        scores = (self._items @ q)[self._catalog.positions(items)].astype(np.float64)
        return self._with_profile(history, items, scores)

    def _cold_scores(self, history: History, items: np.ndarray) -> np.ndarray:
        """A user with neither history nor request: demographic popularity with ``profile`` (where the
        profile is known), else global popularity."""
        if self._demographic is not None and self._demographic.knows(history.user):
            return self._demographic.score(history, items)
        return self._fallback.score(history, items)

    def _with_profile(self, history: History, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """With ``profile``, a short history's scores blended with its demographic popularity:
        ``z(scores) + profile_weight / n * z(demographic popularity)`` for n <= ``profile_max_history``."""
        cfg, n = self.config, len(history)
        if (self._demographic is None or n == 0 or n > cfg.profile_max_history or len(scores) < 2
                or not self._demographic.knows(history.user)):
            return scores
        pop = self._demographic.score(history, items)
        return _z(scores) + cfg.profile_weight / n * _z(pop)

    def search(self, history: History, items: np.ndarray, k: int = 20, request: str | None = None,
               seeds: np.ndarray | None = None, seed_weight: float = 1.0) -> ItemList:
        """The top ``k`` of ``items`` (e.g. a catalog already masked by a request's hard constraints) for a
        query fused from the user's history, the request text and the ``seeds``' own item vectors ("like
        X": their mean, times ``seed_weight``).  With none of the three, the most popular of ``items``."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) == 0:
            return ItemList(items, np.zeros(0), {"stage": "retrieval"})
        q = self.query_vector(history, request)
        seeds = np.asarray(seeds if seeds is not None else [], dtype=np.int64)
        if len(seeds):
            s = self._items[self._catalog.positions(seeds)].mean(axis=0)
            s = s / (np.linalg.norm(s) + 1e-9)
            q = seed_weight * s if q is None else q / (np.linalg.norm(q) + 1e-9) + seed_weight * s
        if q is None:
            scores = self._cold_scores(history, items)
        else:
            items = self._narrowed(items, q, k)  # through the item index when one is in use (use_index)
            scores = (self._items[self._catalog.positions(items)] @ q).astype(np.float64)
            if not len(seeds):
                scores = self._with_profile(history, items, scores)
        out = top_n(items, scores, k)
        return ItemList(out.items, out.scores, {"stage": "retrieval", "cold": len(history) == 0})

    def item_vectors(self, items: np.ndarray) -> np.ndarray:
        """(len(items), dim) the fused vectors the index searches (text channel weighted, collaborative)."""
        return self._items[self._catalog.positions(items)]

    def candidates(self, history: History, k: int = 20, request: str | None = None,
                   exclude_seen: bool = True) -> ItemList:
        """The top ``k`` items for the user (the candidates the LLM ranker will see)."""
        return catalog_candidates(self.score, self._catalog.item_ids, history, k, request, exclude_seen)

    # -- real-time updates: the item index and new items (service/realtime) ------------------------------
    def use_index(self, config: IndexConfig | MilvusConfig | None = None, *,
                  milvus_uri: str | None = None) -> VectorIndex:
        """Search through an item index of the fused item vectors from now on: FAISS
        (:class:`~retrieval.index.ItemIndex`; default: exact, flat, raw inner product, so rankings are those
        of the matmul) or, given a :class:`~retrieval.milvus.MilvusConfig`, Milvus (use ``metric="ip"`` and
        ``index_type="FLAT"`` for the same rankings; ``milvus_uri`` alone: exactly that, at a Milvus Lite
        file or a cluster URI); new items are added by :meth:`add_items` without a rebuild."""
        if milvus_uri is not None:
            if config is not None:
                raise ValueError("use_index takes a config or a milvus_uri, not both")
            config = MilvusConfig(uri=milvus_uri, metric="ip", index_type="FLAT")
        config = config or IndexConfig(kind="flat", metric="ip", use_gpu=False)
        model, digest = self.encoder.identity
        self._index = build_index(self._items, self._catalog.item_ids, encoder_id=model, encoder_hash=digest,
                                  config=config)
        self._index_weight = self.text_weight
        return self._index

    @property
    def catalog(self):
        """The catalog the item vectors are in (their rows are its positions); :meth:`add_items` extends
        them for items appended to it."""
        return self._catalog

    @property
    def index(self) -> VectorIndex | None:
        """The item index searches go through (None: the numpy matmul over the allowed items)."""
        return getattr(self, "_index", None)

    def cannot_add_items(self) -> str | None:
        """Why :meth:`add_items` would refuse (None: it would not)."""
        if getattr(self, "_demographic", None) is not None:
            return ("new items with the retriever's profile blend on are not supported (its demographic "
                    "popularity is counted over the catalog at fit)")
        return None

    def add_items(self, items: np.ndarray) -> None:
        """Encode items just appended to the catalog (:meth:`~llmrec.data.Catalog.append`) by the text
        channel and add their vectors (collaborative part zero, as for any item the channel never saw) to the
        item matrix and the index, without re-encoding or rebuilding anything else."""
        if reason := self.cannot_add_items():
            raise ValueError(reason)
        items = np.asarray(items, dtype=np.int64)
        first = len(self._text)
        if not np.array_equal(self._catalog.positions(items), np.arange(first, first + len(items))):
            raise ValueError(f"items {items.tolist()} are not the catalog's next {len(items)} items (the "
                             f"retriever holds {first}; append them to the catalog first, in order)")
        self._text = np.concatenate([self._text, self.encoder.encode(item_texts(self._catalog, items))])
        zeros = np.zeros((len(items), self._collab_vectors.shape[1]), dtype=np.float32)
        self._collab_vectors = np.concatenate([self._collab_vectors, zeros])
        self._fallback._counts = np.concatenate([self._fallback._counts, np.zeros(len(items))])  # nobody yet
        self.set_text_weight(self.text_weight)
        if self.index is not None and self._index_weight == self.text_weight:
            self._index.add(self._items[first:], items)

    def _narrowed(self, items: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
        """The items the index finds best for ``q`` among ``items`` (k, plus a margin so that the exact
        re-score orders the top k as over all of them), or ``items`` without an index or with the profile
        blend (it standardises over the whole set)."""
        if self.index is None or getattr(self, "_demographic", None) is not None or len(items) <= 2 * k:
            return items
        if self._index_weight != self.text_weight:  # re-weighted since: the vectors changed
            self.use_index(self._index.config)
        fetch = min(len(items), 2 * k + 32)
        _, found = self._index.search(q[None, :], fetch, only=items)
        return found[0][found[0] >= 0]


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)

"""A knowledge graph of the catalog and its viewers, and recall by personalised PageRank over it.

:class:`KnowledgeGraph` is a weighted, undirected ``networkx`` graph built from a fit-data
:class:`~llmrec.data.Dataset` (never from held-out interactions).  Its nodes are typed tuples:

* ``("item", 50)``: every catalog item;
* ``("genre", "Sci-Fi")``, ``("decade", 1980)``, ``("year", 1986)``: catalog attributes, each linked to the
  items that have it;
* ``("age", "25-34")``, ``("gender", "F")``, ``("occupation", "writer")``: the viewers' profile groups (from
  ``Dataset.users`` where the data has them), each linked to the items its members watched, weighted by the
  group's share of the item's viewers;
* co-watch edges ``item -- item``: the cosine of the two items' viewer sets in the fit interactions, the
  ``cowatch_neighbors`` strongest per item kept.

Each relation's edges are scaled by its weight in :class:`GraphConfig`.  :class:`GraphRecommender` (registered
as ``graph``) scores items by personalised PageRank (PPR) restarted at the user's history — liked items
(rated at least ``liked_rating``) carrying ``liked_weight`` times the restart mass of the others — plus, with
``profile_weight``, the user's profile-group nodes (a user with no history is served from them alone, and with
neither from popularity).  Scores are PPR mass divided by ``popularity ** popularity_penalty`` (the RP3beta
correction of random walks' pull towards popular items).  PPR runs as batched power iteration on the graph's
transition matrix (``networkx`` builds the graph and the matrix; :meth:`KnowledgeGraph.pagerank` agrees with
``networkx.pagerank`` to 1e-8, a test checks it).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from pydantic import Field

from llmrec.data import Dataset
from llmrec.history import History
from llmrec.recommenders.base import Recommender, RecommenderConfig
from llmrec.recommenders.popularity import Popularity

__all__ = ["AGE_BANDS", "GraphConfig", "GraphRecommender", "KnowledgeGraph", "age_band", "shared_nodes"]

log = logging.getLogger(__name__)

Node = tuple[str, Hashable]

#: Upper bounds (inclusive) of the age bands profile groups use (MovieLens' own bands).
AGE_BANDS = ((17, "under 18"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (49, "45-49"), (55, "50-55"))


def age_band(age: int) -> str:
    """``"25-34"`` for 30; ``"56+"`` above the last band."""
    return next((name for top, name in AGE_BANDS if age <= top), "56+")


class GraphConfig(RecommenderConfig):
    """The graph's relation weights and the walk's settings (defaults chosen on the validation split,
    docs/graph.md)."""

    genre_weight: float = Field(1.0, ge=0, description="weight of item -- genre edges")
    decade_weight: float = Field(0.5, ge=0, description="weight of item -- decade edges")
    year_weight: float = Field(0.25, ge=0, description="weight of item -- release year edges")
    group_weight: float = Field(0.5, ge=0, description="weight of item -- viewer profile group edges "
                                                       "(age band, gender, occupation), per attribute")
    cowatch_weight: float = Field(8.0, ge=0, description="weight of item -- item co-watch edges (cosine "
                                                         "of the two items' viewer sets)")
    cowatch_neighbors: int = Field(10, ge=1, description="co-watch edges kept per item (the strongest)")
    cowatch_window: int = Field(0, ge=0, description="co-watch counts pairs at most this many interactions "
                                                     "apart in a user's history (0: any two of its items)")
    damping: float = Field(0.5, gt=0, lt=1, description="probability the walk follows an edge rather than "
                                                        "restarting at the user's history")
    liked_rating: float = Field(4.0, description="ratings at least this count as liked")
    liked_weight: float = Field(2.0, ge=0, description="restart mass of a liked history item relative to "
                                                       "another history item (1: all equal)")
    recency_half_life: float | None = Field(5.0, gt=0, description="restart mass halves every this many "
                                                                    "interactions back from the newest "
                                                                    "(None: no decay)")
    profile_weight: float = Field(0.0, ge=0, description="restart mass on the user's profile-group nodes, "
                                                         "relative to the history's total (0: history only)")
    popularity_penalty: float = Field(0.0, ge=0, description="scores are divided by (viewers + 1) ** this")
    iterations: int = Field(50, ge=1, description="most power iterations")
    tolerance: float = Field(1e-8, gt=0, description="stop when the L1 change per user is below this")


def _pair_counts(data: Dataset, window: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """(items, items) how many users watched both items (within ``window`` interactions of each other when
    > 0), and (items,) how many users watched each; catalog order."""
    frame = data.interactions.ordered()
    n_items = len(data.catalog)
    users, user_pos = np.unique(frame["user"].to_numpy(), return_inverse=True)
    item_pos = data.catalog.positions(frame["item"].to_numpy())
    x = sp.csr_matrix((np.ones(len(frame)), (user_pos, item_pos)), shape=(len(users), n_items))
    x.data[:] = 1.0  # a user who rated an item twice watched it once
    viewers = np.asarray(x.sum(axis=0)).ravel()
    if window == 0:
        counts = (x.T @ x).tocsr()
    else:
        rows, cols = [], []
        for offset in range(1, window + 1):
            a, b = item_pos[:-offset], item_pos[offset:]
            near = user_pos[:-offset] == user_pos[offset:]
            rows.append(a[near])
            cols.append(b[near])
        r, c = np.concatenate(rows), np.concatenate(cols)
        counts = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))
        counts = (counts + counts.T).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    return counts, viewers


def _cowatch(data: Dataset, neighbors: int, window: int = 0) -> sp.csr_matrix:
    """(items, items) co-watch cosines in catalog order, the ``neighbors`` strongest per row, symmetrised."""
    n_items = len(data.catalog)
    counts, viewers = _pair_counts(data, window)
    norm = np.sqrt(viewers)
    norm[norm == 0] = 1.0
    cos = sp.diags(1 / norm) @ counts @ sp.diags(1 / norm)
    cos = cos.tocsr()
    rows, cols, vals = [], [], []
    for i in range(n_items):
        start, stop = cos.indptr[i], cos.indptr[i + 1]
        if stop == start:
            continue
        idx, v = cos.indices[start:stop], cos.data[start:stop]
        keep = np.lexsort((idx, -v))[:neighbors]  # strongest first, ties by item position
        rows += [i] * len(keep)
        cols += idx[keep].tolist()
        vals += v[keep].tolist()
    top = sp.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))
    return top.maximum(top.T).tocsr()


class KnowledgeGraph:
    """The item-attribute graph of a fit-data :class:`Dataset` (module doc) and PPR over it."""

    def shared_nodes(self, item: int, other: int, kinds: Sequence[str] = ("genre", "decade")) -> list[Node]:
        """:func:`shared_nodes` of this graph (the layers above read the graph through its methods)."""
        return shared_nodes(self, item, other, kinds)

    def __init__(self, graph: nx.Graph, items: np.ndarray):
        self.graph = graph
        self.items = np.asarray(items, dtype=np.int64)  # catalog item ids, in catalog order
        self.nodes: list[Node] = list(graph.nodes)
        self.index = {node: k for k, node in enumerate(self.nodes)}
        self.item_nodes = np.array([self.index[("item", int(i))] for i in self.items], dtype=np.int64)
        adj = nx.to_scipy_sparse_array(graph, nodelist=self.nodes, weight="weight", format="csr")
        out = np.asarray(adj.sum(axis=1)).ravel()
        self.dangling = out == 0
        inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
        self._walk = sp.csr_matrix(sp.diags(inv) @ adj).T.tocsr()  # column-stochastic: p' = walk @ p

    @classmethod
    def build(cls, data: Dataset, config: GraphConfig | None = None) -> KnowledgeGraph:
        """The graph of ``data``'s catalog, its users' profile groups and its interactions (module doc)."""
        cfg = config or GraphConfig()
        g = nx.Graph()
        catalog = data.catalog
        ids = catalog.item_ids
        g.add_nodes_from(("item", int(i)) for i in ids)

        def link(a: Node, b: Node, w: float) -> None:
            if w > 0:
                g.add_edge(a, b, weight=g.get_edge_data(a, b, {"weight": 0.0})["weight"] + w)

        for i in ids:
            i = int(i)
            for genre in catalog.genres(i):
                link(("item", i), ("genre", genre), cfg.genre_weight)
            year = catalog.year(i)
            if year:
                link(("item", i), ("decade", year // 10 * 10), cfg.decade_weight)
                link(("item", i), ("year", int(year)), cfg.year_weight)
        if cfg.group_weight > 0 and data.users is not None:
            cls._link_groups(data, link, cfg.group_weight)
        if cfg.cowatch_weight > 0 and len(data.interactions):
            co = _cowatch(data, cfg.cowatch_neighbors, cfg.cowatch_window).tocoo()
            for a, b, v in zip(co.row, co.col, co.data):
                if a < b:
                    link(("item", int(ids[a])), ("item", int(ids[b])), cfg.cowatch_weight * float(v))
        log.info("knowledge_graph nodes=%d edges=%d", g.number_of_nodes(), g.number_of_edges())
        return cls(g, ids)

    @staticmethod
    def _link_groups(data: Dataset, link, weight: float) -> None:
        """Item -- profile group edges: per attribute, the group's share of the item's (profiled) viewers."""
        frame = data.interactions.frame[["user", "item"]].drop_duplicates()
        users = data.users
        frame = frame[frame["user"].isin(users.index)]
        if frame.empty:
            return
        profile = users.loc[frame["user"].to_numpy()]
        columns = {"age": profile["age"].map(lambda a: age_band(int(a))).to_numpy(),
                   "gender": profile["gender"].to_numpy(), "occupation": profile["occupation"].to_numpy()}
        items = frame["item"].to_numpy()
        viewers = dict(zip(*np.unique(items, return_counts=True)))
        for kind, values in columns.items():
            pairs, counts = np.unique(np.stack([items.astype(str), values.astype(str)]), axis=1,
                                      return_counts=True)
            for (item, value), n in zip(pairs.T, counts):
                link(("item", int(item)), (kind, str(value)), weight * n / viewers[int(item)])

    @staticmethod
    def profile_nodes(data: Dataset, user: int) -> list[Node]:
        """The profile-group nodes of ``user`` (none when the data has no profile for them)."""
        if data.users is None or user not in data.users.index:
            return []
        row = data.users.loc[user]
        return [("age", age_band(int(row["age"]))), ("gender", str(row["gender"])),
                ("occupation", str(row["occupation"]))]

    def restart(self, weights: dict[Node, float]) -> np.ndarray:
        """The restart distribution over nodes of ``weights`` (nodes not in the graph ignored)."""
        v = np.zeros(len(self.nodes))
        for node, w in weights.items():
            k = self.index.get(node)
            if k is not None and w > 0:
                v[k] += w
        total = v.sum()
        return v / total if total > 0 else v

    def pagerank(self, restarts: np.ndarray, damping: float = 0.85, iterations: int = 100,
                 tolerance: float = 1e-10) -> np.ndarray:
        """Personalised PageRank for each column of ``restarts`` ((nodes, users) restart distributions, each
        summing to 1): ``p = damping * (walk p + dangling mass * r) + (1 - damping) * r``, as
        ``networkx.pagerank(graph, alpha=damping, personalization=r)`` computes it.  Returns (nodes,
        users)."""
        r = np.asarray(restarts, dtype=np.float64)
        squeeze = r.ndim == 1
        r = r[:, None] if squeeze else r
        p = r.copy()
        for _ in range(iterations):
            nxt = damping * (self._walk @ p + r * p[self.dangling].sum(axis=0)) + (1 - damping) * r
            delta = np.abs(nxt - p).sum(axis=0).max()
            p = nxt
            if delta < tolerance * len(self.nodes):
                break
        return p[:, 0] if squeeze else p

    def edge_weight(self, a: Node, b: Node) -> float:
        return float(self.graph.get_edge_data(a, b, {"weight": 0.0})["weight"])


def shared_nodes(graph: KnowledgeGraph, item: int, other: int, kinds: Sequence[str] = ("genre", "decade")
                 ) -> list[Node]:
    """The attribute nodes of ``kinds`` both items link to: the two-step paths ``item -- node -- other``."""
    a, b = ("item", int(item)), ("item", int(other))
    if a not in graph.graph or b not in graph.graph:
        return []
    common = set(graph.graph[a]) & set(graph.graph[b])
    return sorted((n for n in common if n[0] in kinds), key=lambda n: (kinds.index(n[0]), str(n[1])))


class GraphRecommender(Recommender[GraphConfig]):
    """Personalised PageRank over the :class:`KnowledgeGraph` from the user's history (module doc)."""

    name = "graph"
    config_class = GraphConfig

    def fit(self, data: Dataset) -> GraphRecommender:
        self.knowledge_graph = KnowledgeGraph.build(data, self.config)
        self._data = data
        self._catalog = data.catalog
        frame = data.interactions.frame
        viewers = np.zeros(len(data.catalog))
        np.add.at(viewers, data.catalog.positions(frame["item"].to_numpy()), 1.0)
        self._penalty = (viewers + 1.0) ** -self.config.popularity_penalty
        self._fallback = Popularity().fit(data)
        self._cache: dict[tuple, np.ndarray | None] = {}
        self._trained = True
        return self

    def _restart(self, history: History) -> np.ndarray | None:
        cfg = self.config
        weights: dict[Node, float] = {}
        n = len(history)
        for k, (item, rating) in enumerate(zip(history.items.tolist(),
                                               np.asarray(history.ratings, dtype=np.float64))):
            w = cfg.liked_weight if np.isfinite(rating) and rating >= cfg.liked_rating else 1.0
            if cfg.recency_half_life is not None:
                w *= 0.5 ** ((n - 1 - k) / cfg.recency_half_life)
            weights[("item", int(item))] = weights.get(("item", int(item)), 0.0) + w
        groups = KnowledgeGraph.profile_nodes(self._data, history.user) if cfg.profile_weight > 0 else []
        total = sum(weights.values()) or 1.0
        for node in groups:
            weights[node] = weights.get(node, 0.0) + cfg.profile_weight * total / len(groups)
        r = self.knowledge_graph.restart(weights)
        return r if r.sum() > 0 else None

    @staticmethod
    def _key(history: History) -> tuple:
        return (history.user, history.items.tobytes(), np.asarray(history.ratings).tobytes())

    def prepare(self, histories: list[History]) -> None:
        """PPR of these users in one batched power iteration, cached for :meth:`score`."""
        todo = {self._key(h): h for h in histories if self._key(h) not in self._cache}
        if len(self._cache) + len(todo) > 20_000:
            self._cache.clear()
        restarts = {k: self._restart(h) for k, h in todo.items()}
        live = [k for k, r in restarts.items() if r is not None]
        self._cache.update({k: None for k, r in restarts.items() if r is None})
        if live:
            cfg = self.config
            p = self.knowledge_graph.pagerank(np.stack([restarts[k] for k in live], axis=1), cfg.damping,
                                              cfg.iterations, cfg.tolerance)
            scores = p[self.knowledge_graph.item_nodes] * self._penalty[:, None]
            self._cache.update({k: scores[:, j] for j, k in enumerate(live)})

    def catalog_scores(self, history: History) -> np.ndarray | None:
        """(catalog items,) PPR scores in catalog order; None for a user with neither history nor profile."""
        key = self._key(history)
        if key not in self._cache:
            self.prepare([history])
        return self._cache[key]

    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        scores = self.catalog_scores(history)
        if scores is None:
            return self._fallback.score(history, items)
        return scores[self._catalog.positions(items)].astype(np.float64)

"""The recommender protocol and its registry.

A recommender is built from a typed config, trained with :meth:`Recommender.fit` on a fit-data
:class:`~llmrec.data.Dataset`, then scores items for a user's :class:`~llmrec.history.History`.
Higher scores are better; the evaluation harness breaks ties by item id.

The registry is explicit: :func:`register_recommender` adds a class under a name (a duplicate raises), and
the recommenders of the installed packages are found through the ``llmrec.recommenders`` entry-point group
(``pyproject.toml``: ``dense`` from ``retrieval``, ``llm`` from ``llmrec.llm.ranker``), loaded when first
asked for — so no module has to be imported for its side effect, and no layer imports one above it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from llmrec.data import Dataset
from llmrec.errors import ConfigError
from llmrec.history import History
from llmrec.items import ItemList, top_n

__all__ = [
    "ENTRY_POINTS",
    "Recommender",
    "RecommenderConfig",
    "Retriever",
    "check_n",
    "create_recommender",
    "fit_retriever",
    "recommender_class",
    "register_recommender",
    "registered_recommenders",
]


def fit_retriever(retriever: Any, spec: str | None, data: Dataset, fitted_on: str | None
                  ) -> tuple[Any, str]:
    """``(retriever, fingerprint of data)``: the stage's retriever (the registered ``dense`` one for ``spec``
    when None) fitted on ``data`` unless it is trained already on exactly that data.  ``fitted_on`` is the
    fingerprint the caller fitted it on before (None: never, so one given trained is kept as it is); a
    retriever the caller fitted on another split is fitted again, so it never recalls from that split."""
    if retriever is None:
        retriever = create_recommender("dense", {"retriever": spec})
    fingerprint = data.interactions.fingerprint()
    if not retriever.is_trained() or fitted_on not in (None, fingerprint):
        retriever.fit(data)
    return retriever, fingerprint


def catalog_candidates(score: Any, ids: np.ndarray, history: History, k: int, request: str | None,
                       exclude_seen: bool, **meta: Any) -> ItemList:
    """A retriever's candidates: the top ``k`` of the catalog ``ids`` (less the user's history with
    ``exclude_seen``) by ``score(history, items, request)``, with ``meta`` beside the stage's own."""
    if exclude_seen:
        ids = ids[~np.isin(ids, history.items)]
    out = top_n(ids, score(history, ids, request), k)
    return ItemList(out.items, out.scores, {"stage": "retrieval", **meta, "cold": len(history) == 0})


def check_n(n: Any, what: str = "n") -> int:
    """``n`` as a positive number of items to recommend; anything else is an error naming the value."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"{what} must be a positive integer (how many items to recommend), got {n!r}")
    return int(n)


class RecommenderConfig(BaseModel):
    """Base of every recommender's config: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


C = TypeVar("C", bound=RecommenderConfig)


class Recommender(abc.ABC, Generic[C]):
    """Scores items for users.  Subclasses set ``name`` and ``config_class``."""

    name: ClassVar[str]
    config_class: ClassVar[type[RecommenderConfig]]

    def __init__(self, config: C | None = None):
        self.config: C = config if config is not None else self.config_class()  # type: ignore[assignment]
        self._trained = False

    @abc.abstractmethod
    def fit(self, data: Dataset) -> Recommender[C]:
        """Train on ``data`` (fit data only: never the held-out interactions)."""

    @abc.abstractmethod
    def score(self, history: History, items: np.ndarray) -> np.ndarray:
        """Scores (higher is better) for ``items`` given the user's ``history``; shape ``items.shape``."""

    def is_trained(self) -> bool:
        return self._trained

    def recommend(self, history: History, items: np.ndarray, n: int = 10,
                  exclude_seen: bool = True) -> ItemList:
        """The top ``n`` of ``items`` for this user as a ranked :class:`ItemList`."""
        n = check_n(n)
        items = np.asarray(items, dtype=np.int64)
        if exclude_seen:
            items = items[~np.isin(items, history.items)]
        return top_n(items, self.score(history, items), n)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "config": self.config.model_dump(mode="json")}

    def prepare(self, histories: list[History]) -> None:
        """A hint that these users are about to be scored, so work can be batched (the LLM ranker scores
        all their prompts in one engine call).  The default does nothing."""

    def score_many(self, histories: list[History], items: list[np.ndarray]) -> list[np.ndarray]:
        """Scores of each user's own item set, for a batch of users (sampled-candidate evaluation); the
        default scores one user at a time."""
        return [np.asarray(self.score(h, np.asarray(i, dtype=np.int64)), dtype=np.float64)
                for h, i in zip(histories, items)]

    def stats(self) -> dict[str, Any]:
        """Run statistics worth writing into a report (timings, prompt versions); none by default."""
        return {}

    def close(self) -> None:
        """Release what the recommender holds outside Python (an LLM engine's processes); nothing by
        default."""


@runtime_checkable
class Retriever(Protocol):
    """What the LLM ranker needs from the stage before it: a fitted recommender that also recalls a user's
    top ``k`` candidates (``retrieval.DenseRetriever`` is one)."""

    def is_trained(self) -> bool: ...

    def fit(self, data: Dataset) -> Retriever: ...

    def score(self, history: History, items: np.ndarray) -> np.ndarray: ...

    def prepare(self, histories: list[History]) -> None: ...

    def candidates(self, history: History, k: int, request: str | None = None) -> ItemList: ...


@dataclass(frozen=True)
class _Entry:
    config_class: type[RecommenderConfig]
    cls: type[Recommender]


#: The entry-point group through which installed packages register recommenders (name = "module:Class").
ENTRY_POINTS = "llmrec.recommenders"

_REGISTRY: dict[str, _Entry] = {}


def register_recommender(name: str, cls: type[Recommender]) -> type[Recommender]:
    """Register ``cls`` under ``name``; a duplicate name raises."""
    if name in _REGISTRY and _REGISTRY[name].cls is not cls:
        raise ConfigError(f"recommender {name!r} is already registered ({_REGISTRY[name].cls.__name__})")
    _REGISTRY[name] = _Entry(cls.config_class, cls)
    return cls


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINTS)}


def registered_recommenders() -> list[str]:
    """Every recommender that can be created by name: registered ones and the installed entry points."""
    return sorted(set(_REGISTRY) | set(_entry_points()))


def _lookup(name: str) -> _Entry:
    if name not in _REGISTRY:
        ep = _entry_points().get(name)
        if ep is None:
            raise ConfigError(f"unknown recommender {name!r}; known: {', '.join(registered_recommenders())}")
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Recommender)):
            raise ConfigError(f"entry point {ENTRY_POINTS}:{name} ({ep.value}) is not a Recommender class")
        register_recommender(name, cls)
    return _REGISTRY[name]


def recommender_class(name: str) -> type[Recommender]:
    """The class registered under ``name``."""
    return _lookup(name).cls


def create_recommender(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Build a registered recommender from its name and config values (validated; bad values named)."""
    entry = _lookup(name)
    try:
        config = entry.config_class(**(params or {}))
    except ValidationError as err:
        raise ConfigError(f"invalid config for recommender {name!r}: {err}") from None
    return entry.cls(config)

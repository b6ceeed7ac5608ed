"""The recommender protocol and its registry.

A recommender is built from a typed config, trained with :meth:`Recommender.fit` on a fit-data
:class:`~llmrec.data.Dataset`, then scores items for a user's :class:`~llmrec.history.History`.
Higher scores are better; the evaluation harness breaks ties by item id.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from llmrec.data import Dataset
from llmrec.errors import ConfigError
from llmrec.history import History
from llmrec.items import ItemList, top_n

__all__ = [
    "Recommender",
    "RecommenderConfig",
    "create_recommender",
    "register_recommender",
    "registered_recommenders",
]


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

    def recommend(self, history: History, items: np.ndarray, n: int = 10, exclude_seen: bool = True) -> ItemList:
        """The top ``n`` of ``items`` for this user as a ranked :class:`ItemList`."""
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


@dataclass(frozen=True)
class _Entry:
    config_class: type[RecommenderConfig]
    cls: type[Recommender]


_REGISTRY: dict[str, _Entry] = {}


def register_recommender(name: str, cls: type[Recommender]) -> type[Recommender]:
    """Register ``cls`` under ``name``; a duplicate name raises."""
    if name in _REGISTRY:
        raise ConfigError(f"recommender {name!r} is already registered ({_REGISTRY[name].cls.__name__})")
    _REGISTRY[name] = _Entry(cls.config_class, cls)
    return cls


def registered_recommenders() -> list[str]:
    return sorted(_REGISTRY)


def create_recommender(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Build a registered recommender from its name and config values (validated; bad values named)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown recommender {name!r}; known: {', '.join(registered_recommenders())}")
    entry = _REGISTRY[name]
    try:
        config = entry.config_class(**(params or {}))
    except ValidationError as err:
        raise ConfigError(f"invalid config for recommender {name!r}: {err}") from None
    return entry.cls(config)

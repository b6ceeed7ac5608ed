"""Conformance tests every recommender passes, shipped with the library (as LensKit ships its scorer tests).

A recommender's test module subclasses :class:`RecommenderTests` and names it::

    class TestMyRecommender(RecommenderTests):
        name = "my-recommender"          # its registered name
        params = {"neighbors": 5}        # config values (optional)

and pytest runs every check below on it: the config round-trips and refuses unknown settings, scores are
finite and one per item, ``recommend`` returns the ``n`` best unseen items best first (ties by item id),
the same data gives the same scores, and a bad ``n`` is an error.  :meth:`RecommenderTests.build` may be
overridden to inject components (e.g. the LLM ranker with :class:`ScriptedLLM`, which needs no model).
"""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.errors import ConfigError
from llmrec.history import histories
from llmrec.items import top_n
from llmrec.recommenders import Recommender, create_recommender, recommender_class

__all__ = ["CharTokenizer", "RecommenderTests", "ScriptedItemLLM", "ScriptedLLM", "conformance_dataset",
           "item_model_stub"]

_TITLES = [("Toy Story", 1995, "Animation|Children's|Comedy"), ("Heat", 1995, "Action|Crime|Thriller"),
           ("Fargo", 1996, "Crime|Drama|Thriller"), ("Alien", 1979, "Action|Horror|Sci-Fi"),
           ("Scream", 1996, "Horror|Thriller"), ("Casablanca", 1942, "Drama|Romance|War"),
           ("Jaws", 1975, "Action|Horror"), ("Clueless", 1995, "Comedy|Romance"),
           ("Psycho", 1960, "Horror|Mystery|Thriller"), ("Babe", 1995, "Children's|Comedy|Drama"),
           ("Vertigo", 1958, "Mystery|Thriller"), ("Twister", 1996, "Action|Adventure|Thriller")]


def conformance_dataset() -> Dataset:
    """Twelve movies and eight users with seeded histories of 4 to 9 interactions (ratings 1-5)."""
    catalog = Catalog(pd.DataFrame({"item": range(1, len(_TITLES) + 1), "title": [t for t, _, _ in _TITLES],
                                    "year": [y for _, y, _ in _TITLES], "genres": [g for _, _, g in _TITLES]}
                                   ).set_index("item"))
    rng = np.random.default_rng(7)
    rows = []
    for user in range(1, 9):
        items = rng.permutation(len(_TITLES))[: 4 + user % 6] + 1
        rows += [(user, int(i), float(rng.integers(1, 6)), 100 * k) for k, i in enumerate(items)]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog,
                   name="conformance")


class CharTokenizer:
    """A stand-in tokenizer: one token per character (its code point); role-tagged lines as chat template."""

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]


class ScriptedLLM:
    """A deterministic stand-in LLM backend: each label's logit is a hash of the prompt and the label."""

    def __init__(self):
        self.tokenizer, self.config = CharTokenizer(), None

    def label_logprobs(self, prompts, token_ids, *, adapter=None):
        rows = [[zlib.crc32(f"{p}|{t}".encode()) % 1000 / 100.0 for t in token_ids] for p in prompts]
        logits = np.array(rows, dtype=np.float64).reshape(len(prompts), len(token_ids))
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def generate(self, prompts, max_tokens, *, adapter=None, json_schema=None, temperature=0.0, seeds=None):
        return ["{}" for _ in prompts]


class ScriptedItemLLM:
    """A deterministic stand-in for an item-token model's backend: each item token's logit is a hash of the
    prompt and the token; :meth:`allowed_logprobs` normalises over the allowed tokens, as the engines do.
    Another ``salt`` is another model (other scores for the same prompt)."""

    def __init__(self, salt: str = ""):
        self.calls = 0
        self.salt = salt

    def allowed_logprobs(self, prompts, token_ids):
        self.calls += 1
        rows = [[zlib.crc32(f"{self.salt}{list(p)}|{t}".encode()) % 1000 / 100.0 for t in token_ids]
                for p in prompts]
        logits = np.array(rows, dtype=np.float64).reshape(len(prompts), len(token_ids))
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def item_model_stub(directory, catalog: Catalog) -> str:
    """A directory holding only an item-token model's manifest for ``catalog`` (tokens 1000, 1001, ...):
    enough for ``genllm`` with a scripted backend."""
    from llmrec.artifacts import write_manifest
    from llmrec.llm.items import ITEM_MODEL_KIND, ItemVocabulary, catalog_fingerprint

    vocab = ItemVocabulary(catalog.item_ids.copy(), 1000 + np.arange(len(catalog), dtype=np.int64), (1, 2),
                           catalog_fingerprint(catalog))
    write_manifest(directory, ITEM_MODEL_KIND, **vocab.manifest_fields())
    return str(directory)


class RecommenderTests:
    """The checks every registered recommender passes; subclasses set ``name`` (and ``params``)."""

    name: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    n: ClassVar[int] = 3

    def build(self) -> Recommender:
        """An unfitted recommender to check (override to inject components)."""
        return create_recommender(self.name, dict(self.params))

    def fitted(self) -> tuple[Recommender, Dataset]:
        cache = type(self).__dict__.get("_fitted")
        if cache is None:
            data = conformance_dataset()
            cache = (self.build().fit(data), data)
            type(self)._fitted = cache
        return cache

    def test_is_registered_and_trained_after_fit(self):
        rec, _ = self.fitted()
        assert isinstance(rec, recommender_class(self.name)) and rec.is_trained()

    def test_config_round_trips_through_describe(self):
        rec, _ = self.fitted()
        described = rec.describe()
        assert described["name"] == self.name
        assert type(rec.config)(**described["config"]) == rec.config

    def test_an_unknown_setting_is_an_error_naming_it(self):
        import pytest

        with pytest.raises(ConfigError, match="no_such_setting"):
            create_recommender(self.name, {**self.params, "no_such_setting": 1})

    def test_scores_are_finite_and_one_per_item(self):
        rec, data = self.fitted()
        items = data.catalog.item_ids
        for history in histories(data.interactions).values():
            scores = np.asarray(rec.score(history, items))
            assert scores.shape == items.shape and np.isfinite(scores).all()

    def test_recommend_returns_the_n_best_unseen_items_best_first(self):
        rec, data = self.fitted()
        items = data.catalog.item_ids
        for history in histories(data.interactions).values():
            recs = rec.recommend(history, items, n=self.n)
            unseen = items[~np.isin(items, history.items)]
            assert len(recs) == min(self.n, len(unseen))
            assert not np.isin(recs.items, history.items).any() and len(set(recs.items.tolist())) == len(recs)
            assert (np.diff(recs.scores) <= 0).all()
            ties = [(a, b) for a, b, s, t in zip(recs.items, recs.items[1:], recs.scores, recs.scores[1:])
                    if s == t]
            assert all(a < b for a, b in ties)

    def test_recommend_agrees_with_score(self):
        rec, data = self.fitted()
        items = data.catalog.item_ids
        for history in histories(data.interactions).values():
            unseen = items[~np.isin(items, history.items)]
            expected = top_n(unseen, np.asarray(rec.score(history, unseen), dtype=np.float64), self.n)
            assert rec.recommend(history, items, n=self.n).items.tolist() == expected.items.tolist()

    def test_the_same_data_gives_the_same_scores(self):
        rec, data = self.fitted()
        again = self.build().fit(data)
        items = data.catalog.item_ids
        for history in histories(data.interactions).values():
            np.testing.assert_allclose(again.score(history, items), rec.score(history, items), rtol=1e-6)

    def test_a_bad_n_is_an_error_naming_it(self):
        import pytest

        rec, data = self.fitted()
        history = next(iter(histories(data.interactions).values()))
        for bad in (0, -5, 2.5):
            with pytest.raises(ConfigError, match="positive integer"):
                rec.recommend(history, data.catalog.item_ids, n=bad)

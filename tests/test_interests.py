"""The retriever's query reads the history's content, sentiment and recency: disliked items push it away,
recent liked items pull it more, and the defaults are the plain query."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.history import History
from retrieval.interests import InterestConfig, InterestProfile, recency_weights
from retrieval.retriever import DenseConfig, DenseRetriever
from retrieval.text import query_text

DAY = 86400
TITLES = {1: ("Toy Story", "Animation|Children's|Comedy"), 2: ("Finding Nemo", "Animation|Children's"),
          3: ("Halloween", "Horror"), 4: ("Scream", "Horror|Thriller"), 5: ("The Shining", "Horror"),
          6: ("Aladdin", "Animation|Children's|Musical")}


@pytest.fixture(scope="module")
def movies() -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": list(TITLES), "title": [t for t, _ in TITLES.values()],
                                    "year": [1995, 2003, 1978, 1996, 1980, 1992],
                                    "genres": [g for _, g in TITLES.values()]}).set_index("item"))
    rows = [(u, i, 4.0, 10 * k) for u in range(1, 5) for k, i in enumerate([1, 3, 2, 4])]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog)


@pytest.fixture(scope="module")
def retriever(movies) -> DenseRetriever:
    return DenseRetriever().fit(movies)


def history(*entries: tuple[int, float, int]) -> History:
    """(item, rating, day) entries, oldest first."""
    items, ratings, days = zip(*entries)
    return History(99, np.array(items), np.array(ratings, dtype=float), np.array(days) * DAY)


def with_interests(retriever: DenseRetriever, **values) -> DenseRetriever:
    retriever.set_interests(InterestConfig(**values))
    return retriever


def rank_of(retriever: DenseRetriever, h: History, item: int, candidates=(2, 4, 5, 6)) -> int:
    items = np.array(candidates)
    order = items[np.argsort(-retriever.score(h, items), kind="stable")]
    return int(np.flatnonzero(order == item)[0])


def test_the_defaults_are_the_plain_query_every_item_counted_the_same(retriever, movies):
    assert InterestConfig().is_plain and DenseConfig().interests == InterestConfig()
    h = history((1, 5, 0), (3, 1, 1))
    plain = retriever.encoder.encode([query_text(h, movies.catalog)])[0]
    assert np.allclose(with_interests(retriever).query_vector(h), plain)


def test_bad_values_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="disliked_weight"):
        InterestConfig(disliked_weight=-1)
    with pytest.raises(ValidationError, match="half_life_days"):
        InterestConfig(half_life_days=0)
    with pytest.raises(ValidationError, match="drop_disliked"):
        InterestConfig(drop_disliked="all")


def test_recency_weights_halve_every_half_life_before_the_latest_interaction():
    t = np.array([0, 5, 10]) * DAY
    assert np.allclose(recency_weights(t, 5.0), [0.25, 0.5, 1.0])
    assert np.allclose(recency_weights(t, None), 1.0)


def test_disliked_items_are_dropped_from_the_query_text_unless_nothing_else_is_left(movies):
    h = history((1, 5, 0), (3, 1, 1))
    text = InterestConfig(drop_disliked="text")
    assert "Halloween" not in query_text(text.kept(h, "text"), movies.catalog)
    assert len(text.kept(h, "collab")) == 2  # 'text' leaves the collaborative window alone
    assert len(InterestConfig(drop_disliked="both").kept(h, "collab")) == 1
    all_disliked = history((3, 1, 0), (4, 2, 1))
    assert len(text.kept(all_disliked, "text")) == 2
    assert InterestConfig(disliked_max=3).disliked(history((1, 3, 0), (2, 3.5, 1))).tolist() == [True, False]


def test_a_disliked_genre_is_pushed_down_as_negative_evidence(retriever):
    """Liked Toy Story, hated Halloween: off, horror films are recalled by the history text; on, the liked
    cartoons come first."""
    h = history((1, 5, 0), (3, 1, 1))
    plain = with_interests(retriever)
    before = plain.score(h, np.array([4, 6]))
    negative = with_interests(retriever, disliked_weight=0.5)
    after = negative.score(h, np.array([4, 6]))
    assert after[0] - after[1] < before[0] - before[1]  # Scream lost ground to Aladdin
    assert rank_of(negative, h, 4) > rank_of(negative, h, 2)  # Finding Nemo above Scream
    dropped = with_interests(retriever, drop_disliked="text", disliked_weight=0.5)
    assert {rank_of(dropped, h, 4), rank_of(dropped, h, 5)} == {2, 3}  # both horror films below both cartoons


def test_recency_lets_the_latest_liked_item_lead(retriever):
    """Two liked items, content off (no text, no collaborative channel): the liked term alone; with a short
    half-life the latest one decides, whichever it is."""
    old_cartoon = history((1, 5, 0), (3, 5, 30))
    old_horror = history((3, 5, 0), (1, 5, 30))
    recent = with_interests(retriever, content_weight=0.0, liked_weight=1.0, half_life_days=1.0)
    assert rank_of(recent, old_cartoon, 4) < rank_of(recent, old_cartoon, 6)  # horror is the latest
    assert rank_of(recent, old_horror, 6) < rank_of(recent, old_horror, 4)
    equal = with_interests(retriever, content_weight=0.0, liked_weight=1.0)
    assert np.allclose(equal.score(old_cartoon, np.arange(1, 7)), equal.score(old_horror, np.arange(1, 7)))


def test_the_content_weight_scales_the_text_part_of_the_query(retriever):
    h = history((1, 5, 0), (3, 4, 1))
    one = with_interests(retriever).query_vector(h)
    assert np.allclose(with_interests(retriever, content_weight=2.0).query_vector(h), 2 * one)
    assert np.allclose(with_interests(retriever, content_weight=0.0).query_vector(h), 0.0)
    assert with_interests(retriever, content_weight=0.0).query_vector(History.empty(99), "cartoons").any()


def test_the_profile_terms_ignore_the_bias_columns_and_scale_with_the_query():
    vectors = np.array([[1.0, 0.0, 9.0], [0.0, 1.0, 9.0]])
    bias = np.array([False, False, True])
    profile = InterestProfile(InterestConfig(disliked_weight=0.5), vectors, bias)
    h = History(1, np.array([1, 2]), np.array([5.0, 1.0]), np.array([0, 1]))
    q = profile.adjust(np.array([2.0, 0.0, 1.0]), h, np.array([0, 1]))
    assert np.allclose(q, [2.0, -1.0, 1.0])  # minus 0.5 * |q taste| * unit(disliked mean), bias untouched


def test_the_grid_keeps_the_current_query_unless_a_setting_beats_it_and_the_ablation_turns_each_on():
    from eval.interests import ablation_configs

    rows = [["current", 0, 0, 0, 0, 0, 0.10], ["sentiment", 0, 0, 0, 0, 0, 0.09],
            ["sentiment", 0, 0, 0, 0, 0, 0.08], ["recency", 0, 0, 0, 0, 0, 0.11],
            ["sentiment", 0, 0, 0, 0, 0, 0.07]]
    configs = [{}, {"disliked_weight": 0.2}, {"drop_disliked": "text"},
               {"liked_weight": 0.1, "half_life_days": 7.0}, {"disliked_weight": 0.4}]
    grid = {"rows": rows, "configs": [InterestConfig(**c).model_dump() for c in configs],
            "interests": InterestConfig(liked_weight=0.1, half_life_days=7.0).model_dump()}
    out = ablation_configs(grid)
    assert out["current"].is_plain and out["content off"].content_weight == 0
    assert out["sentiment"] == InterestConfig(disliked_weight=0.2)  # the best using dislikes, though worse
    assert "sentiment, negative vector" not in out  # the best sentiment setting subtracts them already
    assert out["liked term, no decay"] == InterestConfig(liked_weight=0.1)
    assert out["recency"] == InterestConfig(liked_weight=0.1, half_life_days=7.0) and "chosen" not in out


def test_the_grid_search_returns_its_best_setting_and_a_row_per_setting(movies):
    from eval.interests import InterestGridArgs, grid_search
    from llmrec.split import leave_last_out

    held = leave_last_out(movies, "validation")
    retriever = DenseRetriever().fit(held.train)
    args = InterestGridArgs(disliked_weights=[0.0, 0.3], drops=["none"], liked_weights=[0.0],
                            half_lives=[0.0], content_weights=[1.0])
    rows, best, metrics, configs = grid_search(retriever, held, args, progress=False)
    assert [r[0] for r in rows] == ["current", "sentiment"] and len(configs) == 2
    assert retriever.interests == best and len(metrics["best_interval"]) == 3
    assert best.is_plain or metrics["best_interval"][1] > 0  # adopted only with an interval above 0


def test_a_setting_is_adopted_only_when_its_paired_interval_is_above_zero():
    from eval.interests import adopted

    plain, other = InterestConfig(), InterestConfig(disliked_weight=0.1)
    ranks = {plain: np.array([0, 50, 3, 9] * 25), other: np.array([0, 40, 3, 9] * 25)}
    assert adopted(other, ranks)[0] == plain  # 50 -> 40 is outside the top 10: no gain at all
    ranks[other] = np.array([0, 1, 3, 9] * 25)
    chosen, (diff, low, _) = adopted(other, ranks)
    assert chosen == other and diff > 0 and low > 0


def test_a_setting_that_ranks_better_but_recalls_less_is_not_adopted():
    from eval.interests import adopted

    plain, other = InterestConfig(), InterestConfig(content_weight=0.0)
    # NDCG@10 up (three items move into the top 3), recall@20 down (the fourth leaves the top 20)
    ranks = {plain: np.array([5, 6, 7, 15] * 25), other: np.array([0, 1, 2, 30] * 25)}
    chosen, (diff, low, _) = adopted(other, ranks)
    assert diff > 0 and low > 0 and chosen == plain


def test_the_ablation_table_has_a_row_per_dimension_with_intervals_against_the_current_query(movies):
    from eval.interests import run_ablation

    grid = {"rows": [["current", 0, 0, 0, 0, 0, 0.1], ["sentiment", 0, 0, 0, 0, 0, 0.1]],
            "configs": [InterestConfig().model_dump(), InterestConfig(disliked_weight=0.2).model_dump()],
            "interests": InterestConfig().model_dump()}
    rows, headers = run_ablation(movies, None, grid, "validation", None, progress=False)
    assert [r[0] for r in rows] == ["current", "content off", "sentiment"] and len(headers) == len(rows[0])
    assert rows[0][3].startswith("+0.0000 [+0.0000, +0.0000]")  # the current query against itself


def test_re_weighting_the_text_channel_keeps_the_interest_settings(movies):
    r = DenseRetriever().fit(movies)
    r.set_interests(InterestConfig(disliked_weight=0.3))
    r.set_text_weight(2.0)
    assert r.interests == InterestConfig(disliked_weight=0.3)

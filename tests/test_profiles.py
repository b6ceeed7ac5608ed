"""User profiles (age band, gender, occupation): written into prompts, marked sentiment in histories, and
served as the cold-user fallback (popularity within the user's demographic groups)."""

import numpy as np
import pandas as pd
import pytest

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.history import History, HistoryFormat, age_band, histories, render_history, render_profile
from retrieval.profiles import DemographicPopularity
from retrieval.retriever import DenseConfig, DenseRetriever

YOUNG, OLD = [1, 2, 6, 7], [3, 4, 8, 9]
USERS = pd.DataFrame({"user": YOUNG + OLD + [5], "age": [30, 31, 26, 29, 62, 65, 58, 70, 40],
                      "gender": ["F"] * 4 + ["M"] * 4 + ["F"],
                      "occupation": ["engineer"] * 4 + ["retired"] * 4 + ["other"],
                      "zip": ["1"] * 9}).set_index("user")


@pytest.fixture(scope="module")
def people() -> Dataset:
    """Young engineers watch items 1 and 2, retirees 3 and 4; item 5, the most popular overall, is watched
    by two of each group and user 5, who watches item 6 too."""
    catalog = Catalog(pd.DataFrame({"item": range(1, 7), "title": [f"Film {i}" for i in range(1, 7)],
                                    "year": [1990] * 6, "genres": ["Drama"] * 6}).set_index("item"))
    rows = [(u, i, 5 - k, k) for group, liked in ((YOUNG, (1, 2)), (OLD, (3, 4))) for u in group
            for k, i in enumerate(liked)]
    rows += [(u, 5, 3 if u != 6 else 1, 9) for u in (1, 6, 3, 8, 5)] + [(5, 6, 4, 10)]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog,
                   users=USERS)


@pytest.mark.parametrize("age, band", [(0, "under 18"), (17, "under 18"), (18, "18-24"), (24, "18-24"),
                                       (25, "25-34"), (44, "35-44"), (45, "45-54"), (55, "55+"), (73, "55+")])
def test_ages_fall_into_bands(age, band):
    assert age_band(age) == band


def test_a_bad_age_is_refused_naming_it():
    with pytest.raises(ValueError, match="-3"):
        age_band(-3)


def test_a_profile_reads_age_band_gender_and_occupation():
    assert render_profile(USERS, 1) == "25-34, female, engineer"
    assert render_profile(USERS, 3) == "55+, male, retired"
    assert render_profile(USERS, 5) == "35-44, female"  # "other" says nothing
    assert render_profile(USERS, 99) is None and render_profile(None, 1) is None


def test_sentiment_marks_liked_and_disliked_items_and_leaves_middling_ones(people):
    h = histories(people.interactions)[1]  # rated 5, 4, 3
    fmt = HistoryFormat(show_year=False, show_genres=False, show_rating=False, show_recency=False,
                        style="compact", show_sentiment=True)
    assert render_history(h, people.catalog, fmt) == "Film 1, liked; Film 2, liked; Film 5"
    assert render_history(histories(people.interactions)[6], people.catalog, fmt).endswith("Film 5, disliked")
    assert "liked" not in render_history(h, people.catalog, HistoryFormat())  # off by default
    with pytest.raises(ValueError, match="disliked_max"):
        HistoryFormat(liked_min=3, disliked_max=3)


def test_demographic_popularity_ranks_the_groups_favourites_first(people):
    pop = DemographicPopularity(smoothing=1.0).fit(people)
    items = np.arange(1, 7)
    young, old = pop.score(History.empty(2), items), pop.score(History.empty(4), items)
    assert set(items[np.argsort(-young)[:2]]) == {1, 2} and set(items[np.argsort(-old)[:2]]) == {3, 4}
    assert pop.knows(1) and not pop.knows(99)
    assert np.allclose(pop.score(History.empty(99), items), np.array([4, 4, 4, 4, 5, 1]) / 9)


def test_without_profiles_everyone_gets_global_popularity(people):
    pop = DemographicPopularity().fit(Dataset(people.interactions, people.catalog))
    assert not pop.knows(1)
    assert np.allclose(pop.score(History.empty(1), np.arange(1, 7)), np.array([4, 4, 4, 4, 5, 1]) / 9)


@pytest.fixture(scope="module")
def retrievers(people):
    return DenseRetriever().fit(people), DenseRetriever(DenseConfig(profile=True)).fit(people)


def test_a_cold_user_is_served_from_their_profile_groups(retrievers):
    plain, profiled = retrievers
    items = np.arange(1, 7)
    assert plain.candidates(History.empty(4), k=1).items.tolist() == [5]  # global popularity
    assert set(profiled.candidates(History.empty(4), k=2, exclude_seen=False).items.tolist()) == {3, 4}
    assert set(profiled.candidates(History.empty(2), k=2).items.tolist()) == {1, 2}
    assert np.array_equal(profiled.score(History.empty(99), items), plain.score(History.empty(99), items))


def test_short_histories_are_blended_with_the_profile_and_long_ones_left_alone(retrievers):
    plain, profiled = retrievers
    items = np.array([1, 2, 3, 4])
    short = History(4, np.array([6]), np.array([4.0]), np.array([1]))
    z = lambda x: (x - x.mean()) / (x.std() + 1e-9)
    expected = z(plain.score(short, items)) + 0.5 * z(profiled._demographic.score(short, items))
    assert np.allclose(profiled.score(short, items), expected)
    long = History(4, np.arange(1, 7), np.full(6, 4.0), np.arange(6))
    assert np.array_equal(profiled.score(long, items), plain.score(long, items))


def ranker(people, retriever, **config):
    from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
    from llmrec.testing import ScriptedLLM

    return LLMRanker(LLMRankerConfig(candidates=3, **config), backend=ScriptedLLM(),
                     retriever=retriever).fit(people)


def test_the_ranking_prompt_shows_the_profile_and_sentiment_only_when_asked(people, retrievers):
    h = histories(people.interactions)[6]  # Film 5 rated 1 last, Film 2 rated 4, Film 1 rated 5
    cands = np.array([3, 4, 6])
    plain = ranker(people, retrievers[0]).messages(h, cands)[1]["content"]
    assert plain.startswith("Watched (newest first): Film 5; Film 2; Film 1\nCandidates:")
    both = ranker(people, retrievers[1], profile=True, sentiment=True).messages(h, cands)[1]["content"]
    assert both.startswith("Watched (newest first): Film 5, disliked; Film 2, liked; Film 1, liked\n"
                           "Viewer: 25-34, female, engineer\nCandidates:")


def test_the_llm_ranker_with_profile_recalls_through_the_profile_fallback(people):
    from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
    from llmrec.testing import ScriptedLLM

    r = LLMRanker(LLMRankerConfig(candidates=2, profile=True), backend=ScriptedLLM()).fit(people)
    assert r.retriever.config.profile
    assert set(r.recall(History.empty(4)).items.tolist()) == {3, 4}

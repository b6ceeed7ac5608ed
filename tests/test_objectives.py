"""Multi-objective re-ranking (llmrec.recommenders.objectives): zero weights keep the ranker's order; each
objective moves the list the way its name says; the evaluation harness sees the re-ranked order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.evaluation.harness import evaluate
from llmrec.history import History
from llmrec.recommenders import create_recommender
from llmrec.recommenders.objectives import (
    MultiObjective,
    ObjectiveWeights,
    js_divergence,
    popularity_groups,
)
from llmrec.split import leave_last_out

GENRES = ["Comedy", "Comedy", "Comedy", "Drama", "Horror", "Comedy|Drama"]


@pytest.fixture
def data() -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": range(1, 7), "title": list("abcdef"), "year": [1990] * 6,
                                    "genres": GENRES}).set_index("item"))
    # item 1 is the most popular, then 2, 3; user 9 watched dramas
    rows = [(u, 1) for u in range(1, 6)] + [(u, 2) for u in range(1, 4)] + [(1, 3), (9, 4), (9, 6)]
    frame = pd.DataFrame([(u, i, 4.0, n) for n, (u, i) in enumerate(rows)],
                         columns=["user", "item", "rating", "timestamp"])
    return Dataset(Interactions(frame), catalog)


ITEMS = np.array([1, 2, 3, 4, 5, 6])
SCORES = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])  # the ranker's order: 1 2 3 4 5 6
NOBODY = History(0, np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))


def stage(data, **weights) -> MultiObjective:
    return MultiObjective(data.catalog, data.interactions, ObjectiveWeights(**weights))


def test_zero_weights_keep_the_rankers_order_ties_by_id_and_nonfinite_last(data):
    s = stage(data)
    assert s.rerank(NOBODY, ITEMS, SCORES).tolist() == [1, 2, 3, 4, 5, 6]
    scores = np.array([1.0, np.nan, 1.0, 2.0, -np.inf, 0.5])
    assert s.rerank(NOBODY, ITEMS, scores).tolist() == [4, 1, 3, 6, 2, 5]


def test_diversity_breaks_up_a_run_of_the_same_genre(data):
    assert stage(data, diversity=2.0, page=0).rerank(NOBODY, ITEMS, SCORES).tolist()[:3] == [1, 4, 5]
    mild = stage(data, diversity=0.1, page=0).rerank(NOBODY, ITEMS, SCORES).tolist()
    assert mild[:2] == [1, 2]  # a small weight keeps the ranker's close calls


def test_calibration_brings_the_list_toward_the_historys_genres(data):
    dramas = History(9, np.array([4, 6]), np.array([5.0, 5.0]), np.array([1, 2]))
    top = stage(data, calibration=5.0, length=2).rerank(dramas, ITEMS, SCORES).tolist()[:2]
    assert 4 in top or 6 in top  # a drama moves up for a drama watcher
    assert stage(data, calibration=5.0).rerank(NOBODY, ITEMS, SCORES).tolist() == [1, 2, 3, 4, 5, 6]


def test_popularity_weight_demotes_the_most_popular_items(data):
    assert stage(data, popularity=3.0, page=0).rerank(NOBODY, ITEMS, SCORES).tolist()[0] != 1


def test_popularity_groups_split_head_middle_and_tail_by_their_share_of_interactions():
    ids = np.arange(1, 8)
    counts = np.array([50, 20, 12, 8, 6, 3, 1])  # 100 interactions
    # head: item 1 crosses 20% alone; tail: the least popular holding at most 20% (1 + 3 + 6 + 8 = 18)
    assert popularity_groups(ids, counts).tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert popularity_groups(ids, counts, share=0.6).tolist() == [0, 0, 2, 2, 2, 2, 2]
    assert js_divergence([1.0, 0.0], [1.0, 0.0]) == pytest.approx(0.0)
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2))


def test_calibrated_popularity_follows_each_users_own_head_and_tail_mix(data):
    # training counts: item 1 x5, 2 x3, 3/4/6 x1, 5 x0 (11): head {1}, tail {4, 5, 6} (2/11), middle {2, 3}
    s = stage(data, popularity_calibration=10.0, page=0, length=3)
    assert s.groups.argmax(1).tolist() == [0, 1, 1, 2, 2, 2]
    niche = History(9, np.array([4, 6]), np.array([5.0, 5.0]), np.array([1, 2]))
    assert sorted(s.rerank(niche, ITEMS, SCORES).tolist()[:3]) == [4, 5, 6]  # the tail only
    mainstream = History(8, np.array([1, 2]), np.array([5.0, 5.0]), np.array([1, 2]))
    assert s.rerank(mainstream, ITEMS, SCORES).tolist()[:2] == [1, 2]  # the head stays for a head watcher
    # the popularity weight demotes the head for both
    assert stage(data, popularity=3.0, page=0).rerank(mainstream, ITEMS, SCORES).tolist()[0] != 1
    unknown = stage(data, popularity_calibration=3.0).rerank(NOBODY, ITEMS, SCORES).tolist()
    assert unknown == [1, 2, 3, 4, 5, 6]  # no history, no mix to follow


def test_the_objectives_choose_each_pages_items_and_the_ranker_orders_them(data):
    picked = stage(data, diversity=2.0, page=0).rerank(NOBODY, ITEMS, SCORES).tolist()
    assert picked == [1, 4, 5, 2, 6, 3]  # the greedy's order
    paged = stage(data, diversity=2.0, page=3).rerank(NOBODY, ITEMS, SCORES).tolist()
    assert paged == [1, 4, 5, 2, 3, 6]  # pages {1, 4, 5} and {2, 6, 3}, each in the ranker's order
    # a page as long as the pool keeps the ranker's order: nothing left to choose
    assert stage(data, diversity=2.0, page=10).rerank(NOBODY, ITEMS, SCORES).tolist() == [1, 2, 3, 4, 5, 6]


def test_only_the_pool_is_reordered_and_the_rest_keeps_its_order(data):
    out = stage(data, diversity=5.0, pool=3, length=3).rerank(NOBODY, ITEMS, SCORES).tolist()
    assert sorted(out[:3]) == [1, 2, 3] and out[3:] == [4, 5, 6]


def test_the_harness_ranks_by_the_reranked_order(data):
    held = leave_last_out(data, "test")
    base = evaluate(create_recommender("popularity").fit(held.train), held, progress=False, top_n=4)
    same = create_recommender("rerank", {"base": "popularity"}).fit(held.train)
    again = evaluate(same, held, progress=False, top_n=4)
    assert again.ranks.equals(base.ranks) and (again.lists == base.lists).all()
    diverse = create_recommender("rerank", {"base": "popularity", "diversity": 3.0, "page": 0})
    diverse.fit(held.train)
    lists = evaluate(diverse, held, progress=False, top_n=4).lists
    assert not (lists == base.lists).all()


def test_a_reranked_recommendation_follows_the_stage_order(data):
    held = leave_last_out(data, "test")
    rec = create_recommender("rerank", {"base": "popularity", "diversity": 3.0, "page": 0}).fit(held.train)
    base = create_recommender("popularity").fit(held.train)
    top = rec.recommend(NOBODY, ITEMS, n=3)
    assert top.items.tolist() == rec.stage.rerank(NOBODY, ITEMS, base.score(NOBODY, ITEMS))[:3].tolist()
    assert top.scores.tolist() == [0.0, -1.0, -2.0]


def test_mean_redundancy_counts_overlap_with_every_chosen_item_and_max_only_the_closest(data):
    # after comedy 1, drama 4 and horror 5: comedy 2 overlaps one chosen item fully (mean 1/3, max 1), the
    # comedy-drama 6 two of them by half (mean 1/3, max 1/2); the mean ties them and rank decides, MMR's max
    # takes 6
    mean = stage(data, diversity=2.0, page=0).rerank(NOBODY, ITEMS, SCORES).tolist()
    mmr = stage(data, diversity=2.0, page=0, redundancy="max").rerank(NOBODY, ITEMS, SCORES).tolist()
    assert mean[:4] == [1, 4, 5, 2] and mmr[:4] == [1, 4, 5, 6]


def test_rank_relevance_does_not_depend_on_the_scale_of_the_rankers_scores(data):
    near_tie = np.array([10.0, 9.9, 0.2, 0.1, 0.05, 0.0])  # two leaders 0.1 apart, the rest far below
    by_score = stage(data, popularity=0.3, page=0, relevance="score").rerank(NOBODY, ITEMS, near_tie)
    by_rank = stage(data, popularity=0.3, page=0).rerank(NOBODY, ITEMS, near_tie)
    assert by_score.tolist()[:2] == [2, 1]  # scaled scores: 1.0 vs 0.99, the popularity term swaps them
    assert by_rank.tolist()[:2] == [1, 2]  # ranks: gains 1 vs 0.63 whatever the scores
    assert (stage(data, popularity=0.3, page=0).rerank(NOBODY, ITEMS, near_tie * 100).tolist()
            == by_rank.tolist())

"""The harness ranks every unseen item, breaks ties by item id and never lets NaN/inf help an item."""

import numpy as np
import pytest

from llmrec.errors import ConfigError, RecommenderOutputError
from llmrec.evaluation.harness import evaluate, rank_of_target
from llmrec.evaluation.runner import evaluate_recommender
from llmrec.history import History, histories
from llmrec.recommenders import Recommender, RecommenderConfig, create_recommender
from llmrec.split import leave_last_out


class Fixed(Recommender):
    """Scores items by a fixed table; unlisted items get 0."""

    name = "fixed"
    config_class = RecommenderConfig

    def __init__(self, table):
        super().__init__()
        self.table = table

    def fit(self, data):
        self._trained = True
        return self

    def score(self, history, items):
        return np.array([self.table.get(int(i), 0.0) for i in items])


def test_rank_counts_higher_scores_then_ties_with_smaller_ids():
    items = np.array([1, 2, 3, 4, 5])
    # item 2 higher, item 1 tied
    assert rank_of_target(items, np.array([0.5, 0.9, 0.5, 0.5, 0.1]), 3) == (2, False)
    assert rank_of_target(items, np.array([0.5, 0.9, 0.5, 0.5, 0.1]), 1) == (1, False)
    assert rank_of_target(items, np.zeros(5), 5) == (4, False)


def test_nonfinite_scores_rank_below_every_finite_score():
    items = np.array([1, 2, 3, 4])
    scores = np.array([np.nan, -1e9, np.inf, 0.0])
    assert rank_of_target(items, scores, 2) == (1, True)  # only item 4 is finite and higher
    # after both finite items and NaN item 1 (smaller id)
    assert rank_of_target(items, scores, 3) == (3, True)


def test_candidates_exclude_the_users_history_but_keep_the_target(tiny):
    split = leave_last_out(tiny, "test")
    result = evaluate(Fixed({}).fit(split.train), split, progress=False)
    # 6 items; user 1 has seen 1, 2, 3 in fit data -> candidates 4, 5, 6 (target 4 has the smallest id)
    row = result.ranks.set_index("user").loc[1]
    assert row["candidates"] == 3 and row["rank"] == 0


def test_a_better_score_moves_the_target_up(tiny):
    split = leave_last_out(tiny, "test")
    ranks = evaluate(Fixed({5: 1.0, 6: 2.0}).fit(split.train), split, progress=False).ranks.set_index("user")
    assert ranks.loc[1, "rank"] == 2  # 6 and 5 outrank item 4


def test_nan_scores_are_an_error_naming_recommender_and_user(tiny):
    split = leave_last_out(tiny, "test")
    with pytest.raises(RecommenderOutputError,
                       match=r"'fixed' returned 1 NaN/infinite score\(s\) for user 1"):
        evaluate(Fixed({5: float("nan")}).fit(split.train), split, progress=False)


def test_with_the_last_policy_a_nan_item_never_outranks_the_target(tiny):
    split = leave_last_out(tiny, "test")
    result = evaluate(Fixed({5: float("nan"), 4: -5.0}).fit(split.train), split, nonfinite="last",
                      progress=False)
    ranks = result.ranks.set_index("user")
    assert ranks.loc[1, "rank"] == 1  # item 6 (score 0) is above -5; NaN item 5 is last
    assert result.nonfinite_users == 1  # user 2 has seen item 5, so only user 1 met a NaN


def test_an_untrained_recommender_is_refused(tiny):
    with pytest.raises(RecommenderOutputError, match="not trained"):
        evaluate(Fixed({}), leave_last_out(tiny, "test"), progress=False)


def test_a_score_array_of_the_wrong_length_is_refused(tiny):
    class Short(Fixed):
        def score(self, history, items):
            return np.zeros(len(items) - 1)

    split = leave_last_out(tiny, "test")
    with pytest.raises(RecommenderOutputError, match="returned"):
        evaluate(Short({}).fit(split.train), split, progress=False)


def test_unknown_recommenders_and_bad_config_values_are_named():
    with pytest.raises(ConfigError, match=r"unknown recommender 'nope'; known: .*itemknn.*popularity"):
        create_recommender("nope")
    with pytest.raises(ConfigError, match="neighbors"):
        create_recommender("itemknn", {"neighbors": 0})


def test_popularity_ranks_by_fit_data_counts_whatever_the_users_history(tiny):
    fit = leave_last_out(tiny, "test").train  # item 1 is in three users' fit data, 2, 5 and 6 in one each
    rec = create_recommender("popularity").fit(fit)
    items = np.array([1, 2, 5, 6])
    assert rec.score(histories(fit.interactions)[1], items).tolist() == [3.0, 1.0, 1.0, 1.0]
    assert rec.score(History.empty(99), items).tolist() == [3.0, 1.0, 1.0, 1.0]


def test_itemknn_beats_popularity_on_the_validation_split(ml100k):
    pop = evaluate_recommender(ml100k, "popularity", "validation", progress=False).metrics
    knn = evaluate_recommender(ml100k, "itemknn", "validation", progress=False).metrics
    assert knn["ndcg@10"] > pop["ndcg@10"]


def test_the_sampled_protocol_ranks_the_target_among_n_random_unseen_items(tiny):
    from llmrec.evaluation.harness import sampled_candidates
    from llmrec.history import histories

    split = leave_last_out(tiny, "test")
    h = histories(split.train.interactions)[1]  # saw 1, 2, 3; target 4
    cands = sampled_candidates(tiny.catalog.item_ids, h, 4, n=2)
    assert 4 in cands and len(cands) == 3 and not set(cands) & {1, 2, 3}
    assert cands.tolist() == sampled_candidates(tiny.catalog.item_ids, h, 4, n=2).tolist()  # seeded per user
    with pytest.raises(RecommenderOutputError, match="only 2 unseen items"):
        sampled_candidates(tiny.catalog.item_ids, h, 4, n=3)
    ranks = evaluate(Fixed({5: 1.0, 6: 2.0}).fit(split.train), split, progress=False, sampled=2).ranks
    row = ranks.set_index("user").loc[1]
    assert row["candidates"] == 3 and row["rank"] == 2  # among 4, 5, 6 as in full ranking here


def test_reports_of_different_protocols_are_not_compared(tiny):
    from llmrec.errors import ArtifactError
    from llmrec.evaluation.report import compare_reports

    full = evaluate_recommender(tiny, Fixed({}), "test", progress=False)
    sampled = evaluate_recommender(tiny, Fixed({}), "test", progress=False, sampled=2)
    assert sampled.cutoffs == (1, 5, 10) and "recall@1" in sampled.metrics
    with pytest.raises(ArtifactError, match="different protocols"):
        compare_reports(full, sampled)


def test_each_users_top_n_list_follows_the_rank_order_and_agrees_with_the_rank(tiny):
    split = leave_last_out(tiny, "test")
    result = evaluate(Fixed({5: 1.0, 6: 2.0}).fit(split.train), split, progress=False, top_n=4)
    users = result.ranks["user"].tolist()
    lists = dict(zip(users, result.lists.tolist()))
    assert lists[1] == [6, 5, 4, -1]  # user 1's three unseen items, best first, padded
    for row, top in zip(result.ranks.itertuples(), result.lists):
        if row.rank < 4:
            assert top[row.rank] == row.item  # the held-out item sits at its rank in the list
    from llmrec.evaluation.harness import top_items
    items, scores = np.array([9, 3, 7, 1]), np.array([np.nan, 2.0, 2.0, np.inf])
    assert top_items(items, scores, 3).tolist() == [3, 7, 1]  # tie by id; NaN and inf last, by id


def test_the_sampled_protocol_keeps_no_lists(tiny):
    split = leave_last_out(tiny, "test")
    assert evaluate(Fixed({}).fit(split.train), split, progress=False, sampled=1).lists is None

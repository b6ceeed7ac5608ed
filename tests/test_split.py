"""The leave-last-out protocol, exactly as specified."""

import pytest

from llmrec.errors import ConfigError
from llmrec.split import leave_last_out, target_items


def test_the_last_interaction_by_timestamp_then_item_id_is_the_test_item(tiny):
    split = leave_last_out(tiny, "test")
    # user 2's last two share t=300; ordered by item id, item 2 comes last
    assert target_items(split) == {1: 4, 2: 2}


def test_the_one_before_the_last_is_the_validation_item(tiny):
    assert target_items(leave_last_out(tiny, "validation")) == {1: 3, 2: 1}


def test_test_fit_data_holds_everything_but_each_users_last_interaction(tiny):
    train = leave_last_out(tiny, "test").train.interactions.frame
    assert sorted(map(tuple, train[train.user == 2][["item", "timestamp"]].values.tolist())) == [
        (1, 300), (3, 200), (5, 100)]
    assert len(train) == len(tiny.interactions) - 2


def test_validation_fit_data_also_drops_the_validation_items(tiny):
    train = leave_last_out(tiny, "validation").train.interactions.frame
    assert set(train[train.user == 1].item) == {1, 2}
    assert set(train[train.user == 2].item) == {5, 3}


def test_users_with_fewer_than_three_interactions_are_not_evaluated_but_stay_in_fit_data(tiny):
    split = leave_last_out(tiny, "test")
    assert 3 not in target_items(split)
    train = split.train.interactions.frame
    assert set(train[train.user == 3].item) == {1, 6}


def test_both_splits_evaluate_the_same_users(ml100k):
    test, val = leave_last_out(ml100k, "test"), leave_last_out(ml100k, "validation")
    assert test.n_users == val.n_users == 943
    assert len(test.train.interactions) == 100_000 - 943
    assert len(val.train.interactions) == 100_000 - 2 * 943


def test_an_unknown_split_name_is_refused(tiny):
    with pytest.raises(ConfigError, match="'train'"):
        leave_last_out(tiny, "train")

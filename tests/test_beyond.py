"""Beyond-accuracy figures (llmrec.evaluation.beyond) on hand-computed cases and against second
implementations written the slow, obvious way."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from llmrec.data import Catalog, Interactions
from llmrec.evaluation.beyond import (
    ItemStats,
    arp,
    beyond_accuracy,
    catalog_coverage,
    exposure_gini,
    ild_embedding,
    ild_genre,
    miscalibration,
    novelty,
    popularity_miscalibration,
    short_head_share,
)
from llmrec.history import History


@pytest.fixture
def stats() -> ItemStats:
    """Five items; item 5 has no genre.  Training: item 1 by 3 users (4 interactions), 2 by 2, 3 by 1."""
    catalog = Catalog(pd.DataFrame({"item": [1, 2, 3, 4, 5], "title": list("abcde"), "year": [1990] * 5,
                                    "genres": [("Comedy",), ("Comedy", "Drama"), ("Drama",), ("Horror",), ()]}
                                   ).set_index("item"))
    rows = [(1, 1), (2, 1), (3, 1), (3, 1), (1, 2), (2, 2), (1, 3)]
    frame = pd.DataFrame([(u, i, 4.0, n) for n, (u, i) in enumerate(rows)],
                         columns=["user", "item", "rating", "timestamp"])
    return ItemStats.build(catalog, Interactions(frame))


def test_genre_diversity_is_the_mean_pairwise_jaccard_distance(stats):
    lists = np.array([[1, 2, 3], [1, 1, -1], [4, 5, -1], [5, -1, -1]])
    ild = ild_genre(lists, stats, k=3)
    # {C}-{C,D}: 1 - 1/2; {C}-{D}: 1; {C,D}-{D}: 1/2 -> mean 2/3
    assert ild[0] == pytest.approx(2 / 3)
    assert ild[1] == 0.0  # the same genres twice
    assert ild[2] == 1.0  # Horror and no genre
    assert math.isnan(ild[3])  # one item: no pair


def test_embedding_diversity_is_the_mean_pairwise_cosine_distance(stats):
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 0.0], [3.0, 0.0]])
    got = ild_embedding(np.array([[1, 2, 4]]), stats, vectors, k=3)[0]
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    slow = np.mean([1 - unit[a] @ unit[b] for a, b in itertools.combinations([0, 1, 3], 2)])
    assert got == pytest.approx(slow) and got == pytest.approx((1 + 2 + 1) / 3)


def test_coverage_and_gini_pool_every_list_over_the_whole_catalog(stats):
    lists = np.array([[1, 2], [1, 3], [1, -1]])
    assert catalog_coverage(lists, stats, k=2) == pytest.approx(3 / 5)
    counts = np.array([3, 1, 1, 0, 0], dtype=float)  # exposure per catalog item
    mean_abs_diff = np.mean(np.abs(counts[:, None] - counts[None, :]))
    assert exposure_gini(lists, stats, k=2) == pytest.approx(mean_abs_diff / (2 * counts.mean()))
    assert exposure_gini(np.array([[1, 2, 3, 4, 5]]), stats, k=5) == pytest.approx(0.0)
    assert catalog_coverage(lists, stats, k=1) == pytest.approx(1 / 5)


def test_novelty_popularity_and_short_head_use_the_training_interactions(stats):
    lists = np.array([[1, 3], [2, 4]])
    # 3 training users; users per item: 1 -> 3, 2 -> 2, 3 -> 1, 4 -> 0 (counted as 1)
    assert novelty(lists, stats, k=2).tolist() == pytest.approx([(0 + math.log2(3)) / 2,
                                                                 (-math.log2(2 / 3) + math.log2(3)) / 2])
    assert arp(lists, stats, k=2).tolist() == pytest.approx([(4 + 1) / 2, (2 + 0) / 2])
    # 7 interactions; item 1 alone holds 4/7 >= 20%: the short head is {1}
    assert stats.head.tolist() == [True, False, False, False, False]
    assert short_head_share(lists, stats, k=2).tolist() == [0.5, 0.0]


def test_miscalibration_is_steck_kl_with_the_history_mixed_in(stats):
    history = History(1, np.array([1, 2]), np.array([5.0, 4.0]), np.array([1, 2]))
    # p: Comedy 1 + 1/2, Drama 1/2 -> (3/4, 1/4) over (Comedy, Drama, Horror)
    p = np.array([0.75, 0.25, 0.0])
    q = np.array([0.0, 0.0, 1.0])  # a list of Horror only
    a = 0.01
    qt = (1 - a) * q + a * p
    expected = sum(pi * math.log(pi / qi) for pi, qi in zip(p, qt) if pi > 0)
    got = miscalibration(np.array([[4, -1]]), stats, [history], k=2)[0]
    assert got == pytest.approx(expected)
    assert miscalibration(np.array([[1, 2]]), stats, [history], k=2)[0] == pytest.approx(0.0, abs=1e-12)


def test_popularity_miscalibration_is_js_between_head_middle_tail_mixes(stats):
    # 7 interactions: head {1} (4/7); tail: the least popular holding at most 20%: 4, 5 (0), 3 (1/7 = 14%);
    # item 2 (2/7) would pass 20%: middle
    assert stats.groups.tolist() == [0, 1, 2, 2, 2]
    history = History(1, np.array([1, 2]), np.array([5.0, 4.0]), np.array([1, 2]))  # head 1/2, middle 1/2
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.0, 1.0])  # a list of the tail only
    m = (p + q) / 2
    expected = 0.5 * sum(a * math.log(a / b) for a, b in zip(p, m) if a > 0) + \
        0.5 * sum(a * math.log(a / b) for a, b in zip(q, m) if a > 0)
    assert popularity_miscalibration(np.array([[3, 4]]), stats, [history], k=2)[0] == pytest.approx(expected)
    assert popularity_miscalibration(np.array([[2, 1]]), stats, [history], k=2)[0] == pytest.approx(0.0)
    assert expected == pytest.approx(math.log(2))  # disjoint mixes: the largest divergence


def test_the_summary_names_every_figure_at_its_cutoff(stats):
    history = History(1, np.array([1]), np.array([5.0]), np.array([1]))
    figures = beyond_accuracy(np.array([[1, 2, 3]]), stats, [history], k=3, vectors=np.eye(5))
    assert set(figures) == {"ild_genre@3", "coverage@3", "gini@3", "novelty@3", "arp@3", "short_head@3",
                            "miscalibration@3", "popularity_miscalibration@3", "ild_embedding@3"}

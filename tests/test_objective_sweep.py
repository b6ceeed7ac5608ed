"""The re-ranking sweep (eval.objectives): weights chosen on validation within the NDCG budget, the held-out
rank following the re-ranked list, and the Pareto plot written as a PNG."""

from __future__ import annotations

import numpy as np

from eval.objectives import Pools, choose, objective_rows, plot_pareto, sweep
from llmrec.evaluation.beyond import ItemStats
from llmrec.history import histories
from llmrec.recommenders.objectives import MultiObjective, ObjectiveWeights
from llmrec.testing import conformance_dataset


def test_the_chosen_weight_serves_its_objective_within_the_budget():
    points = [{"weights": {"diversity": 0.0}, "ndcg@10": 0.100, "ild_genre": 0.70},
              {"weights": {"diversity": 0.1}, "ndcg@10": 0.099, "ild_genre": 0.75},
              {"weights": {"diversity": 0.3}, "ndcg@10": 0.0981, "ild_genre": 0.80},
              {"weights": {"diversity": 0.5}, "ndcg@10": 0.090, "ild_genre": 0.90}]  # beyond a 2% loss
    assert choose(points, "diversity", 0.02)["weights"] == {"diversity": 0.3}
    assert choose(points, "diversity", 0.0)["weights"] == {"diversity": 0.0}
    worse = [{"weights": {"calibration": 0.0}, "ndcg@10": 0.1, "miscalibration": 0.9},
             {"weights": {"calibration": 1.0}, "ndcg@10": 0.1, "miscalibration": 0.5}]
    assert choose(worse, "calibration", 0.02)["weights"] == {"calibration": 1.0}  # minimises the divergence
    def at(d, p, ild, coverage):
        return {"weights": {"diversity": d, "popularity": p}, "ndcg@10": 0.1, "ild_genre": ild,
                "coverage": coverage}

    pair = [at(0.0, 0.0, 0.5, 0.2), at(0.2, 0.0, 0.6, 0.2), at(0.1, 0.3, 0.55, 0.4)]
    # relative gains added: 1.2 + 1.0 = 2.2 against 1.1 + 2.0 = 3.1
    assert choose(pair, "diversity+popularity", 0.02)["weights"] == {"diversity": 0.1, "popularity": 0.3}


def test_the_long_tail_choice_lifts_tail_users_without_costing_head_users():
    def at(w, tail, head):
        return {"weights": {"popularity": w}, "ndcg@10": 0.1, "ndcg@10_tail": tail, "ndcg@10_head": head}

    points = [at(0.0, 0.10, 0.25), at(0.1, 0.11, 0.25), at(0.3, 0.13, 0.24), at(0.5, 0.09, 0.26)]
    assert choose(points, "long-tail", 0.02)["weights"] == {"popularity": 0.1}  # 0.3 costs the head
    assert choose(points[:1] + points[2:3], "long-tail", 0.02)["weights"] == {"popularity": 0.0}


def test_the_held_out_rank_follows_the_reranked_list_and_stays_below_the_pool(tmp_path):
    data = conformance_dataset()
    h = histories(data.interactions)
    items = np.array([1, 2, 3, 8, 10])  # comedies first: 1 Toy Story, 8 Clueless, 10 Babe
    pools = Pools("validation", [h[1], h[2]], [items, items], [np.arange(5.0)[::-1]] * 2,
                  targets=np.array([8, 99]), ranks=np.array([3, 40]))
    stats = ItemStats.build(data.catalog, data.interactions)
    stage = MultiObjective(data.catalog, data.interactions, ObjectiveWeights())
    plain = sweep(pools, stage, stats, ObjectiveWeights(length=5))
    assert plain["per_user_ndcg"][0] == 1 / np.log2(3 + 2)  # rank 3 as given
    assert plain["per_user_ndcg"][1] == 0.0  # rank 40 stays 40
    diverse = sweep(pools, stage, stats, ObjectiveWeights(diversity=5.0, length=5))
    assert diverse["ild_genre"] >= plain["ild_genre"]


def test_the_pareto_plot_and_table_cover_every_recommender_and_objective(tmp_path):
    point = {"weights": {"diversity": 0.0}, "ndcg@10": 0.1, "ild_genre": 0.7, "novelty": 2.0, "coverage": 0.3,
             "miscalibration": 0.8, "ms_per_user": 1.0}
    sweep_ = {"points": [point, {**point, "weights": {"diversity": 0.2}, "ild_genre": 0.8}], "chosen": point}
    test = {"none": point, "diversity": {**point, "relative_ndcg_change": -0.01, "ci_low": -0.01,
                                         "ci_high": 0.0}}
    results = [{"recommender": "a", "validation": {"diversity": sweep_}, "test": test}]
    path = plot_pareto(results, tmp_path / "p" / "pareto.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows, header = objective_rows(results)
    assert [r[1] for r in rows] == ["none", "diversity"] and len(rows[0]) == len(header)


def test_the_unreranked_pools_give_the_harness_ranks_and_lists():
    from eval.objectives import collect_pools
    from llmrec.evaluation.harness import evaluate
    from llmrec.recommenders import create_recommender
    from llmrec.split import leave_last_out

    data = conformance_dataset()
    held = leave_last_out(data, "test")
    harness = evaluate(create_recommender("itemknn").fit(held.train), held, progress=False, top_n=5)
    pools = collect_pools(create_recommender("itemknn"), data, "test", pool=5, progress=False)
    assert pools.ranks.tolist() == harness.ranks["rank"].tolist()
    assert [p.tolist() for p in pools.items] == [row[row >= 0].tolist() for row in harness.lists]


def test_the_sweep_reranks_once_per_distinct_weights_and_grids_share_their_points(monkeypatch):
    from eval import objectives
    from eval.objectives import GRID, objective_sweep
    from llmrec.recommenders import create_recommender

    calls: list[tuple] = []
    real = objectives.sweep

    def counted(pools, stage, stats, weights, k=10):
        calls.append((pools.split, weights.diversity, weights.calibration, weights.popularity,
                      weights.popularity_calibration))
        return real(pools, stage, stats, weights, k)

    monkeypatch.setattr(objectives, "sweep", counted)
    out = objective_sweep(create_recommender("itemknn"), conformance_dataset(), pool=5, progress=False)
    assert len(calls) == len(set(calls))  # nothing re-ranked twice
    distinct = {tuple(sorted((k, v) for k, v in w.items() if v)) for grid in GRID.values() for w in grid}
    assert sum(split == "validation" for split, *_ in calls) == len(distinct)
    # the popularity weights swept for the long tail are the same points as popularity's own
    assert out["validation"]["long-tail"]["points"] == out["validation"]["popularity"]["points"]
    assert set(out["test"]) == {"none", *GRID}


def test_a_test_recommender_serves_the_test_split_and_only_it():
    """An item-token model is trained per split: validation choices come from the validation model, the test
    figures and reports from the test one."""
    from eval.objectives import objective_sweep
    from llmrec.recommenders import create_recommender

    fitted: dict[str, list[int]] = {"validation": [], "test": []}
    events: list[str] = []

    def tracked(name: str, neighbors: int):
        rec = create_recommender("itemknn", {"neighbors": neighbors})
        fit = rec.fit

        def fit_and_note(data):
            fitted[name].append(len(data.interactions))
            events.append(f"fit {name}")
            return fit(data)

        rec.fit = fit_and_note
        rec.close = lambda: events.append(f"close {name}")
        return rec

    data = conformance_dataset()
    out = objective_sweep(tracked("validation", 5), data, pool=5, progress=False,
                          test_recommender=tracked("test", 7))
    assert len(fitted["validation"]) == 1 and len(fitted["test"]) == 1
    assert fitted["test"][0] > fitted["validation"][0]  # the test split's fit data holds the validation items
    assert all(report.config["neighbors"] == 7 for report in out["reports"].values())
    # one engine at a time: the validation recommender is closed before the test one is fitted
    assert events == ["fit validation", "close validation", "fit test"]

"""The replay protocol (``python -m eval --protocol replay``): withheld interactions fed back as events."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.replay import ReplayConfig, _withheld, replay, replay_splits
from llmrec.converse import Conversations, ConverseConfig
from llmrec.errors import ConfigError
from llmrec.split import leave_last_out


@pytest.fixture(scope="module")
def result(ml100k):
    return replay(ml100k, "validation", config=ReplayConfig(events=3, users=6, seed=1), progress=False)


def test_each_sampled_user_loses_exactly_its_last_fit_interactions(ml100k):
    cfg = ReplayConfig(events=4, users=5, seed=2)
    start, withheld, targets = _withheld(ml100k, "test", cfg)
    fit = leave_last_out(ml100k, "test").train.interactions.ordered()
    assert len(start.interactions) == len(fit) - 4 * 5 and len(withheld) == len(targets) == 5
    for user, rows in withheld.items():
        mine = fit[fit["user"] == user]
        assert rows["item"].tolist() == mine["item"].tolist()[-4:]
        assert rows["timestamp"].is_monotonic_increasing


def test_the_auto_retriever_learns_from_none_of_the_events_it_is_later_told_about(ml100k):
    cfg = ReplayConfig(events=3, users=4, seed=5)
    start, withheld, targets = _withheld(ml100k, "test", cfg)
    validation, test = replay_splits(ml100k, "test", cfg)
    assert test.train.interactions.fingerprint() == start.interactions.fingerprint()
    assert test.targets.equals(leave_last_out(ml100k, "test").targets)
    seen = {(u, i) for u, i in zip(*(validation.train.interactions.frame[c] for c in ("user", "item")))}
    held = {(u, i) for u, i in zip(validation.targets["user"], validation.targets["item"])}
    for user, rows in withheld.items():
        events = {(user, int(i)) for i in rows["item"]} | {(user, targets[user])}
        assert not events & (seen | held)
    # the validation split is the start's own leave-last-out: each user's last remaining item held out
    last = start.interactions.ordered().groupby("user").tail(1).set_index("user")["item"]
    assert validation.name == "validation"
    assert all(last[u] == i for u, i in held)
    assert len(validation.train.interactions) + len(validation.targets) == len(start.interactions)


def test_before_any_event_the_updated_recommender_is_the_static_one(result):
    first = result["steps"][0]
    assert first["events"] == 0
    for name in ("next_ndcg@10", "heldout_ndcg@10", "next_hit@10"):
        assert first[name]["updated"] == first[name]["static"] and first[name]["ci"] == [0.0, 0.0]
    assert [s["events"] for s in result["steps"]] == [0, 1, 2, 3]
    assert len(result["ranks"]) == 6 * 4 * 2


def test_feeding_every_withheld_event_reproduces_the_full_history_ranking(ml100k, result):
    """After the last event each user's history is the full fit history again, so the held-out item ranks
    where a recommender fit on the full fit data ranks it."""
    held = leave_last_out(ml100k, "validation")
    ranks = result["ranks"]
    last = ranks[(ranks["arm"] == "updated") & (ranks["events"] == 3)].set_index("user")
    with Conversations(held.train, ConverseConfig(retriever=None, llm=False)) as conv:
        for user, row in last.iterrows():
            history = conv.history(user)
            allowed = conv.catalog.item_ids[~np.isin(conv.catalog.item_ids, history.items)]
            order = conv.retriever.search(history, allowed, len(allowed)).items.tolist()
            assert order.index(row["next_item"]) == row["heldout_rank"] == row["next_rank"]


def test_the_cli_writes_the_figures_the_plot_and_a_manifest(ml100k, tmp_path, capsys):
    from eval.cli import main

    out = tmp_path / "replay"
    assert main(["--protocol", "replay", "--split", "validation", "--users", "3", "--param", "events=2",
                 "--output", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "replay.json").read_text())
    assert summary["users"] == 3 and summary["events"] == 2 and len(summary["steps"]) == 3
    assert (out / "replay.png").stat().st_size > 0 and (out / "ranks.csv").is_file()
    assert "replay-evaluation" in (out / "manifest.json").read_text()
    assert "events fed" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [{"events": 0}, {"cutoff": -1}, {"users": -2}, {"events": True}])
def test_bad_replay_settings_are_refused_naming_them(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        ReplayConfig(**bad)


def test_the_pooled_figure_is_the_mean_of_the_steps_after_an_event(result):
    steps = [s for s in result["steps"] if s["events"] >= 1]
    pooled = result["pooled"]["next_ndcg@10"]
    for arm in ("updated", "static"):
        assert pooled[arm] == pytest.approx(np.mean([s["next_ndcg@10"][arm] for s in steps]))
    assert pooled["ci"][0] <= pooled["diff"] <= pooled["ci"][1]

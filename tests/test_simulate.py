"""Simulated users (eval.simulate): the simulator describes the held-out item truthfully without naming it,
and the conversations it drives return no item that breaks what it asked for."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eval.simulate import SimulatedRun, Simulator, simulate, simulation_rows, simulation_summary
from llmrec.converse import Conversations, ConverseConfig
from llmrec.history import histories
from llmrec.split import leave_last_out, target_items


@pytest.fixture(scope="module")
def held(ml100k):
    return leave_last_out(ml100k, "validation")


@pytest.fixture(scope="module")
def genre_counts(ml100k):
    counts: dict[str, int] = {}
    for item in ml100k.catalog.item_ids:
        for g in ml100k.catalog.genres(int(item)):
            counts[g] = counts.get(g, 0) + 1
    return counts


def _script(sim: Simulator, shown: list[int], turns: int = 5) -> list[str]:
    texts = [sim.first()]
    for _ in range(turns - 1):
        text = sim.react(shown)
        if text is None:
            break
        texts.append(text)
    return texts


def test_the_simulator_describes_the_target_truthfully_and_never_names_it(ml100k, held, genre_counts):
    catalog, users = ml100k.catalog, histories(held.train.interactions)
    for user, target in list(target_items(held).items())[:200]:
        sim = Simulator(catalog, users[user], target, genre_counts)
        texts = _script(sim, shown=[])
        assert not sim.intended.constraints().violations(catalog, target), (user, texts)
        named = re.compile(rf"\b{re.escape(catalog.short_title(target))}\b", re.IGNORECASE)
        assert not any(named.search(t) for t in texts), (catalog.short_title(target), texts)


def test_the_first_turn_names_the_rarest_genre_then_the_decade(ml100k, genre_counts):
    catalog = ml100k.catalog
    target = next(int(i) for i in catalog.item_ids if set(catalog.genres(int(i))) == {"Drama", "War"}
                  and catalog.year(int(i)))
    history = histories(ml100k.interactions)[1]
    sim = Simulator(catalog, history, target, genre_counts)
    assert sim.first() == "I'm in the mood for a War movie"  # War is rarer than Drama
    decade = catalog.year(target) // 10 * 10
    assert sim.react([]) == f"from the {decade}s"


def test_a_shown_item_sharing_no_genre_is_rejected(ml100k, genre_counts):
    catalog = ml100k.catalog
    comedy = next(int(i) for i in catalog.item_ids if catalog.genres(int(i)) == ("Comedy",))
    horror = next(int(i) for i in catalog.item_ids if catalog.genres(int(i)) == ("Horror",))
    sim = Simulator(catalog, histories(ml100k.interactions)[1], comedy, genre_counts)
    sim.first()
    assert sim.react([horror, comedy]).startswith("not the first one, ")
    assert horror in sim.intended.rejected


def test_the_seed_is_the_best_rated_history_item_sharing_most_genres(ml100k, genre_counts):
    catalog = ml100k.catalog
    history = histories(ml100k.interactions)[1]
    target = next(int(i) for i in catalog.item_ids if int(i) not in set(history.items.tolist())
                  and len(catalog.genres(int(i))) >= 2)
    seed = Simulator(catalog, history, target, genre_counts).seed_item()
    want = set(catalog.genres(target))
    shared = {int(i): len(want & set(catalog.genres(int(i)))) for i in history.items}
    assert seed is not None and shared[seed] == max(shared.values())


def test_simulated_conversations_keep_every_constraint_and_never_reshow_a_rejected_item(ml100k, held,
                                                                                     tmp_path):
    settings = ConverseConfig(retriever=None, llm=False, db=str(tmp_path / "c.db"))
    with Conversations(held.train, settings) as conv:
        report = simulate(held, {"no LLM": conv}, users=25, seed=3, offline=conv, progress=False)
    s = report["systems"]["no LLM"]
    assert report["users"] == 25 and s["turns"] >= 25
    assert s["violations"] == 0 and s["rejected_reappeared"] == 0
    assert s["hit_by_turn"] == sorted(s["hit_by_turn"])  # cumulative
    assert s["hit_within_budget"] == s["hit_by_turn"][-1]
    assert set(report["systems"]) == {"no LLM", "offline top-k, no request"}
    rows, header = simulation_rows(report)
    assert len(rows) == 2 and len(rows[0]) == len(header)


def test_paired_interval_of_identical_systems_is_zero():
    users = [1, 2, 3, 4]
    a, b = SimulatedRun("a", {1: 1, 2: 0, 3: 2, 4: 6}), SimulatedRun("b", {1: 1, 2: 0, 3: 2, 4: 6})
    report = simulation_summary([a, b], users, turns=5, k=10, split="validation", seed=0)
    assert report["systems"]["a"]["hit_within_budget"] == 0.5  # users 1 and 3; user 4 hit after the budget
    assert report["systems"]["a"]["mean_turns_to_hit"] == pytest.approx(1.5)  # (1 + 2) / 2, within budget
    assert report["paired"][0]["diff"] == 0 and not report["paired"][0]["excludes_zero"]
    assert np.allclose(report["systems"]["a"]["hit_by_turn"], [0.25, 0.5, 0.5, 0.5, 0.5])

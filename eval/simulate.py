"""Simulated users: can a conversation find the item a user wants, and does the LLM help?

    python -m eval --simulate --split test                  # every test user, the LLM pipeline and baselines
    python -m eval --simulate --split validation --users 100

For each evaluated user the :class:`Simulator` knows the held-out item (the target) and nothing else the
recommender does not.  It describes the target by its catalog attributes without naming it, and reacts to each
list it is shown, for at most ``turns`` turns:

1. the target's most distinctive genre (the rarest of its genres in the catalog): "I'm in the mood for a
   Thriller";
2. its decade: "from the 1990s";
3. "more like <title>": the history item the user rated highest among those sharing most genres with the
   target (skipped when none shares one);
4. the target's other genres ("it should also be Crime"), or, when it has one genre, a rejection of the first
   shown item;
5. its release years: "released between 1996 and 1998".

From the second turn on, a turn also rejects the first shown item when that item shares no genre with the
target.
A *hit* is the target among the returned item ids (top ``k``, default 10); the conversation stops at the first
hit.  Figures: hit@k per turn (cumulative), hit@k within the turn budget, mean turns to a hit, and the share
of users that hit at each turn — for the full pipeline (LLM rerank on the request-aware prompt), for
deterministic parsing without the LLM (the retriever's order) under the same simulator, and for the offline
pipeline's top-k for the user without any request (recall from the history, LLM rerank).  The differences are
paired per user, with percentile-bootstrap 95% intervals.  Every returned item is checked against the
constraints the simulator meant (its own true parse, not the engine's reading): the violation count must be 0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from llmrec.converse import Constraints, Conversations
from llmrec.data import Catalog
from llmrec.evaluation.report import paired_bootstrap
from llmrec.history import History
from llmrec.split import HoldoutSplit, seeded_sample, target_items

__all__ = ["SimulatedRun", "Simulator", "simulate", "simulation_rows", "simulation_summary"]

log = logging.getLogger(__name__)


@dataclass
class Intended:
    """What the simulator means so far: the hard constraints of its turns (its own true parse)."""

    genres_all: set[str] = field(default_factory=set)
    year_min: int | None = None
    year_max: int | None = None
    rejected: set[int] = field(default_factory=set)

    def constraints(self) -> Constraints:
        return Constraints(genres_all=tuple(sorted(self.genres_all)), year_min=self.year_min,
                           year_max=self.year_max)


class Simulator:
    """One user's side of a conversation (see the module doc): deterministic, knows the target's attributes
    and the user's history, never names the target."""

    def __init__(self, catalog: Catalog, history: History, target: int, genre_counts: dict[str, int]) -> None:
        self.catalog, self.history, self.target = catalog, history, target
        genres = list(catalog.genres(target))
        self.genres = sorted(genres, key=lambda g: (genre_counts.get(g, 0), g))  # rarest first
        self.year = catalog.year(target)
        self.intended = Intended()
        self._plan = self._reactions()

    def first(self) -> str:
        if not self.genres:
            return "I'm in the mood for a good movie"
        self.intended.genres_all.add(self.genres[0])
        return f"I'm in the mood for a {self.genres[0]} movie"

    def react(self, shown: list[int]) -> str | None:
        """The next turn's text after ``shown`` (the list just returned, best first), or None when the
        simulator has nothing more to say."""
        reject = ""
        if shown and not set(self.catalog.genres(shown[0])) & set(self.genres):
            reject = "not the first one"
            self.intended.rejected.add(shown[0])
        for step in self._plan:
            text = step(shown)
            if text:
                return f"{reject}, {text}" if reject else text
        return reject or None

    def _reactions(self) -> Iterable:
        def decade(shown):
            if self.year is None:
                return None
            d = self.year // 10 * 10
            self.intended.year_min, self.intended.year_max = d, d + 9
            return f"from the {d}s"

        def more_like(shown):
            seed = self.seed_item()
            return None if seed is None else f"more like {self.catalog.short_title(seed)}"

        def other_genres(shown):
            rest = self.genres[1:]
            if not rest:  # nothing more to add: reject the first shown item not rejected yet
                for pos, item in enumerate(shown[:3]):
                    if item not in self.intended.rejected:
                        self.intended.rejected.add(item)
                        return f"not the {('first', 'second', 'third')[pos]} one"
                return None
            self.intended.genres_all.update(rest)
            return "it should also be " + " and ".join(rest)

        def years(shown):
            if self.year is None:
                return None
            self.intended.year_min, self.intended.year_max = self.year - 1, self.year + 1
            return f"released between {self.year - 1} and {self.year + 1}"

        return iter([decade, more_like, other_genres, years])

    def seed_item(self) -> int | None:
        """The history item rated highest among those sharing most genres with the target (latest first on
        ties); None when none shares a genre."""
        want = set(self.genres)
        best, key = None, None
        for pos, (item, rating) in enumerate(zip(self.history.items.tolist(), self.history.ratings.tolist())):
            shared = len(want & set(self.catalog.genres(item)))
            if shared and (key is None or (shared, rating, pos) > key):
                best, key = item, (shared, rating, pos)
        return best


@dataclass
class SimulatedRun:
    """One system's conversations: the turn of the first hit per user (0: none) and the checks."""

    name: str
    hit_turn: dict[int, int] = field(default_factory=dict)
    violations: int = 0
    items: int = 0
    reappeared: int = 0  # a rejected item shown again in its conversation
    degraded: int = 0
    turns: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def hits(self, users: list[int], within: int) -> np.ndarray:
        return np.array([1.0 if 0 < self.hit_turn.get(u, 0) <= within else 0.0 for u in users])


def converse_one(conv: Conversations, sim: Simulator, user: int, turns: int, k: int, run: SimulatedRun
                 ) -> None:
    """One simulated conversation of ``user`` with ``conv``; the hit turn and the checks go to ``run``."""
    cid = conv.create(user=user)
    text: str | None = sim.first()
    for n in range(1, turns + 1):
        if text is None:
            break
        answer = conv.turn(cid, text, k=k)
        run.turns += 1
        run.degraded += answer.degraded
        shown = [it.item for it in answer.items]
        truth = sim.intended.constraints()
        for item in shown:
            run.items += 1
            bad = truth.violations(conv.catalog, item)
            if item in sim.intended.rejected:
                run.reappeared += 1
                bad = [*bad, "rejected earlier"]
            if bad:
                run.violations += 1
                if len(run.examples) < 20:
                    run.examples.append({"user": user, "turn": n, "text": text, "item": item, "broken": bad,
                                         "interpretation": answer.interpretation})
        if sim.target in shown:
            run.hit_turn[user] = n
            return
        text = sim.react(shown)
    run.hit_turn[user] = 0


def offline_run(conv: Conversations, held: HoldoutSplit, users: list[int], k: int, progress: bool
                ) -> SimulatedRun:
    """The offline pipeline's top ``k`` for each user, no request (recall from the history, the LLM's
    rerank when the engine has one, or the item-token model's fusion over every unseen item): a hit counts
    as turn 1."""
    run = SimulatedRun("offline top-k, no request")
    targets = target_items(held)
    all_items = conv.catalog.item_ids
    for u in tqdm(users, desc="offline", disable=not progress):
        history = conv.history(u)
        if conv.items is not None:  # the item-token model over every unseen item, fused with the retriever
            unseen = all_items[~np.isin(all_items, np.asarray(history.items, dtype=np.int64))]
            top = conv.items.rank(history, conv.retriever.search(history, unseen, len(unseen)), k)
        elif conv.ranker is not None:
            top = conv.ranker.recommend(history, all_items, n=k)
            run.degraded += bool(top.meta.get("degraded"))
        else:
            seen = np.asarray(history.items, dtype=np.int64)
            top = conv.retriever.search(history, all_items[~np.isin(all_items, seen)], k)
        run.turns += 1
        run.hit_turn[u] = 1 if targets[u] in top.items[:k].tolist() else 0
    return run


def simulate(held: HoldoutSplit, systems: dict[str, Conversations], *, users: int = 0, seed: int = 0,
             turns: int = 5, k: int = 10, offline: Conversations | None = None, progress: bool = True
             ) -> dict[str, Any]:
    """Simulated conversations of (a seeded sample of ``users``, 0: all) ``held``'s users with each of
    ``systems`` (engines built on ``held.train``), plus the offline baseline from ``offline``; the report."""
    catalog = next(iter(systems.values())).catalog
    targets = target_items(held)
    sample = seeded_sample(sorted(targets), users, seed)
    genre_counts: dict[str, int] = {}
    for item in catalog.item_ids:
        for g in catalog.genres(int(item)):
            genre_counts[g] = genre_counts.get(g, 0) + 1
    runs = []
    for name, conv in systems.items():
        run = SimulatedRun(name)
        for u in tqdm(sample, desc=f"simulate {name}", disable=not progress):
            sim = Simulator(catalog, conv.history(u), targets[u], genre_counts)
            converse_one(conv, sim, u, turns, k, run)
        runs.append(run)
    if offline is not None:
        runs.append(offline_run(offline, held, sample, k, progress))
    return simulation_summary(runs, sample, turns, k, held.name, seed)


def simulation_summary(runs: list[SimulatedRun], users: list[int], turns: int, k: int, split: str, seed: int
                       ) -> dict[str, Any]:
    """Per system: hit@k by turn (cumulative), within the budget, mean turns to a hit, checks; paired
    intervals of the first system against each other."""
    report: dict[str, Any] = {"split": split, "users": len(users), "turns": turns, "k": k, "seed": seed,
                              "systems": {}}
    for run in runs:
        within = run.hits(users, turns)
        hit_turns = [t for t in (run.hit_turn.get(u, 0) for u in users) if 0 < t <= turns]
        report["systems"][run.name] = {
            "hit_within_budget": float(within.mean()) if len(users) else float("nan"),
            "hit_by_turn": [float(run.hits(users, t).mean()) for t in range(1, turns + 1)],
            "mean_turns_to_hit": float(np.mean(hit_turns)) if hit_turns else None,
            "turns": run.turns, "items": run.items, "violations": run.violations,
            "rejected_reappeared": run.reappeared, "degraded": run.degraded,
            "violation_examples": run.examples}
    first, comparisons = runs[0], []
    for other in runs[1:]:
        diff = first.hits(users, turns) - other.hits(users, turns)
        low, high = paired_bootstrap(diff)
        comparisons.append({"a": first.name, "b": other.name, "diff": float(diff.mean()), "ci_low": low,
                            "ci_high": high, "excludes_zero": bool(low > 0 or high < 0)})
    report["paired"] = comparisons
    return report


def simulation_rows(report: dict[str, Any]) -> tuple[list[list[Any]], list[str]]:
    """The printed table: one row per system."""
    turns = report["turns"]
    header = ["system", f"hit@{report['k']} <= {turns} turns", *[f"turn {t}" for t in range(1, turns + 1)],
              "mean turns", "violations", "rejected shown again", "degraded"]
    rows = []
    for name, s in report["systems"].items():
        mean = s["mean_turns_to_hit"]
        rows.append([name, f"{s['hit_within_budget']:.4f}", *[f"{h:.3f}" for h in s["hit_by_turn"]],
                     "-" if mean is None else f"{mean:.2f}", s["violations"], s["rejected_reappeared"],
                     s["degraded"]])
    return rows, header

"""How well feedback on a shown list is read, and whether a rejected item ever comes back.

* :func:`evaluate_feedback`: the resolution rate on the generated feedback benchmark
  (:mod:`eval.feedback_data`): the share of cases whose reading by
  :func:`~llmrec.converse.feedback.read_feedback` equals the true one exactly (items rejected, accepted and
  asked "more like", older / newer, start over, and "unresolved" where a reference names a position that was
  not shown), per family and language, with the misses;
* :func:`rejected_reappearances`: seeded multi-turn conversations through the turn pipeline — a request from
  the constraint benchmark, then feedback turns (from the feedback templates of the split) that reject one or
  two shown items each, by position, by title or as "that one" — counting every later answer that shows a
  rejected item again (the target is 0).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from eval.feedback_data import (
    TEMPLATES,
    FeedbackCase,
    _Retry,
    _World,
    generate,
    reading,
    render,
    split_templates,
    truth,
)
from llmrec.converse.feedback import read_feedback
from llmrec.converse.titles import TitleMatcher
from llmrec.data import Catalog
from llmrec.errors import DataError

__all__ = ["BLIND", "blind_cases", "evaluate_blind", "evaluate_feedback", "rejected_reappearances",
           "resolution"]

#: Feedback written by someone who never saw the reader (positions, not ids; titles as displayed).
BLIND = "tests/data/feedback_blind.jsonl"

MAX_MISSES = 30


def resolution(cases: Sequence[FeedbackCase], readings: Sequence[dict[str, Any]], max_misses: int = MAX_MISSES
               ) -> dict[str, Any]:
    """The share of ``cases`` whose reading equals the truth exactly, overall and per family and language
    ("lang:xx"), with the first ``max_misses`` misses (the fields that differ: [read, true])."""
    by_group: dict[str, list[int]] = {}
    misses: list[dict[str, Any]] = []
    right = 0
    for case, got in zip(cases, readings, strict=True):
        ok = got == case.truth
        right += ok
        for group in (case.family, f"lang:{case.language}"):
            cell = by_group.setdefault(group, [0, 0])
            cell[0] += ok
            cell[1] += 1
        if not ok and len(misses) < max_misses:
            diff = {k: [got[k], want] for k, want in case.truth.items() if got[k] != want}
            misses.append({"text": case.text, "template": case.template, "diff": diff})
    return {"n": len(cases), "resolved": right / len(cases) if cases else float("nan"),
            "by_group": {g: {"resolved": ok / n, "n": n} for g, (ok, n) in sorted(by_group.items())},
            "missed": len(cases) - right, "misses": misses}


def evaluate_feedback(catalog: Catalog, split: str = "test", n: int = 600, seed: int = 0,
                      popularity: dict[int, int] | None = None, titles: TitleMatcher | None = None
                      ) -> dict[str, Any]:
    """The resolution rate of :func:`read_feedback` on ``n`` generated cases of ``split`` (``titles``: the
    request parser's title matcher, else one built from the catalog and ``popularity``)."""
    cases = generate(catalog, n=n, seed=seed, split=split, popularity=popularity)
    titles = titles or TitleMatcher(catalog, popularity)
    readings = [reading(read_feedback(c.text, list(c.shown), c.focus, titles)) for c in cases]
    return {"split": split, "seed": seed, **resolution(cases, readings)}


def blind_cases(path: str | Path, catalog: Catalog, popularity: dict[int, int] | None = None
                ) -> list[FeedbackCase]:
    """The hand-written feedback set at ``path`` as cases (shown titles matched to catalog items by their
    displayed title, the most popular on a tie; positions turned into items)."""
    by_title: dict[str, int] = {}
    for i in sorted((int(i) for i in catalog.item_ids), key=lambda i: -(popularity or {}).get(i, 0)):
        by_title.setdefault(catalog.short_title(i).casefold(), i)
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            shown = tuple(by_title[t.casefold()] for t in row["shown_titles"])
        except KeyError as err:
            raise DataError(f"shown title {err.args[0]!r} is not a catalog title", path, n) from None
        t = row["truth"]
        items = {key: [shown[p - 1] for p in t[key]] for key in ("reject", "accept", "more_like")}
        family = next((k for k in ("reject", "accept", "more_like", "older", "newer", "reset", "unresolved")
                       if t[k]), "none")
        focus = shown[row["focus"] - 1] if row.get("focus") else None
        cases.append(FeedbackCase(row["text"], shown, focus,
                                  truth(**items, older=t["older"], newer=t["newer"], reset=t["reset"],
                                        unresolved=t["unresolved"]), "blind", family, row["lang"]))
    return cases


def evaluate_blind(path: str | Path, catalog: Catalog, popularity: dict[int, int] | None = None,
                   titles: TitleMatcher | None = None, part: str = "held") -> dict[str, Any]:
    """The resolution rate on a hand-written feedback set (:data:`BLIND`): its ``"dev"`` half (lines 1, 3,
    5, ...: the half the reader may be improved on), its ``"held"`` half (lines 2, 4, ...: never looked at)
    or ``"all"``."""
    cases = blind_cases(path, catalog, popularity)
    cases = {"dev": cases[0::2], "held": cases[1::2], "all": cases}[part]
    titles = titles or TitleMatcher(catalog, popularity)
    readings = [reading(read_feedback(c.text, list(c.shown), c.focus, titles)) for c in cases]
    return {"set": str(path), "part": part, **resolution(cases, readings)}


def rejected_reappearances(conversations, cases: Iterable[Any], n: int = 50, turns: int = 5, seed: int = 0,
                           split: str = "test", progress: bool = False) -> dict[str, Any]:
    """``n`` seeded conversations of ``turns`` turns through ``conversations`` (a
    :class:`~llmrec.converse.Conversations`): the first turn a request from ``cases`` (constraint benchmark
    cases or texts, taken in turn; one answered with fewer than 3 items is passed over), each later turn
    feedback from a template of ``split`` whose true reading rejects one or two shown items.  Counts the
    items rejected (by the true reading), those the engine did not record as rejected, every answer's item
    that was rejected before or in that turn (``reappearances``, the target 0: a misread rejection counts;
    ``examples`` name the turn whose answer showed it), and among them those the engine had recorded as
    rejected (``reappearances_of_recorded``: the engine's own guarantee)."""
    data = conversations.data
    counts = data.interactions.frame["item"].value_counts()
    world = _World(data.catalog, {int(i): int(c) for i, c in counts.items()})
    ids = set(TEMPLATES) if split == "all" else split_templates()[0 if split == "train" else 1]
    rejecting = [TEMPLATES[t] for t in sorted(ids) if TEMPLATES[t].focus == "reject"
                 or (not TEMPLATES[t].beyond and "reject" in TEMPLATES[t].refs)]
    users = sorted(int(u) for u in data.interactions.frame["user"].unique())
    requests = [getattr(c, "text", c) for c in cases]
    rng = random.Random(f"{seed}/reappear")
    rng.shuffle(requests)
    done = rejected = missed = reappear = recorded_back = answered = 0
    examples: list[dict[str, Any]] = []
    by_family: dict[str, int] = {}
    bar = tqdm(total=n, desc="feedback conversations", disable=not progress)
    for request in requests:
        if done == n:
            break
        cid = conversations.create(user=rng.choice(users) if rng.random() < 0.7 else None)
        turn = conversations.turn(cid, request)
        if len(turn.items) < 3:
            continue
        done += 1
        bar.update()
        gone: set[int] = set()
        focus: int | None = None
        for _ in range(turns - 1):
            shown = [it.item for it in turn.items]
            for _attempt in range(50):
                try:
                    case = render(rng.choice(rejecting), rng, world, shown, focus)
                    break
                except _Retry:
                    continue
            else:
                break
            truth = case.truth
            turn = conversations.turn(cid, case.text)
            answered += 1
            gone |= set(truth["reject"])
            rejected += len(truth["reject"])
            by_family[case.family] = by_family.get(case.family, 0) + len(truth["reject"])
            back = [it.item for it in turn.items if it.item in gone]
            reappear += len(back)
            recorded = set(conversations.state(cid)["rejected"])
            recorded_back += sum(it.item in recorded for it in turn.items)
            if back and len(examples) < 20:
                examples.append({"conversation": cid, "text": case.text, "items": back})
            referred = [*truth["reject"], *truth["more_like"], *truth["accept"]]
            now = [it.item for it in turn.items]
            focus = referred[-1] if referred and referred[-1] in now else None
            if len(now) < 3:
                break
        missed += len(gone - set(conversations.state(cid)["rejected"]))
    bar.close()
    return {"split": split, "seed": seed, "conversations": done, "feedback_turns": answered,
            "rejected": rejected, "rejected_by_family": dict(sorted(by_family.items())),
            "rejections_not_recorded": missed, "reappearances": reappear,
            "reappearances_of_recorded": recorded_back, "examples": examples}

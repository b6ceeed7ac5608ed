"""Scripted conversations for the conversation benchmarks (:mod:`bench.conversation`) and the service tests:
:class:`Plan` (a request from the constraint benchmark's test templates, then feedback turns), the
:class:`Checker` of every returned item against what its turn promises, and :func:`drive`, which runs plans
through a real ``llmrec serve`` over HTTP, some at a time, recording one :class:`Call` per request."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FEEDBACK", "REJECTS", "Call", "Checker", "Plan", "drive", "rejected_after", "run_conversation",
           "sample_plans"]

#: Feedback turns on the list shown last; those that reject an item map to its 1-based position.
FEEDBACK = ("not the second one", "more like 3", "something older", "something newer", "not 1",
            "more like the first one")
REJECTS = {"not the second one": 2, "not 1": 1}


@dataclass(frozen=True)
class Plan:
    """One scripted conversation: the user (None: a new user) and its turns, a request then feedback."""

    user: int | None
    texts: tuple[str, ...]
    family: str


def sample_plans(data, n: int, turns: int, seed: int = 0) -> list[Plan]:
    """``n`` conversations of ``turns`` turns: a benchmark test request, then ``turns - 1`` distinct feedback
    turns; every other conversation is for a known user (seeded)."""
    from eval.conversation_data import generate

    counts = data.interactions.frame["item"].value_counts()
    popularity = {int(i): int(c) for i, c in counts.items()}
    cases = generate(data.catalog, n=max(60, 2 * n), seed=seed, split="test", popularity=popularity)
    cases = [c for c in cases if c.family != "impossible"]
    rng = random.Random(f"bench.conversation/{seed}")
    users = sorted(int(u) for u in data.interactions.frame["user"].unique())
    plans = []
    for i in range(n):
        case = cases[i % len(cases)]
        feedback = rng.sample(FEEDBACK, min(max(turns - 1, 0), len(FEEDBACK)))
        plans.append(Plan(rng.choice(users) if i % 2 else None, (case.text, *feedback), case.family))
    return plans


class Checker:
    """Checks a turn's items (as JSON) against what the conversation promises."""

    def __init__(self, data):
        from llmrec.history import histories

        self.catalog = data.catalog
        self._seen = {int(u): {int(i) for i in h.items} for u, h in histories(data.interactions).items()}

    def problems(self, turn: dict[str, Any], user: int | None, rejected: set[int]) -> list[str]:
        """What is wrong with the turn's items (empty: nothing)."""
        from llmrec.converse.query import Query

        query = Query.from_parse(turn["parse"])
        items = [int(it["item"]) for it in turn["items"]]
        out = ["duplicate items"] if len(set(items)) != len(items) else []
        seen = self._seen.get(user, set()) if user is not None else set()
        for item in items:
            bad = query.constraints.violations(self.catalog, item)
            bad += ["a seed"] if item in query.seeds else []
            bad += ["rejected earlier"] if item in rejected else []
            bad += ["seen by the user"] if item in seen else []
            if bad:
                out.append(f"item {item} ({self.catalog.short_title(item)}): {', '.join(bad)}")
        return out


def rejected_after(text: str, shown: list[int]) -> set[int]:
    """The item a scripted feedback turn rejects on the list ``shown`` before it."""
    position = REJECTS.get(text)
    return {shown[position - 1]} if position and len(shown) >= position else set()


@dataclass
class Call:
    """One HTTP call of the load test."""

    conversation: int
    kind: str  # create, request, feedback
    api: str  # json or chat
    start: float  # seconds since the run started
    seconds: float
    status: int | None  # None: a transport error
    error: str | None = None
    degraded: bool = False
    problems: list[str] = field(default_factory=list)
    items: int = 0


def run_conversation(client, url: str, index: int, plan: Plan, api: str, checker: Checker, t0: float,
                     k: int | None = None, explain: int | None = None,
                     stop: threading.Event | None = None) -> list[Call]:
    """One scripted conversation through the HTTP API (``api``: "json" or "chat"); one :class:`Call` each."""
    import httpx

    calls: list[Call] = []
    extra = {key: value for key, value in (("k", k), ("explain", explain)) if value is not None}

    def call(kind: str, method: str, path: str, body: dict | None) -> dict | None:
        start = time.perf_counter()
        record = Call(index, kind, api, start - t0, 0.0, None)
        calls.append(record)
        try:
            response = client.request(method, url + path, json=body)
        except httpx.HTTPError as err:
            record.seconds, record.error = time.perf_counter() - start, f"{type(err).__name__}: {err}"
            return None
        record.seconds, record.status = time.perf_counter() - start, response.status_code
        if response.is_success:
            with contextlib.suppress(ValueError):
                return response.json()
            record.error = f"not JSON: {response.text[:200]!r}"
        else:
            record.error = response.text[:300]
        return None

    conversation_id = None
    if api == "json":
        created = call("create", "POST", "/v1/conversations", {"user": plan.user})
        if created is None:
            return calls
        conversation_id = created["id"]
    rejected: set[int] = set()
    shown: list[int] = []
    for t, text in enumerate(plan.texts):
        if stop is not None and stop.is_set():
            break
        kind = "request" if t == 0 else "feedback"
        if api == "json":
            answer = call(kind, "POST", f"/v1/conversations/{conversation_id}/turns", {"text": text, **extra})
            turn = answer
        else:
            body: dict[str, Any] = {"model": "llmrec", "messages": [{"role": "user", "content": text}],
                                    **extra}
            if conversation_id:
                body["user"] = f"conv:{conversation_id}"
            elif plan.user is not None:
                body["metadata"] = {"user": str(plan.user)}
            answer = call(kind, "POST", "/v1/chat/completions", body)
            turn = answer["llmrec"] if answer else None
            conversation_id = answer["conversation_id"] if answer else conversation_id
        if turn is None:
            break
        rejected |= rejected_after(text, shown)
        record = calls[-1]
        record.degraded, record.items = bool(turn["degraded"]), len(turn["items"])
        record.problems = checker.problems(turn, plan.user, rejected)
        shown = [it["item"] for it in turn["items"]]
    return calls


def drive(url: str, plans: list[Plan], checker: Checker, concurrency: int, api: str = "mixed",
          k: int | None = None, explain: int | None = None, timeout: float = 300.0,
          at: tuple[float, Callable[[], None]] | None = None) -> tuple[list[Call], float]:
    """Run ``plans`` through the service, ``concurrency`` at a time; the calls and the run's wall seconds.
    ``at=(seconds, action)`` runs ``action`` that many seconds into the run (in a timer thread)."""
    import httpx

    stop = threading.Event()
    t0 = time.perf_counter()
    timer = threading.Timer(at[0], at[1]) if at else None
    if timer is not None:
        timer.daemon = True
        timer.start()

    def one(index: int) -> list[Call]:
        which = api if api != "mixed" else ("json", "chat")[index % 2]
        with httpx.Client(timeout=timeout) as client:
            return run_conversation(client, url, index, plans[index], which, checker, t0, k, explain, stop)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="conversation")
    try:
        futures = [pool.submit(one, i) for i in range(len(plans))]
        calls = [c for f in futures for c in f.result()]
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        if timer is not None:
            timer.cancel()
    return calls, time.perf_counter() - t0

"""``python -m eval --conversation``: how well requests in plain language are understood and kept.

    python -m eval --conversation --split test                 # parse exact match + violations, with the LLM
    python -m eval --conversation --split test --no-llm        # deterministic parsing only

Figures (MovieLens-100K):

* **parse exact match** on the constraint benchmark (:mod:`eval.conversation_data`, the templates of
  ``--split``: train templates are for tuning and training a parser, test templates for the figures), per
  family and language, and on the hand-written request sets in ``tests/data/`` — deterministic parsing alone
  and with the LLM reading the loose clauses, so the LLM's share is visible;
* **constraint violations**: every benchmark request answered by the full turn pipeline (mask -> recall ->
  LLM rerank -> re-check), each returned item checked against the request's *true* parse by an independent
  check (:meth:`~llmrec.converse.query.Constraints.violations` of the truth, not of the parser's reading), and
  the share of impossible requests answered "none match" with a relaxation;
* **latency** per turn (p50, p95);
* **feedback**: the resolution rate of feedback on a shown list ("not the second one", "more like 3", "not
  Fargo", in four languages) on the generated feedback benchmark (:mod:`eval.feedback_data`, the templates
  of ``--split``), and **rejected items reappearing** in seeded multi-turn conversations (the target 0):
  :mod:`eval.feedback_eval`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from eval.conversation_data import Case, generate
from eval.feedback_eval import evaluate_feedback, rejected_reappearances
from llmrec.converse import Conversations, Query
from llmrec.converse.parse import RequestParser

__all__ = ["HANDWRITTEN", "ParseScore", "handwritten", "parse_scores", "run_requests"]

log = logging.getLogger(__name__)

#: The hand-written request sets (written before tuning, never trained on).
HANDWRITTEN = {"handwritten": "tests/data/requests_handwritten.jsonl",
               "handwritten_blind": "tests/data/requests_handwritten_blind.jsonl"}


def handwritten(path: str | Path) -> list[Case]:
    """A hand-written request set as cases (family "handwritten")."""
    cases = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(row["text"], row["parse"], "handwritten", "handwritten", row.get("lang", "en")))
    return cases


@dataclass
class ParseScore:
    """Exact match of parses: overall and per family / language."""

    n: int = 0
    exact: int = 0
    by_group: dict[str, list[int]] = field(default_factory=dict)  # group -> [exact, n]
    misses: list[dict[str, Any]] = field(default_factory=list)

    def add(self, case: Case, got: dict[str, Any]) -> None:
        ok = got == case.parse
        self.n += 1
        self.exact += ok
        for group in (case.family, f"lang:{case.language}"):
            cell = self.by_group.setdefault(group, [0, 0])
            cell[0] += ok
            cell[1] += 1
        if not ok:
            self.misses.append({"text": case.text, "template": case.template,
                                "diff": {k: [got[k], case.parse[k]] for k in got if got[k] != case.parse[k]}})

    @property
    def rate(self) -> float:
        return self.exact / self.n if self.n else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "exact_match": self.rate,
                "by_group": {g: {"exact_match": e / n, "n": n}
                             for g, (e, n) in sorted(self.by_group.items())},
                "misses": self.misses}


def parse_scores(cases: Iterable[Case], parser: RequestParser, conversations: Conversations | None = None,
                 reader=None) -> ParseScore:
    """Exact match of ``parser`` (and, with ``conversations``, its LLM reading of the loose clauses: by
    ``reader``, default the configured one — the parser adapter's when there is one)."""
    score = ParseScore()
    for case in cases:
        parsed = parser.parse(case.text)
        query = parsed.query
        if conversations is not None and parsed.loose:
            query, _ = conversations._read_loose(query, parsed.loose, reader)
        score.add(case, query.to_parse())
    return score


def run_requests(conversations: Conversations, cases: list[Case], k: int = 10, progress: bool = True
                 ) -> dict[str, Any]:
    """Every case as a one-shot request through the turn pipeline; violations against the true parse."""
    catalog = conversations.catalog
    violations, lists, items, none_ok, impossible, degraded = 0, 0, 0, 0, 0, 0
    seconds, examples = [], []
    for case in tqdm(cases, desc="requests", disable=not progress):
        truth = Query.from_parse(case.parse)
        t0 = time.perf_counter()
        turn = conversations.recommend(case.text, k=k)
        seconds.append(time.perf_counter() - t0)
        degraded += turn.degraded
        lists += 1
        for it in turn.items:
            items += 1
            bad = truth.constraints.violations(catalog, it.item)
            if it.item in truth.excluded():
                bad = [*bad, "excluded"]
            if bad:
                violations += 1
                if len(examples) < 20:
                    examples.append({"text": case.text, "item": it.item, "title": it.title, "broken": bad,
                                     "interpretation": turn.interpretation})
        if case.family == "impossible":
            impossible += 1
            none_ok += bool(turn.none_match and turn.relaxation)
    s = np.asarray(seconds)
    return {"requests": lists, "items": items, "violations": violations, "violation_examples": examples,
            "impossible": impossible, "impossible_none_match_with_relaxation": none_ok / max(1, impossible),
            "degraded": degraded, "seconds_p50": float(np.percentile(s, 50)) if len(s) else None,
            "seconds_p95": float(np.percentile(s, 95)) if len(s) else None}


def evaluate_conversation(conversations: Conversations, split: str = "test", n: int = 600, seed: int = 0,
                          requests: int = 0, progress: bool = True, feedback_conversations: int = 50
                          ) -> dict[str, Any]:
    """The report of ``python -m eval --conversation`` (see the module doc); ``requests`` > 0 runs the turn
    pipeline on that many benchmark cases (seeded sample), 0 on all; ``feedback_conversations`` seeded
    conversations of 5 turns check that a rejected item never reappears."""
    data = conversations.data
    counts = data.interactions.frame["item"].value_counts()
    popularity = {int(i): int(c) for i, c in counts.items()}
    cases = generate(data.catalog, n=n, seed=seed, split=split, popularity=popularity)
    parser = conversations.parser
    report: dict[str, Any] = {"split": split, "cases": len(cases), "seed": seed}
    sets = {"benchmark": cases}
    for name, path in HANDWRITTEN.items():
        if Path(path).is_file():
            sets[name] = handwritten(path)
    for name, group in sets.items():
        det = parse_scores(group, parser)
        report[f"parse_{name}_deterministic"] = det.to_dict()
        if conversations.config.llm:  # the LLM's reading of loose clauses, whether or not it is served
            report[f"parse_{name}_llm"] = parse_scores(group, parser, conversations).to_dict()
            if conversations.parser_adapter is not None:  # the zero-shot reading beside the adapter's
                zero_shot = conversations._intent_reader(zero_shot=True)
                report[f"parse_{name}_llm_zero_shot"] = parse_scores(group, parser, conversations,
                                                                     zero_shot).to_dict()
    sample = cases
    if requests and requests < len(cases):
        rng = np.random.default_rng(seed)
        sample = [cases[i] for i in sorted(rng.choice(len(cases), requests, replace=False))]
    report["requests"] = run_requests(conversations, sample, progress=progress)
    report["families"] = dict(Counter(c.family for c in cases))
    report["feedback"] = evaluate_feedback(data.catalog, split=split, n=n, seed=seed, popularity=popularity,
                                           titles=parser.titles)
    report["rejected_reappear"] = rejected_reappearances(conversations, cases, n=feedback_conversations,
                                                         seed=seed, split=split, progress=progress)
    return report


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """(figure, value) rows for the printed table."""
    rows = []
    for key, value in report.items():
        if key.startswith("parse_"):
            rows.append([key.removeprefix("parse_") + " exact match", (f"{value['exact_match']:.4f} "
                                                                        f"(n={value['n']})")])
    r = report["requests"]
    rows += [["requests answered", r["requests"]], ["items returned", r["items"]],
             ["constraint violations", r["violations"]],
             ["impossible: none match + relaxation", (f"{r['impossible_none_match_with_relaxation']:.4f} "
                                                     f"(n={r['impossible']})")],
             ["degraded answers", r["degraded"]],
             ["seconds per turn p50 / p95", f"{r['seconds_p50']:.3f} / {r['seconds_p95']:.3f}"]]
    if "feedback" in report:
        f = report["feedback"]
        rows.append(["feedback references resolved", f"{f['resolved']:.4f} (n={f['n']})"])
    if "rejected_reappear" in report:
        a = report["rejected_reappear"]
        said = f"{a['reappearances']} ({a['rejected']} rejected in {a['conversations']} conversations)"
        rows.append(["rejected items reappearing", said])
    return rows

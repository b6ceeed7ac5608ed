"""Explanation faithfulness on held-out users: ``python -m eval --explanations``.

For each evaluated user the two-stage recommender (retriever + LLM ranker, with an adapter when given)
ranks the candidates, and the :class:`~llmrec.explain.Explainer` explains the top-1 item.  Every explanation
is checked against the catalog and the user's history (:mod:`llmrec.explain.claims`) and summarised by
:func:`eval.faithfulness.faithfulness_metrics`, twice: **raw** (the LLM's sentences as generated; an answer
that is not valid JSON of the schema counts as an explanation that fails item consistency) and **verified**
(what is shown after verification replaced failing explanations by fact sentences).

The **deletion test** asks whether the cited history items matter to the ranker: the item's LLM score with
the history shown in the ranking prompt, minus its score with the cited items removed, is compared with the
drop when the same number of random other shown items are removed (paired, per user; mean difference with a
bootstrap 95% interval).  Removal keeps the rest of the shown history and adds nothing older.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from eval.faithfulness import deletion_effect, faithfulness_metrics
from llmrec.artifacts import atomic_directory, atomic_write_text, write_manifest
from llmrec.data import Dataset
from llmrec.explain.check import check_explanation
from llmrec.explain.explainer import Explainer, ExplainerConfig, Explanation
from llmrec.history import History, histories
from llmrec.llm.memo import MemoBackend
from llmrec.request import Request
from llmrec.split import SplitName, leave_last_out, seeded_sample, target_items

__all__ = ["EXPLANATION_REPORT_KIND", "ExplanationRun", "evaluate_explanations", "held_out_users",
           "summarize", "top1_jobs", "write_explanation_report"]

log = logging.getLogger(__name__)

EXPLANATION_REPORT_KIND = "explanation-report"


@dataclass
class ExplanationRun:
    label: str
    explanations: list[Explanation]
    summary: dict


def deletion_drops(ranker, jobs: list[tuple[Request, tuple[int, ...]]], seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per job (a request about an item, the cited items): the item's LLM-score drop when the cited items are
    removed from the shown history, and when as many random other shown items are removed.  Jobs whose shown
    history has too few uncited items are skipped."""
    prompts, rows = [], []
    for request, cited in jobs:
        h, item, cands = request.history, request.need_item(), request.need_candidates()
        shown = ranker.shown_history(h)
        cited = [c for c in cited if c in set(shown.items.tolist())]
        others = [int(i) for i in shown.items if int(i) not in cited]
        if not cited or len(others) < len(cited):
            continue
        rng = np.random.default_rng([seed, h.user, item])
        rand = set(rng.choice(others, len(cited), replace=False).tolist())
        pos = int(np.flatnonzero(cands == item)[0])
        rows.append(pos)
        prompts += [Request(shown, cands), Request(shown.without(cited), cands),
                    Request(shown.without(rand), cands)]
    if not rows:
        return np.zeros(0), np.zeros(0)
    scores = ranker.llm_scores_many(prompts)
    full = np.array([scores[3 * n][p] for n, p in enumerate(rows)])
    cited_s = np.array([scores[3 * n + 1][p] for n, p in enumerate(rows)])
    rand_s = np.array([scores[3 * n + 2][p] for n, p in enumerate(rows)])
    return full - cited_s, full - rand_s


def held_out_users(dataset: Dataset, ranker, split: SplitName, users: int = 0, seed: int = 0
                   ) -> tuple[dict[int, History], list[int]]:
    """Fit ``ranker`` on the split's fit data; its users' fit histories and the ids evaluated (those with a
    held-out item and a history; a seeded sample of ``users`` when > 0)."""
    held = leave_last_out(dataset, split)
    ranker.fit(held.train)
    hs = histories(held.train.interactions)
    ids = sorted(u for u in target_items(held) if u in hs and len(hs[u]))
    return hs, seeded_sample(ids, users, seed)


def top1_jobs(ranker, batch: list[History]) -> list[Request]:
    """The request of each user the LLM ranked (degraded ones skipped) about its top-1 item, candidates in
    prompt order; the batch ranked in one engine call."""
    ranker.prepare(batch)
    jobs = []
    for h in batch:
        ranked = ranker.rank(h)
        if len(ranked) and not ranked.meta.get("degraded"):
            jobs.append(ranked.meta["request"].about(int(ranked.items[0])))
    return jobs


def evaluate_explanations(dataset: Dataset, ranker, split: SplitName = "test", *, users: int = 0,
                          seed: int = 0, batch_users: int = 64, deletion: bool = True,
                          deletion_users: int = 0, label: str = "llm", config: ExplainerConfig | None = None,
                          progress: bool = True) -> ExplanationRun:
    """Explain the top-1 item of each held-out user of ``split`` (a seeded sample of ``users`` when > 0) with
    ``ranker`` (an unfitted :class:`~llmrec.llm.ranker.LLMRanker`; it is fitted on the split's fit data).

    The deletion test (``deletion``) scores two more prompts per user, with history items removed (the full
    prompt is the ranking prompt, answered from a :class:`~llmrec.llm.memo.MemoBackend`); ``deletion_users``
    > 0 runs it on a seeded sample of that many of the evaluated users — the users ``users=deletion_users``
    would evaluate — while every other figure covers them all."""
    # the deletion test's full prompts are the ranking prompts: scored once
    memo = MemoBackend(ranker.backend)
    ranker = type(ranker)(ranker.config, backend=memo)
    hs, ids = held_out_users(dataset, ranker, split, users, seed)
    deleting = set(seeded_sample(ids, deletion_users, seed)) if deletion else set()
    explainer = Explainer(ranker, config or ExplainerConfig())
    explanations: list[Explanation] = []
    cited_drops, random_drops = [], []
    rank_s = explain_s = deletion_s = 0.0
    bar = tqdm(total=len(ids), desc=f"explanations [{label}]", unit="user", disable=not progress)
    for start in range(0, len(ids), batch_users):
        batch = [hs[u] for u in ids[start:start + batch_users]]
        memo.clear()  # only this batch's prompts repeat
        t = time.perf_counter()
        jobs = top1_jobs(ranker, batch)
        t2 = time.perf_counter()
        out = explainer.explain_many(jobs)
        t3 = time.perf_counter()
        if deleting:
            c, r = deletion_drops(ranker, [(q, e.raw_cited_items or e.cited_items)
                                           for q, e in zip(jobs, out) if q.user in deleting], seed)
            cited_drops.append(c)
            random_drops.append(r)
        deletion_s += time.perf_counter() - t3
        rank_s, explain_s = rank_s + (t2 - t), explain_s + (t3 - t2)
        explanations += out
        bar.update(len(batch))
    bar.close()
    summary = summarize(explanations, hs, explainer, cited_drops, random_drops, seed)
    summary |= {"label": label, "split": split, "users": len(ids), "explained": len(explanations),
                "ranker": ranker.describe(), "explainer": explainer.config.__dict__,
                "explain_prompt_version": explainer.prompt.version,
                "seconds_per_item": round(explain_s / max(1, len(explanations)), 4),
                "rank_seconds_per_user": round(rank_s / max(1, len(ids)), 4),
                "deletion_users": len(deleting), "deletion_seconds": round(deletion_s, 1),
                "memo_hits": memo.hits}
    return ExplanationRun(label, explanations, summary)


def summarize(explanations: list[Explanation], hs: dict[int, History], explainer: Explainer,
              cited_drops: list[np.ndarray], random_drops: list[np.ndarray], seed: int = 0) -> dict:
    """Raw and verified faithfulness metrics, replacement and unusable rates, the deletion effect."""
    catalog, ex = explainer.catalog, explainer.extractor

    def checks(texts: list[tuple[Explanation, str, str]]):
        return [check_explanation(text, e.item, hs[e.user].items.tolist(), catalog, ex, reason=reason,
                                  influence=e.extra.get("influence")) for e, text, reason in texts]

    usable = [e for e in explanations if e.raw_text]
    raw = faithfulness_metrics(checks([(e, e.raw_text, e.raw_reason) for e in usable])) if usable else {}
    if raw and len(usable) < len(explanations):  # an unusable answer explains nothing: inconsistent
        raw["item_consistency"] = raw["item_consistency"] * len(usable) / len(explanations)
    if raw:  # how much the words the LLM wrote itself vary (the sentence around them is built from facts)
        raw["reason_distinctness"] = len({e.raw_reason.casefold() for e in usable}) / len(usable)
    verified = (faithfulness_metrics(checks([(e, e.text, e.reason) for e in explanations]))
                if explanations else {})
    n = max(1, len(explanations))
    c = np.concatenate(cited_drops) if cited_drops else np.zeros(0)
    r = np.concatenate(random_drops) if random_drops else np.zeros(0)
    return {"raw": raw, "verified": verified,
            "unusable_rate": round(1 - len(usable) / n, 4),
            "replaced_rate": round(sum(e.replaced for e in explanations) / n, 4),
            "llm_written_rate": round(sum(not e.replaced for e in explanations) / n, 4),
            "deletion": deletion_effect(c, r, seed=seed) if len(c) else {"n": 0}}


def write_explanation_report(path: str, runs: list[ExplanationRun]) -> None:
    """``path/report.json`` (the summaries) and ``path/<label>.jsonl`` (every explanation), with a manifest;
    written atomically."""
    with atomic_directory(path) as tmp:
        atomic_write_text(tmp / "report.json",
                          json.dumps([run.summary for run in runs], indent=2, default=str))
        for run in runs:
            tag = "".join(ch if ch.isalnum() else "-" for ch in run.label).strip("-")
            atomic_write_text(tmp / f"{tag}.jsonl", "".join(json.dumps(e.to_dict(), default=str) + "\n"
                                                            for e in run.explanations))
        write_manifest(tmp, EXPLANATION_REPORT_KIND, runs=[run.label for run in runs])

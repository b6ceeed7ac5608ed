"""Faithfulness of explanations: aggregate claim checks, and the effect of deleting cited history items.

:func:`faithfulness_metrics` pools the per-explanation :class:`~llmrec.explain.ExplanationCheck` counts.
Rates over explanations are means of per-explanation indicators; precisions over claims are pooled
(micro-averaged: every claim weighs the same).  A precision with no claims to judge is NaN — never a
flattering 1.0 — and its claim count is reported beside it so a reader can tell "perfect" from "silent".

Keys:

* ``explanations``, ``title_mentions``, ``history_claims``, ``genre_claims``, ``year_claims``: counts.
* ``hallucinated_title_rate``: share of explanations with at least one title mention that is neither
  the recommended item nor in the user's history (titles in no catalog included).
* ``hallucinated_title_mentions``: hallucinated mentions / all title mentions.
* ``unknown_title_rate``: share of explanations mentioning a title that is in no catalog at all.
* ``history_grounding_precision``: titles presented as watched/liked that really are in the history /
  all titles presented so.
* ``genre_claim_precision``: distinct genres claimed per explanation that belong to the item or to a
  cited history item / all such claims.
* ``year_accuracy``: year and decade claims matching the item's or a cited item's release year / all.
* ``item_consistency``: share of explanations that are about their item (``ExplanationCheck.about_item``).
* ``citation_rate``: share of explanations citing at least one history item by title.
* ``distinctness``: distinct normalized sentences (titles and years masked) / all sentences, pooled over
  all explanations — 1.0 when no sentence repeats, near 0 for one template.

Whether they are worth reading (:mod:`llmrec.explain.quality`):

* ``evidence_relevance``: cited history items sharing a genre with the item or with a positive measured
  influence on its score / all cited items (pooled);
* ``repetition_rate``: share of explanations repeating a word 3-gram;
* ``truncated_rate``: share of unfinished sentences;
* ``short_reason_rate``: share of explanations whose own reason has fewer than three words, among those with
  a separate reason (NaN when none has one);
* ``cites_nothing_rate``: share of explanations citing no history item (1 - ``citation_rate``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.evaluation.report import paired_bootstrap
from llmrec.explain import ExplanationCheck

__all__ = ["deletion_effect", "faithfulness_metrics"]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def faithfulness_metrics(checks: Sequence[ExplanationCheck]) -> dict[str, float]:
    """Pooled faithfulness figures over ``checks`` (see the module docstring for each key)."""
    n = len(checks)
    mentions = sum(len(c.titles) for c in checks)
    history = sum(c.history_claims for c in checks)
    genres = sum(len(c.genre_claims) for c in checks)
    years = sum(len(c.year_claims) for c in checks)
    sentences = [s for c in checks for s in c.sentences]
    cited = sum(len(c.cited_items) for c in checks)
    reasons = [c for c in checks if c.reason_words is not None]
    return {
        "explanations": float(n),
        "title_mentions": float(mentions),
        "history_claims": float(history),
        "genre_claims": float(genres),
        "year_claims": float(years),
        "hallucinated_title_rate": _ratio(sum(bool(c.hallucinated) for c in checks), n),
        "hallucinated_title_mentions": _ratio(sum(len(c.hallucinated) for c in checks), mentions),
        "unknown_title_rate": _ratio(sum(c.unknown_titles > 0 for c in checks), n),
        "history_grounding_precision": _ratio(sum(c.history_claims_true for c in checks), history),
        "genre_claim_precision": _ratio(sum(c.genre_claims_true for c in checks), genres),
        "year_accuracy": _ratio(sum(c.year_claims_true for c in checks), years),
        "item_consistency": _ratio(sum(c.about_item for c in checks), n),
        "citation_rate": _ratio(sum(bool(c.cited_items) for c in checks), n),
        "distinctness": _ratio(len(set(sentences)), len(sentences)),
        "evidence_relevance": _ratio(sum(c.relevant_cited for c in checks), cited),
        "repetition_rate": _ratio(sum(bool(c.repeated) for c in checks), n),
        "truncated_rate": _ratio(sum(c.truncated for c in checks), n),
        "short_reason_rate": _ratio(sum(c.short_reason for c in reasons), len(reasons)),
        "cites_nothing_rate": _ratio(sum(not c.cited_items for c in checks), n),
    }


def deletion_effect(cited_drops: np.ndarray | Sequence[float], random_drops: np.ndarray | Sequence[float],
                    seed: int = 0, n_boot: int = 2000, confidence: float = 0.95) -> dict[str, float]:
    """Does deleting the history items an explanation cites hurt the item's score more than random ones?

    ``cited_drops[i]`` is the drop in the recommended item's score (or rank) for explanation ``i`` when
    its cited history items are removed from the history; ``random_drops[i]`` the drop when as many
    random, uncited history items are removed.  Pairs with a NaN are dropped.

    Returns ``mean_diff`` (mean of cited - random per explanation), a paired percentile-bootstrap
    interval ``ci_low``/``ci_high`` (resampling explanations), ``mean_cited``, ``mean_random``, ``n`` and
    ``excludes_0`` (1.0 when the interval lies strictly on one side of zero).
    """
    cited = np.asarray(cited_drops, dtype=np.float64)
    rand = np.asarray(random_drops, dtype=np.float64)
    if cited.shape != rand.shape or cited.ndim != 1:
        raise ValueError(f"need two paired 1-d arrays, got shapes {cited.shape} and {rand.shape}")
    keep = np.isfinite(cited) & np.isfinite(rand)
    cited, rand = cited[keep], rand[keep]
    diff = cited - rand
    nan = float("nan")
    if len(diff) == 0:
        return {"mean_diff": nan, "ci_low": nan, "ci_high": nan, "mean_cited": nan, "mean_random": nan,
                "n": 0.0, "excludes_0": 0.0}
    lo, hi = paired_bootstrap(diff, n_resamples=n_boot, confidence=confidence, random_state=seed)
    return {"mean_diff": float(diff.mean()), "ci_low": lo, "ci_high": hi, "mean_cited": float(cited.mean()),
            "mean_random": float(rand.mean()), "n": float(len(diff)), "excludes_0": float(lo > 0 or hi < 0)}

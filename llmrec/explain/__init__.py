"""Explanations of recommendations: the LLM writes them (:class:`Explainer`), :mod:`claims` finds their
claims, :mod:`check` checks them."""

from llmrec.explain.check import ExplanationCheck, check_explanation, check_problems
from llmrec.explain.claims import (
    ClaimExtractor,
    GenreMention,
    TitleMention,
    YearMention,
    normalize_title,
)
from llmrec.explain.evidence import evidence, fact_sentence
from llmrec.explain.explainer import Explainer, ExplainerConfig, Explanation
from llmrec.explain.phrases import predicates, render
from llmrec.explain.quality import is_truncated, repeated_trigrams

__all__ = [
    "ClaimExtractor",
    "Explainer",
    "ExplainerConfig",
    "Explanation",
    "ExplanationCheck",
    "GenreMention",
    "TitleMention",
    "YearMention",
    "check_explanation",
    "check_problems",
    "evidence",
    "fact_sentence",
    "is_truncated",
    "normalize_title",
    "predicates",
    "render",
    "repeated_trigrams",
]

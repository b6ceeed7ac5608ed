"""Explanations of recommendations: the LLM writes them (:class:`Explainer`), :mod:`claims` checks them."""

from llmrec.explain.claims import (
    ClaimExtractor,
    ExplanationCheck,
    GenreMention,
    TitleMention,
    YearMention,
    check_explanation,
    normalize_title,
)
from llmrec.explain.explainer import (
    Explainer,
    ExplainerConfig,
    Explanation,
    check_problems,
    fact_sentence,
    render_explanation,
)

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
    "fact_sentence",
    "normalize_title",
    "render_explanation",
]

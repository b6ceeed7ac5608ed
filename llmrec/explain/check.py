"""An explanation's claims checked against the catalog and the user's history: :func:`check_explanation`
extracts them (:class:`~llmrec.explain.claims.ClaimExtractor`) and counts which hold
(:class:`ExplanationCheck`, raw counts for the faithfulness metrics)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from llmrec.data import Catalog
from llmrec.explain._text import paren_end, sentence_keys
from llmrec.explain.claims import ClaimExtractor, TitleMention, YearMention
from llmrec.explain.quality import (
    MIN_REASON_WORDS,
    is_truncated,
    relevant_citations,
    repeated_trigrams,
    word_count,
)

__all__ = ["ExplanationCheck", "check_explanation", "check_problems"]


@dataclass
class ExplanationCheck:
    """The claims of one explanation for ``item`` and how many of them hold (raw counts for metrics).

    * ``hallucinated``: mentions none of whose catalog items is the item or in the history (non-catalog
      mentions always); ``history_claims``: mentions presented as watched/liked, ``history_claims_true``
      those with an item in the history.
    * ``genre_claims``: distinct genres claimed; true when a genre of the item or of a cited item.
    * ``year_claims``: year/decade mentions; true when matching the item's or a cited item's year.
    * ``about_item``: the item's title is mentioned, or every mention not grounded in item/history is
      cued (a reason or a comparison) — i.e. no other movie is presented as the subject.
    * ``sentences``: normalized sentences with titles and years masked, for template detection.
    * ``relevant_cited``, ``repeated``, ``truncated``, ``reason_words``: whether it is worth reading
      (:mod:`llmrec.explain.quality`).
    """

    item: int
    titles: tuple[TitleMention, ...]
    hallucinated: tuple[TitleMention, ...]
    history_claims: int
    history_claims_true: int
    genre_claims: tuple[str, ...]
    genre_claims_true: int
    year_claims: tuple[YearMention, ...]
    year_claims_true: int
    about_item: bool
    cited_items: tuple[int, ...]
    sentences: list[str] = field(default_factory=list)
    relevant_cited: int = 0  # cited items relevant to the item (llmrec.explain.quality)
    repeated: tuple[str, ...] = ()  # word 3-grams said twice
    truncated: bool = False  # the sentence is unfinished
    reason_words: int | None = None  # words of the reason the LLM wrote (None: no separate reason)

    @property
    def short_reason(self) -> bool:
        """A reason was given and it has fewer than :data:`~llmrec.explain.quality.MIN_REASON_WORDS`
        words."""
        return self.reason_words is not None and self.reason_words < MIN_REASON_WORDS

    @property
    def unknown_titles(self) -> int:
        """Mentions of titles in no catalog."""
        return sum(not t.items for t in self.titles)


def check_explanation(text: str, item: int, history_items: Iterable[int], catalog: Catalog,
                      extractor: ClaimExtractor | None = None, *, reason: str | None = None,
                      influence: Mapping[int, float] | None = None) -> ExplanationCheck:
    """Extract the claims of ``text`` (explaining ``item`` to a user with ``history_items``) and check them.

    ``reason``: the part of the text the LLM wrote itself, when the rest is built from facts (its length is
    checked); ``influence``: each history item's measured influence on the item's score, when known (an
    influential citation is relevant evidence).  Pass a shared ``extractor`` when checking many texts;
    building one indexes the whole catalog.
    """
    ex = extractor or ClaimExtractor(catalog)
    history = {int(h) for h in history_items}
    titles = ex.titles(text)
    cited = tuple(dict.fromkeys(i for t in titles for i in t.items if i in history))
    grounded = [bool(set(t.items) & (history | {item})) for t in titles]
    claimed = [t for t in titles if t.cue]
    known = [item, *cited]
    true_genres = {g for i in known for g in catalog.genres(i)}
    genres = tuple(dict.fromkeys(g.genre for g in ex.genres(text, titles)))
    years = tuple(ex.years(text, titles))
    others = [t for t, ok in zip(titles, grounded) if not ok and not t.cue and not t.compare]
    masks = [(t.start, paren_end(text, t.end)) for t in titles]
    return ExplanationCheck(
        item=item, titles=tuple(titles),
        hallucinated=tuple(t for t, ok in zip(titles, grounded) if not ok),
        history_claims=len(claimed),
        history_claims_true=sum(bool(set(t.items) & history) for t in claimed),
        genre_claims=genres, genre_claims_true=sum(g in true_genres for g in genres),
        year_claims=years,
        year_claims_true=sum(any(y.matches(catalog.year(i)) for i in known) for y in years),
        about_item=any(item in t.items for t in titles) or not others,
        cited_items=cited,
        sentences=sentence_keys(text, masks, [(y.start, y.end) for y in years]),
        relevant_cited=relevant_citations(catalog, item, cited, influence),
        repeated=repeated_trigrams(text, masks + [(y.start, y.end) for y in years]),
        truncated=is_truncated(text),
        reason_words=None if reason is None else word_count(reason),
    )


def check_problems(check: ExplanationCheck) -> tuple[str, ...]:
    """The failed checks of a :class:`~llmrec.explain.check.ExplanationCheck`, as short reasons."""
    problems = []
    if check.hallucinated:
        problems.append("mentions titles neither watched nor recommended: "
                        + ", ".join(repr(t.text) for t in check.hallucinated))
    if check.history_claims_true < check.history_claims:
        problems.append("presents unwatched titles as watched")
    if check.genre_claims_true < len(check.genre_claims):
        problems.append("claims genres the movies do not have")
    if check.year_claims_true < len(check.year_claims):
        problems.append("states a wrong year")
    if not check.about_item:
        problems.append("is not about the recommended movie")
    if check.relevant_cited < len(check.cited_items):
        problems.append("cites history items unrelated to the movie")
    if check.repeated:
        problems.append("repeats itself: " + ", ".join(repr(g) for g in check.repeated))
    if check.truncated:
        problems.append("is unfinished")
    if check.short_reason:
        problems.append("gives a reason of fewer than three words")
    return tuple(problems)

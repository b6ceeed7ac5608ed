"""Grounded explanations of recommendations, written by the ranking LLM.

For a recommended item the :class:`Explainer` continues the ranking conversation — the ranking prompt
(the user's history and the K candidates), the assistant's answer (the item's label, or with marks its title),
then ``prompts/explain.jinja`` asking why — so an engine with prefix caching reuses the ranking prompt.  The
answer is JSON constrained by a schema built per request (vLLM structured outputs):

* ``because``: one or two titles from the history items *shown in the prompt* (an enum).  With
  ``cite="influential"`` (the default) only the shown items the ranker's score of this item measurably rests
  on may be cited: each shown item is removed from the ranking prompt in turn, and the ``cite_pool`` items
  whose removal lowers the item's LLM evidence most (and by more than 0) make the enum — so a cited title is
  one the ranking depended on, not merely one the user watched.  With the marks read-out the evidence is the
  log-odds of the item's own mark, which reads the prompt only up to the item: one request per removal,
  where its normalised score would need all K marks.  When no shown item lowers the score, the
  explanation cites nothing.  The request lists the citable items with their catalog facts (year, genres),
  so the reason can say what the item shares with them.  This costs one extra scoring request per shown
  history item; ``cite="shown"`` skips it and lets the LLM cite any shown item;
* ``genres``: genres of the recommended item (an enum of its catalog genres);
* ``reason``: a few lowercase words (no capitals or digits, so it can name neither a title nor a year); with
  ``reason="grounded"`` (the default) only connective words and the item's own genres and decade
  (:mod:`llmrec.explain.words`), so every genre or year claim it can make is true of the item.

The answer becomes one sentence,
``Because you watched <because>: <title> (<year>) is a <genres> film; <reason>.``
The structured fields are kept (:class:`Explanation`: the cited history items and genres), the text is
checked against the catalog and the user's history (:func:`llmrec.explain.claims.check_explanation`), and
with ``verify`` on an explanation that fails any check — or an answer that is not valid JSON of the schema,
which a backend without constrained decoding can produce — is replaced by a sentence built from verified
catalog facts and flagged ``replaced``.  The raw text stays in the record, so evaluations report both.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from llmrec.explain.words import genre_words, reason_pattern
from llmrec.history import History
from llmrec.items import ItemList
from llmrec.llm.backends import chat_prompt
from llmrec.prompts import load_prompt
from llmrec.request import Request

__all__ = ["Explainer", "ExplainerConfig", "Explanation", "check_problems", "fact_sentence",
           "render_explanation"]


@dataclass(frozen=True)
class ExplainerConfig:
    prompt: str = "explain"  # template in prompts/
    max_cited: int = 2  # history items an explanation may cite
    reason_chars: int = 80  # longest "reason"
    max_tokens: int = 96  # answer budget (the JSON)
    verify: bool = True  # replace failing explanations by a verified fact sentence
    cite: Literal["influential", "shown"] = "influential"  # history items an answer may cite (module doc)
    cite_pool: int = 3  # with "influential": at most this many of the most influential shown items
    reason: Literal["grounded", "free"] = "grounded"  # words a reason may use (llmrec.explain.words)
    # 0: greedy; > 0: sampled within the schema (chosen on validation: eval.sampling)
    temperature: float = 0.5
    # request seeds per (seed, user, item) where the backend takes them (transformers; vLLM on CUDA)
    seed: int = 0

    def __post_init__(self):
        if self.reason not in ("grounded", "free"):
            raise ValueError(f"ExplainerConfig.reason must be 'grounded' or 'free', got {self.reason!r}")
        if self.cite not in ("influential", "shown"):
            raise ValueError(f"ExplainerConfig.cite must be 'influential' or 'shown', got {self.cite!r}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"ExplainerConfig.temperature must be in [0, 2], got {self.temperature}")
        if self.cite_pool < 1 or self.max_cited < 1:
            raise ValueError(f"ExplainerConfig needs cite_pool >= 1 and max_cited >= 1, got {self.cite_pool} "
                             f"and {self.max_cited}")


@dataclass(frozen=True)
class Explanation:
    """One recommendation's explanation: the text shown and the structured facts it cites."""

    user: int
    item: int
    text: str  # what is shown: the LLM's sentence, or the fact sentence when ``replaced``
    cited_items: tuple[int, ...]  # history items the text cites
    genres: tuple[str, ...]  # genres of the item the text cites
    reason: str = ""
    raw_cited_items: tuple[int, ...] = ()  # history items the LLM's own answer cited
    raw_text: str = ""  # the LLM's sentence before verification ("" when its answer was unusable)
    raw_answer: str = ""  # the LLM's JSON answer
    problems: tuple[str, ...] = ()  # checks the raw text failed
    replaced: bool = False
    seconds: float = 0.0  # generation time (amortised over the batch)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _titled(catalog, item: int) -> str:
    year = catalog.year(item)
    return f"{catalog.title(item)} ({year})" if year else catalog.title(item)


def _what(catalog, item: int, genres, otherwise: str) -> str:
    """"<title> (<year>) is a <genres> film", or ``otherwise`` after the title when there are no genres."""
    if not genres:
        return f"{_titled(catalog, item)} {otherwise}"
    g = genre_words(genres)
    return f"{_titled(catalog, item)} is {_article(g)} {g} film"


def render_explanation(catalog, item: int, cited: list[int], genres: list[str], reason: str) -> str:
    """The sentence shown for a structured answer."""
    what = _what(catalog, item, genres, "is a good match")
    head = f"Because you watched {' and '.join(catalog.short_title(i) for i in cited)}: " if cited else ""
    tail = f"; {reason.strip().rstrip('.')}" if reason.strip() else ""
    return f"{head}{what}{tail}."


def fact_sentence(catalog, item: int, history: History, among: list[int] | None = None
                  ) -> tuple[str, tuple[int, ...], tuple[str, ...]]:
    """A sentence from verified catalog facts: the item's genres and the most recent history item (of
    ``among``, when given) sharing the most of them.  Returns (text, cited items, genres)."""
    genres = tuple(catalog.genres(item))
    best, overlap = None, 0
    pool = history.items.tolist() if among is None else [i for i in history.items.tolist() if i in set(among)]
    for h in reversed(pool):
        shared = len(set(genres) & set(catalog.genres(int(h))))
        if shared > overlap and int(h) != item:
            best, overlap = int(h), shared
    what = _what(catalog, item, genres, "is in the catalog")
    if best is None:
        return f"{what}.", (), genres
    shared = [g for g in genres if g in catalog.genres(best)]
    return (f"{what}, like {catalog.short_title(best)} ({genre_words(shared)}) in your history.", (best,),
            genres)


def check_problems(check) -> tuple[str, ...]:
    """The failed checks of a :class:`~llmrec.explain.claims.ExplanationCheck`, as short reasons."""
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
    return tuple(problems)


class Explainer:
    """Explanations for a fitted :class:`~llmrec.llm.ranker.LLMRanker`'s recommendations, through its backend
    (and its adapter, when it has one)."""

    def __init__(self, ranker, config: ExplainerConfig | None = None):
        from llmrec.explain.claims import ClaimExtractor

        self.ranker, self.config = ranker, config or ExplainerConfig()
        self.catalog = ranker.catalog
        self.prompt = load_prompt(self.config.prompt)
        self.extractor = ClaimExtractor(self.catalog)

    # -- requests ----------------------------------------------------------------------------------------
    def shown_items(self, history: History) -> list[int]:
        """History items shown in the ranking prompt, newest first, one per title."""
        seen, out = set(), []
        for i in reversed(self.ranker.shown_history(history).items.tolist()):
            title = self.catalog.short_title(int(i))
            if title not in seen:
                seen.add(title)
                out.append(int(i))
        return out

    def influence(self, requests: list[Request]) -> list[dict[int, float]]:
        """Per request (about one item, candidates in prompt order): each shown history item's influence on
        the item's LLM evidence (:meth:`~llmrec.llm.ranker.LLMRanker.item_scores_many`) — how much it drops
        when that one item is removed from the ranking prompt — from one batched scoring call."""
        prompts: dict[tuple, Request] = {}
        spans = []
        for r in requests:
            item, candidates = r.need_item(), r.need_candidates()
            shown, ids = self.ranker.shown_history(r.history), self.shown_items(r.history)
            key = (r.user, len(r.history), tuple(candidates.tolist()), item)
            spans.append((key, ids))
            prompts.setdefault(key + (None,), r.with_history(shown))
            for i in ids:
                prompts.setdefault(key + (i,), r.with_history(shown.without([i])))
        scores = dict(zip(prompts, self.ranker.item_scores_many(list(prompts.values())))) if prompts else {}
        return [{i: float(scores[key + (None,)] - scores[key + (i,)]) for i in ids} for key, ids in spans]

    def citable(self, history: History, influence: dict[int, float] | None = None) -> list[int]:
        """History items an answer may cite: the shown ones, or (given their influence) the ``cite_pool``
        most influential with a positive influence, most influential first."""
        if influence is None:
            return self.shown_items(history)
        ranked = sorted((i for i, d in influence.items() if d > 0), key=lambda i: -influence[i])
        return ranked[: self.config.cite_pool]

    def schema(self, history: History, item: int, citable: list[int] | None = None) -> dict:
        """The JSON schema of an answer for ``item``: cited titles from ``citable`` (default: the shown
        history), the item's genres."""
        citable = self.shown_items(history) if citable is None else citable
        shown = [self.catalog.short_title(i) for i in citable]
        genres = list(self.catalog.genres(item))
        props: dict = {}
        if shown:
            props["because"] = {"type": "array", "items": {"type": "string", "enum": shown}, "minItems": 1,
                                "maxItems": min(self.config.max_cited, len(shown))}
        if genres:
            props["genres"] = {"type": "array", "items": {"type": "string", "enum": genres}, "minItems": 1,
                               "maxItems": len(genres)}
        props["reason"] = {"type": "string", "pattern": self.reason_pattern(item)}
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}

    def facts(self, item: int) -> str:
        """``Title (1995; Crime, Drama)``: an item's catalog facts as the explanation request lists them."""
        genres = ", ".join(self.catalog.genres(item)) or "no genres listed"
        return f"{self.catalog.short_title(item)} ({self.catalog.year(item) or 'year unknown'}; {genres})"

    def reason_pattern(self, item: int) -> str:
        """The pattern a reason for ``item`` must match: grounded words only, or any lowercase words."""
        if self.config.reason == "grounded":
            return reason_pattern(self.catalog, item)
        return f"^[a-z][a-z ,'-]{{2,{self.config.reason_chars}}}$"

    def prompt_text(self, request: Request, citable: list[int] | None = None) -> str:
        """The ranking conversation for the request's candidates, answered with its item (the item's label,
        or with marks its title), then the question.  With ``citable`` (the influential items), the question
        lists them with their catalog facts as the movies an answer may cite (none: it asks for no citation);
        without, an answer may cite any movie of the shown history."""
        item, candidates = request.need_item(), request.need_candidates()
        answer = self.ranker.answer_text(item, candidates)
        cite = "history" if citable is None else "listed" if citable else "none"
        messages = (self.ranker.messages(request.history, candidates)
                    + [{"role": "assistant", "content": answer}])
        messages += self.prompt.messages(item=self.facts(item), title=self.catalog.short_title(item),
                                         cite=cite, sources=[self.facts(i) for i in citable or []])
        return chat_prompt(self.ranker.backend.tokenizer, messages)

    # -- answers -----------------------------------------------------------------------------------------
    def parse(self, history: History, item: int, answer: str, citable: list[int] | None = None
              ) -> tuple[list[int], list[str], str] | None:
        """(cited items, genres, reason) of a JSON answer, or None when it is not a valid answer (citing an
        item outside ``citable``, default the shown history, included)."""
        try:
            data = json.loads(answer)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        by_title = {self.catalog.short_title(i): i
                    for i in (self.shown_items(history) if citable is None else citable)}
        because, genres, reason = data.get("because", []), data.get("genres", []), data.get("reason", "")
        if not (isinstance(because, list) and isinstance(genres, list) and isinstance(reason, str)):
            return None
        if any(t not in by_title for t in because) or any(g not in self.catalog.genres(item) for g in genres):
            return None
        if reason and not re.fullmatch(self.reason_pattern(item).strip("^$"), reason.strip()):
            return None
        cited = list(dict.fromkeys(by_title[t] for t in because))[: self.config.max_cited]
        return cited, list(dict.fromkeys(genres)), reason.strip()

    def explain_many(self, requests: list[Request],
                     influence: list[dict[int, float]] | None = None) -> list[Explanation]:
        """Explanations of each request's item against its candidates in prompt order, all in one backend call
        (``influence``: the requests' :meth:`influence`, when already computed)."""
        from llmrec.explain.claims import check_explanation

        if not requests:
            return []
        t0 = time.perf_counter()
        if self.config.cite != "influential":
            influence = [None] * len(requests)
        elif influence is None:
            influence = self.influence(requests)
        citable = [self.citable(r.history, inf) for r, inf in zip(requests, influence)]
        prompts = [self.prompt_text(r, None if inf is None else cite)
                   for r, cite, inf in zip(requests, citable, influence)]
        schemas = [self.schema(r.history, r.need_item(), c) for r, c in zip(requests, citable)]
        answers = self._generate(prompts, schemas, [self.seed_of(r.user, r.item) for r in requests])
        per = (time.perf_counter() - t0) / len(requests)
        out = []
        for r, answer, cite, inf in zip(requests, answers, citable, influence):
            h, item = r.history, r.item
            extra = {} if inf is None else {"influence": inf, "citable": cite}
            parsed = self.parse(h, item, answer, cite)
            if parsed is None:
                raw, cited, genres, reason, problems = "", [], [], "", ("unusable answer",)
            else:
                cited, genres, reason = parsed
                raw = render_explanation(self.catalog, item, cited, genres, reason)
                problems = check_problems(check_explanation(raw, item, h.items.tolist(), self.catalog,
                                                            self.extractor))
            if problems and self.config.verify:
                text, fact_cited, fact_genres = fact_sentence(self.catalog, item, h,
                                                              None if inf is None else cite)
                out.append(Explanation(h.user, item, text, fact_cited, fact_genres, "", tuple(cited), raw,
                                       answer, tuple(problems), True, per, extra))
            else:
                out.append(Explanation(h.user, item, raw, tuple(cited), tuple(genres), reason, tuple(cited),
                                       raw, answer, tuple(problems), False, per, extra))
        return out

    def seed_of(self, user: int, item: int) -> int:
        """The sampling seed of one explanation (per user and item), for backends that take request seeds."""
        return int(np.random.SeedSequence([self.config.seed, int(user), int(item)]).generate_state(1)[0])

    def _generate(self, prompts: list[str], schemas: list[dict], seeds: list[int]) -> list[str]:
        return self.ranker.backend.generate(prompts, self.config.max_tokens, adapter=self.ranker.adapter,
                                            json_schema=schemas, temperature=self.config.temperature,
                                            seeds=seeds)

    def explain(self, ranked: ItemList, k: int = 1, request: Request | None = None) -> ItemList:
        """``ranked`` with ``meta["explanations"]``: one :class:`Explanation` for each of its top ``k`` items.

        Each continues the very prompt that ranked them (and reuses its cache): the request the ranker put in
        ``ranked.meta["request"]`` (its candidates in prompt order), or ``request`` when given."""
        request = request if request is not None else ranked.meta.get("request")
        if request is None or request.candidates is None:
            raise ValueError("explain needs the ranked list's request "
                             "(LLMRanker.rank puts it in meta['request'])")
        top = [int(i) for i in ranked.items[:k] if int(i) in request.candidates]
        explanations = self.explain_many([request.about(i) for i in top])
        return ItemList(ranked.items, ranked.scores, {**ranked.meta, "explanations": explanations})

"""Grounded explanations of recommendations, written by the ranking LLM.

For a recommended item the :class:`Explainer` continues the ranking conversation — the ranking prompt
(the user's history and the K candidates), the assistant's answer (the item's label, or with marks its title),
then ``prompts/explain.jinja`` asking why — so an engine with prefix caching reuses the ranking prompt.

**Evidence.**  An explanation may cite only history items that are evidence for the item: shown in the
ranking prompt, rated at least ``min_rating`` (when the data has ratings: a film the user disliked is no
reason), and sharing a genre with the item — so the sentence can say what they share.  With
``cite="influential"`` (the default) each of those is removed from the ranking prompt in turn and the item's
LLM evidence rescored (one batched call; with the marks read-out the log-odds of the item's own mark, which
reads the prompt only up to the item): the ``cite_pool`` most influential make the citable list, those whose
removal lowers the score first.  ``cite="shown"`` skips the scoring and orders them by shared genres and
recency.  With no evidence the explanation cites nothing and says what the item is.  With
``evidence="graph"`` the evidence comes from the knowledge graph instead (:mod:`llmrec.explain.graph_paths`):
every liked history item linked to the item through a shared genre node, wherever it is in the history,
ordered by the strength of the graph paths between them (shared genres, decade, release year, co-watching),
and the explanation prompt lists what each shares with the item ("shares Sci-Fi and the 1980s").

**The answer** is JSON constrained by a schema built per request (vLLM structured outputs): ``because`` names
one citable movie or two joined by "and", and ``reason`` is, per choice of ``because``, one of the
well-formed predicates :func:`llmrec.explain.phrases.predicates` lists for the item and those movies (the
genres they share, the decade when shared, the item's other genres, in several wordings) — so the LLM chooses
the evidence, the facts and the words, and a raw answer is a finished sentence making only true claims:
*Because you rated Alien 5/5: Aliens (1986) is also a sci-fi and horror film.*  ``reason="free"`` lets a
larger model write the predicate itself (lowercase words), checked afterwards.

Every sentence is checked against the catalog and the user's history (:func:`llmrec.explain.claims.
check_explanation`: titles, genres, years) and for whether it is worth reading (:mod:`llmrec.explain.quality`:
relevant evidence, no repeated phrase, finished, a reason of three words or more).  With ``verify`` on, an
explanation that fails any check — or an answer that is not valid JSON of the schema, which a backend without
constrained decoding can produce — is replaced by the fact sentence (:func:`fact_sentence`, built from the
same predicates) and flagged ``replaced``; the raw text stays in the record, so evaluations report both.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from llmrec.explain.check import check_problems
from llmrec.explain.evidence import evidence, fact_sentence, genre_overlap
from llmrec.explain.phrases import Phrase, predicates, render
from llmrec.history import History
from llmrec.items import ItemList
from llmrec.llm.backends import chat_prompt
from llmrec.prompts import load_prompt
from llmrec.request import Request

__all__ = ["Explainer", "ExplainerConfig", "Explanation"]


@dataclass(frozen=True)
class ExplainerConfig:
    prompt: str = "explain"  # template in prompts/
    max_cited: int = 2  # history items an explanation may cite (1 or 2)
    reason_chars: int = 80  # longest free-text reason (reason="free")
    max_tokens: int = 96  # answer budget (the JSON)
    verify: bool = True  # replace failing explanations by a verified fact sentence
    cite: Literal["influential", "shown"] = "influential"  # how citable evidence is ordered (module doc)
    cite_pool: int = 3  # at most this many citable history items
    min_rating: float = 4.0  # evidence: history items rated at least this, where the data has ratings
    reason: Literal["phrases", "free"] = "phrases"  # predicates from the facts, or the LLM's own words
    # 0: greedy; > 0: sampled within the schema (chosen on validation: eval.sampling)
    temperature: float = 0.5
    # request seeds per (seed, user, item) where the backend takes them (transformers; vLLM on CUDA)
    seed: int = 0
    # "genres": shown history items sharing a genre; "graph": knowledge-graph paths (module doc)
    evidence: Literal["genres", "graph"] = "genres"

    def __post_init__(self):
        if self.evidence not in ("genres", "graph"):
            raise ValueError(f"ExplainerConfig.evidence must be 'genres' or 'graph', got {self.evidence!r}")
        if self.reason not in ("phrases", "free"):
            raise ValueError(f"ExplainerConfig.reason must be 'phrases' or 'free', got {self.reason!r}")
        if self.cite not in ("influential", "shown"):
            raise ValueError(f"ExplainerConfig.cite must be 'influential' or 'shown', got {self.cite!r}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"ExplainerConfig.temperature must be in [0, 2], got {self.temperature}")
        if self.cite_pool < 1 or self.max_cited not in (1, 2):
            raise ValueError(f"ExplainerConfig needs cite_pool >= 1 and max_cited 1 or 2, got "
                             f"{self.cite_pool} and {self.max_cited}")


@dataclass(frozen=True)
class Explanation:
    """One recommendation's explanation: the text shown and the structured facts it cites."""

    user: int
    item: int
    text: str  # what is shown: the LLM's sentence, or the fact sentence when ``replaced``
    cited_items: tuple[int, ...]  # history items the text cites
    genres: tuple[str, ...]  # genres of the item the text names
    reason: str = ""  # the predicate ending the sentence shown
    raw_cited_items: tuple[int, ...] = ()  # history items the LLM's own answer cited
    raw_text: str = ""  # the LLM's sentence before verification ("" when its answer was unusable)
    raw_answer: str = ""  # the LLM's JSON answer
    problems: tuple[str, ...] = ()  # checks the raw text failed
    replaced: bool = False
    seconds: float = 0.0  # generation time (amortised over the batch)
    extra: dict = field(default_factory=dict)
    raw_reason: str = ""  # the predicate the LLM chose or wrote

    def to_dict(self) -> dict:
        return asdict(self)


class Explainer:
    """Explanations for a fitted :class:`~llmrec.llm.ranker.LLMRanker`'s recommendations, through its backend
    (and its adapter, when it has one)."""

    def __init__(self, ranker, config: ExplainerConfig | None = None, graph=None):
        """``graph``: the :class:`~retrieval.graph.KnowledgeGraph` of ``evidence="graph"`` (default: the
        ranker's recall's, else one built from the ranker's fit data on first use)."""
        from llmrec.explain.claims import ClaimExtractor

        self.ranker, self.config = ranker, config or ExplainerConfig()
        self._graph, self._built = graph, None
        self.catalog = ranker.catalog
        self.prompt = load_prompt(self.config.prompt)
        self.extractor = ClaimExtractor(self.catalog)

    # -- evidence ----------------------------------------------------------------------------------------
    def shown_items(self, history: History) -> list[int]:
        """History items shown in the ranking prompt, newest first, one per title."""
        seen, out = set(), []
        for i in reversed(self.ranker.shown_history(history).items.tolist()):
            title = self.catalog.short_title(int(i))
            if title not in seen:
                seen.add(title)
                out.append(int(i))
        return out

    @property
    def graph(self):
        """The knowledge graph graph-path evidence reads (``__init__``), of the data the ranker is fitted on
        now."""
        if self._graph is not None:
            return self._graph
        recall = getattr(self.ranker.retriever, "knowledge_graph", None)
        if recall is not None:
            return recall
        data = getattr(self.ranker, "fit_data", None)
        if data is None:
            raise ValueError("graph evidence needs a fitted ranker (its fit data builds the graph)")
        if self._built is None or self._built[0] is not data:  # the registered graph recommender builds it
            from llmrec.recommenders import create_recommender

            self._built = (data, create_recommender("graph").fit(data).knowledge_graph)
        return self._built[1]

    def evidence(self, history: History, item: int) -> list[int]:
        """The history items that are evidence for ``item``: the shown ones (:func:`evidence`), newest first,
        or with ``evidence="graph"`` the graph's (:func:`~llmrec.explain.graph_paths.graph_evidence`),
        strongest paths first."""
        if self.config.evidence == "graph":
            from llmrec.explain.graph_paths import graph_evidence

            return graph_evidence(self.graph, self.catalog, item, history, self.config.min_rating)
        return evidence(self.catalog, item, history, self.shown_items(history), self.config.min_rating)

    def influence(self, requests: list[Request]) -> list[dict[int, float]]:
        """Per request (about one item, candidates in prompt order): each evidence item's influence on the
        item's LLM evidence (:meth:`~llmrec.llm.ranker.LLMRanker.item_scores_many`) — how much it drops when
        that one item is removed from the ranking prompt — from one batched scoring call."""
        prompts: dict[tuple, Request] = {}
        spans = []
        for r in requests:
            item, candidates = r.need_item(), r.need_candidates()
            shown = self.ranker.shown_history(r.history)
            # only a shown item's removal changes the prompt (graph evidence may lie further back)
            on_show = set(shown.items.tolist())
            ids = [i for i in self.evidence(r.history, item) if i in on_show]
            key = (r.user, len(r.history), tuple(candidates.tolist()), item)
            spans.append((key, ids))
            if ids:
                prompts.setdefault(key + (None,), r.with_history(shown))
            for i in ids:
                prompts.setdefault(key + (i,), r.with_history(shown.without([i])))
        scores = dict(zip(prompts, self.ranker.item_scores_many(list(prompts.values())))) if prompts else {}
        return [{i: float(scores[key + (None,)] - scores[key + (i,)]) for i in ids} for key, ids in spans]

    def citable(self, history: History, item: int, influence: dict[int, float] | None = None) -> list[int]:
        """The (at most ``cite_pool``) evidence items an answer may cite: given their influence, those whose
        removal lowers the item's score first, most influential first; otherwise those sharing the most
        genres, newest first among ties."""
        found = self.evidence(history, item)
        if influence is not None:
            found.sort(key=lambda i: (influence.get(i, 0.0) <= 0, -influence.get(i, 0.0)))
        elif self.config.evidence != "graph":  # graph evidence comes ordered by its paths
            found.sort(key=lambda i: -genre_overlap(self.catalog, item, i))
        return found[: self.config.cite_pool]

    def options(self, item: int, citable: list[int]) -> dict[str, tuple[tuple[int, ...], list[Phrase]]]:
        """What an answer may say: for each value of ``because`` (a citable title, or two joined by "and";
        ``""`` without evidence) the cited items and the predicates true of them."""
        title = self.catalog.short_title
        choices = [(i,) for i in citable]
        if self.config.max_cited > 1:
            choices += [(a, b) for n, a in enumerate(citable) for b in citable[n + 1:]]
        out: dict[str, tuple[tuple[int, ...], list[Phrase]]] = {}
        for cited in choices:
            phrases = predicates(self.catalog, item, cited)
            if phrases:
                out.setdefault(" and ".join(title(i) for i in cited), (cited, phrases))
        return out or {"": ((), predicates(self.catalog, item))}

    # -- the request ---------------------------------------------------------------------------------------
    def schema(self, item: int, citable: list[int]) -> dict:
        """The JSON schema of an answer for ``item`` citing from ``citable``: one branch per value of
        ``because``, each with its own predicates (or, with ``reason="free"``, lowercase words)."""
        branches = []
        for because, (_, phrases) in self.options(item, citable).items():
            reason = ({"type": "string", "enum": list(map(str, phrases))} if self.config.reason == "phrases"
                      else {"type": "string", "pattern": f"^[a-z][a-z ,'-]{{2,{self.config.reason_chars}}}$"})
            props = {"because": {"const": because}, "reason": reason} if because else {"reason": reason}
            branches.append({"type": "object", "properties": props, "required": list(props),
                             "additionalProperties": False})
        return branches[0] if len(branches) == 1 else {"anyOf": branches}

    def facts(self, item: int, history: History | None = None) -> str:
        """``Title (1995; Crime, Drama)``: an item's catalog facts as the explanation request lists them, with
        the user's rating (``, rated 5/5``) for a history item."""
        genres = ", ".join(self.catalog.genres(item)) or "no genres listed"
        text = f"{self.catalog.short_title(item)} ({self.catalog.year(item) or 'year unknown'}; {genres})"
        if history is not None:
            where = np.flatnonzero(history.items == item)
            rating = float(history.ratings[where[-1]]) if len(where) else float("nan")
            text += f", rated {rating:g}/5" if np.isfinite(rating) and rating > 0 else ""
        return text

    def _source(self, item: int, cited: int, history: History) -> str:
        """A citable movie as the explanation prompt lists it: its facts, and with graph evidence what it
        shares with the item ("; shares Sci-Fi and the 1980s")."""
        text = self.facts(cited, history)
        if self.config.evidence == "graph":
            from llmrec.explain.graph_paths import path_phrase

            shared = path_phrase(self.graph, item, cited)
            text += f"; {shared}" if shared else ""
        return text

    def prompt_text(self, request: Request, citable: list[int]) -> str:
        """The ranking conversation for the request's candidates, answered with its item (the item's label,
        or with marks its title), then the question listing the ``citable`` movies with their facts."""
        item, candidates = request.need_item(), request.need_candidates()
        answer = self.ranker.answer_text(item, candidates)
        messages = (self.ranker.messages(request.history, candidates, text=request.text)
                    + [{"role": "assistant", "content": answer}])
        messages += self.prompt.messages(item=self.facts(item), title=self.catalog.short_title(item),
                                         cite="listed" if citable else "none",
                                         sources=[self._source(item, i, request.history) for i in citable])
        return chat_prompt(self.ranker.backend.tokenizer, messages)

    # -- answers -----------------------------------------------------------------------------------------
    def parse(self, item: int, answer: str, citable: list[int]
              ) -> tuple[tuple[int, ...], tuple[str, ...], str] | None:
        """(cited items, genres named, reason) of a JSON answer, or None when it is not a valid answer of the
        schema (citing anything but the citable movies included)."""
        try:
            data = json.loads(answer)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or set(data) - {"because", "reason"}:
            return None
        because, reason = data.get("because", ""), data.get("reason")
        options = self.options(item, citable)
        if not isinstance(because, str) or not isinstance(reason, str) or because not in options:
            return None
        cited, phrases = options[because]
        if self.config.reason == "phrases":
            match = next((p for p in phrases if p == reason), None)
            return None if match is None else (cited, match.genres, str(match))
        if not re.fullmatch(rf"[a-z][a-z ,'-]{{2,{self.config.reason_chars}}}", reason.strip()):
            return None
        return cited, (), reason.strip()

    def explain_many(self, requests: list[Request],
                     influence: list[dict[int, float]] | None = None) -> list[Explanation]:
        """Explanations of each request's item against its candidates in prompt order, all in one backend call
        (``influence``: the requests' :meth:`influence`, when already computed)."""
        if not requests:
            return []
        t0 = time.perf_counter()
        if self.config.cite != "influential":
            influence = [None] * len(requests)
        elif influence is None:
            influence = self.influence(requests)
        citable = [self.citable(r.history, r.need_item(), inf) for r, inf in zip(requests, influence)]
        prompts = [self.prompt_text(r, cite) for r, cite in zip(requests, citable)]
        schemas = [self.schema(r.need_item(), c) for r, c in zip(requests, citable)]
        answers = self._generate(prompts, schemas, [self.seed_of(r.user, r.item) for r in requests])
        per = (time.perf_counter() - t0) / len(requests)
        return [self._explanation(r, answer, cite, inf, per)
                for r, answer, cite, inf in zip(requests, answers, citable, influence)]

    def _explanation(self, request: Request, answer: str, citable: list[int], influence: dict | None,
                     seconds: float) -> Explanation:
        """The checked explanation of one answer (the fact sentence when it fails and ``verify`` is on)."""
        from llmrec.explain.check import check_explanation

        h, item = request.history, request.need_item()
        extra = {"citable": citable} | ({} if influence is None else {"influence": influence})
        parsed = self.parse(item, answer, citable)
        if parsed is None:
            raw, cited, genres, reason, problems = "", (), (), "", ("unusable answer",)
        else:
            cited, genres, reason = parsed
            raw = render(self.catalog, item, cited, reason, h)
            problems = check_problems(check_explanation(raw, item, h.items.tolist(), self.catalog,
                                                        self.extractor, reason=reason, influence=influence))
        if problems and self.config.verify:
            text, fact_cited, fact_genres, fact_reason = fact_sentence(self.catalog, item, h, citable or [],
                                                                       self.config.min_rating)
            return Explanation(h.user, item, text, fact_cited, fact_genres, fact_reason, cited, raw, answer,
                               problems, True, seconds, extra, reason)
        return Explanation(h.user, item, raw, cited, genres, reason, cited, raw, answer, problems, False,
                           seconds, extra, reason)

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

"""Instruction examples for LoRA fine-tuning of the ranker, built from training interactions only.

Each example takes one *training target* — an interaction of a user's fit history — and asks the ranker's
own prompt (``prompts/rank.jinja`` through :meth:`LLMRanker.prompt_text`, the shared history renderer and
the model's chat template) to pick it among K candidates given the history before it:

* ``retriever`` candidates: the retriever's top K for that earlier history, used only when they hold the
  target (as LlamaRec does): a target put in by hand would be the one candidate the retriever did not
  propose, a cue the model learns (it then ranks the retriever's least likely candidate first) and serving
  never has;
* ``random`` candidates: the target and K-1 random items absent from the user's fit history;
* ``mixed`` (default): half of each (an example whose target the retriever misses takes random candidates).

The candidates are shuffled (seeded), so the answer's position carries no signal — or, with
``retriever_order``, retriever candidates keep the retriever's order, as the ranker is served (the position
then carries the retriever's belief, which the model may learn to use and to overrule) — and the answer is the
target's index (its label; with ``scoring="marks"`` the prompt is also kept as token ids with the K mark
positions, and the answer is the mark to make most likely).  Targets are drawn from the fit data of the
*validation* split, which holds neither any user's validation item nor their test item: no example ever has
a held-out item as its answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from llmrec.history import History, histories
from llmrec.llm.ranker import LLMRanker
from llmrec.request import Request
from llmrec.split import HoldoutSplit

__all__ = ["Example", "ExampleConfig", "build_examples", "build_explanation_examples", "citable_by_genre",
           "explanation_answer", "prefix"]

Negatives = Literal["retriever", "random", "mixed"]


@dataclass(frozen=True)
class ExampleConfig:
    per_user: int = 10  # training targets per user: the most recent interactions of the fit history
    min_history: int = 3  # targets need at least this many earlier interactions
    negatives: Negatives = "mixed"
    max_examples: int | None = None  # keep this many (a seeded sample) when set
    retriever_order: bool = False  # retriever candidates in the retriever's order (as served), not shuffled
    seed: int = 0


@dataclass(frozen=True)
class Example:
    user: int
    target: int  # item id of the answer
    position: int  # index of the target in the user's fit history
    candidates: np.ndarray  # item ids in prompt order
    answer: int  # index of the target among the candidates (its label is LABELS[answer])
    source: str  # "retriever" or "random"
    prompt: str  # the chat-templated ranking prompt, ending where the answer begins
    input_ids: list[int] | None = None  # scoring="marks": the prompt as token ids (LLMRanker.encode) ...
    positions: list[int] | None = None  # ... and the candidates' mark positions in them

    def row(self) -> dict:
        """The training row (:func:`finetune.trainer.collate_examples`)."""
        if self.input_ids is not None:
            return {"input_ids": self.input_ids, "positions": self.positions, "answer": self.answer}
        return {"prompt": self.prompt, "answer": self.answer}


def prefix(history: History, n: int) -> History:
    """The user's first ``n`` interactions."""
    return History(history.user, history.items[:n], history.ratings[:n], history.timestamps[:n])


def build_examples(ranker: LLMRanker, split: HoldoutSplit, cfg: ExampleConfig, *,
                   progress: bool = False, chunk: int = 128) -> list[Example]:
    """Examples from ``split.train`` (use the validation split: its fit data holds no held-out item).

    ``ranker`` must be fitted on ``split.train`` (its retriever proposes the candidates and its prompt writes
    the text).  Jobs are taken ``chunk`` at a time, whose retriever queries are encoded in one batch.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(cfg.seed)
    k = ranker.config.candidates
    all_items = ranker.catalog.item_ids
    jobs = []
    for h in histories(split.train.interactions).values():
        first = max(cfg.min_history, len(h) - cfg.per_user)
        jobs += [(h, pos) for pos in range(first, len(h))]
    order = rng.permutation(len(jobs))  # a seeded sample: jobs are taken in this order until there are enough
    want = cfg.max_examples if cfg.max_examples is not None else len(jobs)
    quota = ({"retriever": want // 2, "random": want - want // 2} if cfg.negatives == "mixed"
             else {cfg.negatives: want})
    out: list[Example] = []
    bar = tqdm(total=want, desc="training examples", disable=not progress, unit="ex")
    for start in range(0, len(order), chunk):
        if not any(quota.values()):
            break
        taken = [(h, pos, prefix(h, pos)) for h, pos in (jobs[int(j)] for j in order[start:start + chunk])]
        if quota.get("retriever"):  # the retriever's queries, encoded in batches
            ranker.retriever.prepare([before for _, _, before in taken])
        for h, pos, before in taken:
            if not any(quota.values()):
                break
            target, source = int(h.items[pos]), None
            if quota.get("retriever"):
                cands = ranker.retriever.candidates(before, k=k).items.astype(np.int64)
                if target in cands:  # put in by hand it would be the odd one out: a cue that serving lacks
                    source = "retriever"
            if source is None and quota.get("random"):
                source = "random"
                pool = all_items[~np.isin(all_items, h.items)]  # none of the user's fit items
                cands = np.r_[rng.choice(pool, min(k - 1, len(pool)), replace=False), target]
            if source is None:
                continue
            quota[source] -= 1
            if not (source == "retriever" and cfg.retriever_order):
                cands = rng.permutation(cands)
            answer = int(np.flatnonzero(cands == target)[0])
            ids, positions = (ranker.encode(before, cands) if ranker.config.scoring == "marks"
                              else (None, None))
            out.append(Example(h.user, target, pos, cands, answer, source, ranker.prompt_text(before, cands),
                               ids, positions))
            bar.update(1)
    bar.close()
    out.sort(key=lambda e: (e.user, e.position))
    return out


def explanation_answer(catalog, citable: list[int], target: int, pick: int = 0, max_cited: int = 2) -> dict:
    """The answer a verified, fact-built explanation of ``target`` gives, as the explainer's schema allows it:
    ``because`` the (at most ``max_cited``) ``citable`` history items sharing the most genres with it,
    earliest in ``citable`` first among ties, when they share one together; ``reason`` one of the
    predicates true of them (:func:`llmrec.explain.phrases.predicates`), chosen by the seed ``pick``,
    among those naming the most shared genres, so an adapter learns to state what is shared, in varied
    words; no ``because`` without citable items."""
    from llmrec.explain.phrases import predicates

    rng = np.random.default_rng(pick)
    genres = set(catalog.genres(target))
    ranked = sorted((i for i in citable if i != target), key=lambda i: -len(genres & set(catalog.genres(i))))
    cited = tuple(ranked[:max_cited])
    while cited and not predicates(catalog, target, cited):
        cited = cited[:-1]
    phrases = predicates(catalog, target, cited)
    if not phrases:
        return {"reason": "in the catalog"}
    widest = max(len(p.genres) for p in phrases)
    best = [p for p in phrases if len(p.genres) == widest]
    reason = str(best[int(rng.integers(len(best)))])
    answer = {"because": " and ".join(catalog.short_title(i) for i in cited)} if cited else {}
    return answer | {"reason": reason}


def citable_by_genre(catalog, shown: list[int], target: int, pool: int = 3) -> list[int]:
    """The training stand-in for influential citations: the ``pool`` shown items sharing the most genres with
    ``target`` (and at least one), most recent first among ties (``shown`` is newest first)."""
    genres = set(catalog.genres(target))
    scored = [(len(genres & set(catalog.genres(i))), -n, i) for n, i in enumerate(shown) if i != target]
    return [i for k, _, i in sorted(scored, reverse=True)[:pool] if k > 0]


def build_explanation_examples(ranker, split: HoldoutSplit, examples: list[Example], n: int, seed: int = 0
                               ) -> list[dict[str, str]]:
    """``n`` explanation targets (a seeded sample of ``examples``): the explanation request continuing the
    example's ranking prompt, answered with :func:`explanation_answer` as JSON — the same request and format
    the :class:`~llmrec.explain.Explainer` uses, so one adapter learns both answers.  Each row names the index
    of the example it continues (``"example"``; see :func:`finetune.trainer.merge_prompts`)."""
    import json

    from llmrec.explain.explainer import Explainer

    if n <= 0 or not examples:
        return []
    explainer = Explainer(ranker)
    hs = histories(split.train.interactions)
    rng = np.random.default_rng([seed, 1])
    rows = []
    for k in rng.choice(len(examples), min(n, len(examples)), replace=False):
        e = examples[int(k)]
        before = prefix(hs[e.user], e.position)
        citable = citable_by_genre(ranker.catalog, explainer.evidence(before, e.target), e.target,
                                   explainer.config.cite_pool)
        answer = explanation_answer(ranker.catalog, citable, e.target, pick=int(k),
                                    max_cited=explainer.config.max_cited)
        rows.append({"prompt": explainer.prompt_text(Request(before, e.candidates, e.target), citable),
                     "completion": json.dumps(answer), "example": int(k)})
    return rows

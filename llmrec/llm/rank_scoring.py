"""How the LLM ranker reads scores off the model: the label and mark token ids, one pass over K candidates
(letters or marks, averaged over the P candidate orders and renormalised), and one item's own evidence.

:class:`RankScoring` is a base class of :class:`~llmrec.llm.ranker.LLMRanker` (as
:class:`~llmrec.llm.rank_backend.RankBackend` and :class:`~llmrec.llm.rank_prompts.RankPrompts` are); it
reads the ranker's ``config``, ``backend``, ``adapter``, ``labels`` and its prompts (``orders``,
``prompt_text``, ``encode``), keeps the token ids in ``_label_ids`` and ``_marks`` and the per-user scoring
seconds in ``_llm_seconds``.  A malformed answer raises :class:`~llmrec.errors.LLMUnavailable`.
"""

from __future__ import annotations

import time

import numpy as np

from llmrec.errors import LLMUnavailable
from llmrec.history import History
from llmrec.llm.backends import label_token_ids
from llmrec.llm.rank_config import MARK, NOT_MARK
from llmrec.request import Request

__all__ = ["RankScoring"]


def _position(candidates: np.ndarray, item: int) -> int:
    where = np.flatnonzero(np.asarray(candidates) == item)
    if len(where) == 0:
        raise ValueError(f"item {item} is not among the candidates")
    return int(where[0])


class RankScoring:
    """The candidates' LLM scores of requests (see the module)."""

    _label_ids: list[int] | None
    _marks: tuple[int | None, int | None] | None
    _llm_seconds: list[float]

    @property
    def label_ids(self) -> list[int]:
        """The candidate labels' token ids (from the backend's tokenizer: waits for a background start)."""
        if self._label_ids is None:
            self._label_ids = label_token_ids(self.backend.tokenizer, self.labels)
        return self._label_ids

    @property
    def mark_id(self) -> int | None:
        """``scoring="marks"``: the mark's token id (None with letters)."""
        return self._mark_ids()[0]

    @property
    def not_mark_id(self) -> int | None:
        """``scoring="marks"``: the id of the token a mark is scored against (None with letters)."""
        return self._mark_ids()[1]

    def _read_tokens(self) -> None:
        """Read the label and mark token ids (each must be one token), starting the backend if need be."""
        self._label_ids = label_token_ids(self.backend.tokenizer, self.labels)
        self._mark_ids()

    def _mark_ids(self) -> tuple[int | None, int | None]:
        if self.config.scoring != "marks":
            return None, None
        if self._marks is None:
            mark, not_mark = label_token_ids(self.backend.tokenizer, [MARK, NOT_MARK])
            self._marks = (mark, not_mark)
        return self._marks

    def llm_scores(self, request: Request) -> np.ndarray:
        """Mean over the P orders of each candidate's label log-probability (renormalised over the labels)."""
        return self.llm_scores_many([request])[0]

    def llm_scores_many(self, requests: list[Request]) -> list[np.ndarray]:
        """All requests' prompts (P each) in one backend call; each request's candidate scores."""
        t0 = time.perf_counter()
        k = len(requests[0].need_candidates())
        if any(len(r.need_candidates()) != k for r in requests):  # label sets differ: one call per count
            out = []
            for r in requests:
                out += self.llm_scores_many([r])
            return out
        per_user = [[(r.history, order, r.text) for order in self.orders(r.candidates)] for r in requests]
        flat = [p for prompts in per_user for p in prompts]
        lp = self._logprobs(flat, k) if flat else np.zeros((0, k))
        if lp.shape != (len(flat), k) or not np.isfinite(lp).any(axis=1).all():
            raise LLMUnavailable(f"the LLM returned no usable label log-probabilities (shape {lp.shape}, "
                                 f"expected {(len(flat), k)})", cause="malformed response")
        lp = lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)
        out, row = [], 0
        for r, prompts in zip(requests, per_user):
            total = np.zeros(k)
            pos = {int(item): j for j, item in enumerate(r.candidates)}
            for _, order, _ in prompts:
                for label_pos, item in enumerate(order):
                    total[pos[int(item)]] += lp[row, label_pos]
                row += 1
            out.append(total / len(prompts))
        per = (time.perf_counter() - t0) / max(1, len(requests))
        self._llm_seconds += [per] * len(requests)
        return out

    def item_scores_many(self, requests: list[Request]) -> np.ndarray:
        """Per request (about one of its candidates): the LLM's evidence for that item alone, averaged over
        the P orders.

        With marks, the log-odds of the item's own mark, read from the prompt up to it: one request instead of
        K, and the candidates after it cannot change it (the model reads left to right).  Not normalised over
        the K candidates, so differences between prompts that differ in the history measure how much the
        history supports this item.  With letters, one pass reads every label anyway: the item's
        :meth:`llm_scores_many` score."""
        if not requests:
            return np.zeros(0)
        if self.config.scoring == "letters":  # the items of one list share their prompt
            keys = [r.about(None).key() for r in requests]
            unique = {key: r.about(None) for key, r in zip(keys, requests)}
            scores = dict(zip(unique, self.llm_scores_many(list(unique.values()))))
            return np.array([scores[key][_position(r.candidates, r.need_item())]
                             for key, r in zip(keys, requests)])
        prompts, positions, owners = [], [], []
        for n, r in enumerate(requests):
            item = r.need_item()
            for order in self.orders(r.need_candidates()):
                ids, marks = self.encode(r.history, order, r.text)
                at = marks[_position(order, item)]
                prompts.append(ids[: at + 1])
                positions.append([at])
                owners.append(n)
        rows = self.backend.token_logprobs(prompts, positions, adapter=self.adapter, against=self.not_mark_id)
        if len(rows) != len(prompts) or any(len(r) != 1 or not np.isfinite(r[0]) for r in rows):
            raise LLMUnavailable(f"the LLM returned no usable mark log-odds ({len(rows)} rows for "
                                 f"{len(prompts)} prompts)", cause="malformed response")
        total = np.zeros(len(requests))
        np.add.at(total, owners, [float(r[0]) for r in rows])
        return total / np.bincount(owners, minlength=len(requests))

    def _logprobs(self, prompts: list[tuple[History, np.ndarray, str | None]], k: int) -> np.ndarray:
        """(len(prompts), k) log-probabilities of the k candidates' labels (letters) or marks, in prompt
        order; each prompt is (history, candidate order, request text or None)."""
        if self.config.scoring == "letters":
            texts = [self.prompt_text(h, order, text=t) for h, order, t in prompts]
            return self.backend.label_logprobs(texts, self.label_ids[:k], adapter=self.adapter)
        encoded = [self.encode(h, order, t) for h, order, t in prompts]
        rows = self.backend.token_logprobs([ids for ids, _ in encoded], [pos for _, pos in encoded],
                                           adapter=self.adapter, against=self.not_mark_id)
        if len(rows) != len(prompts) or any(len(r) != k for r in rows):
            raise LLMUnavailable(f"the LLM returned mark log-probabilities of the wrong shape "
                                 f"({len(rows)} rows, expected {len(prompts)} of {k})",
                                 cause="malformed response")
        return np.array([np.asarray(r, dtype=np.float64) for r in rows]).reshape(len(prompts), k)

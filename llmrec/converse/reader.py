"""The LLM's part of request understanding: loose language ("something my six-year-old can watch", "a
tearjerker") read as one of the fixed intents (:data:`~llmrec.converse.lexicon.INTENTS`).

Each clause the deterministic parser left over is one prompt (``prompts/parse_intent.jinja``, the clause
JSON-quoted as data) scored in one forward pass by the next-token log-probabilities of the letters A..I
(single-token label scoring, the same read-out the ranker uses; the letters are checked to be single tokens
when the reader starts).  Letter A is "nothing about the kind of movie"; an intent is taken only when its
probability beats A's by ``margin`` (log-odds), so noise ("tonight", "with my girlfriend") is left as soft
text.  The intent's constraints come from the fixed table, never from the model's words, so the model can
only choose among true readings; a negation cue in the clause flips it ("nothing too sad").
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import numpy as np

from llmrec.converse.lexicon import INTENTS
from llmrec.llm.base import AdapterRef, chat_prompt, label_token_ids
from llmrec.prompts import load_prompt

__all__ = ["INTENT_ORDER", "IntentReader", "ReaderConfig"]

log = logging.getLogger(__name__)

#: The intents in the prompt's letter order (A is "none").
INTENT_ORDER = ("none", "kids", "adults", "light", "scary", "funny", "romantic", "exciting", "sad")
_LETTERS = "ABCDEFGHI"
assert set(INTENT_ORDER[1:]) == set(INTENTS)


@dataclass(frozen=True)
class ReaderConfig:
    prompt: str = "parse_intent"  # template in prompts/
    margin: float = 0.0  # log-odds an intent must beat "none" by
    adapter: str | None = None  # the parser adapter's name in the backend (None: the base model)


class IntentReader:
    """Reads loose clauses through an LLM backend (any :class:`~llmrec.llm.base.LLMBackend`)."""

    def __init__(self, backend, config: ReaderConfig | None = None) -> None:
        self.backend = backend
        self.config = config or ReaderConfig()
        self.prompt = load_prompt(self.config.prompt)
        self.label_ids = label_token_ids(backend.tokenizer, list(_LETTERS))  # checked at start-up

    def prompt_text(self, clause: str) -> str:
        messages = self.prompt.messages(clause=json.dumps(clause, ensure_ascii=False))
        return chat_prompt(self.backend.tokenizer, messages)

    def scores(self, clauses: list[str]) -> np.ndarray:
        """(len(clauses), 9) log-probabilities of the letters, renormalised over them."""
        if not clauses:
            return np.zeros((0, len(_LETTERS)))
        adapter: AdapterRef = self.config.adapter
        prompts = [self.prompt_text(c) for c in clauses]
        lp = self.backend.label_logprobs(prompts, self.label_ids, adapter=adapter)
        return lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)

    def read(self, clauses: list[str]) -> list[str | None]:
        """The intent of each clause, or None."""
        out: list[str | None] = []
        for row in self.scores(clauses):
            best = int(np.argmax(row[1:])) + 1
            out.append(INTENT_ORDER[best] if row[best] - row[0] > self.config.margin else None)
        return out

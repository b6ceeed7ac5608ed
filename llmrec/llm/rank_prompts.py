"""How the LLM ranker writes its prompts: the candidate orders, the chat messages, the token ids and marks.

:class:`RankPrompts` is a part of :class:`~llmrec.llm.ranker.LLMRanker` (its base class), kept apart because
the explainer and the fine-tuning data write the same prompts through it.  It reads what the ranker sets up:
``config``, ``backend`` (its tokenizer), ``labels``, ``prompt`` and ``request_prompt``, ``history_format``,
``mark_id`` and the fitted ``_catalog`` and ``_users``.
"""

from __future__ import annotations

import json

import numpy as np

from llmrec.errors import ConfigError
from llmrec.history import History, render_history, render_profile
from llmrec.llm.backends import chat_prompt
from llmrec.llm.rank_config import MARK
from llmrec.prompts import Prompt

__all__ = ["RankPrompts"]

_SLOT = "\x00"  # stands for a mark while the prompt is rendered, then is replaced by the mark's token id


class RankPrompts:
    """The ranking prompt of a history and a candidate order (see the module)."""

    def orders(self, candidates: np.ndarray) -> list[np.ndarray]:
        """The P cyclic shifts of ``candidates`` that are scored and averaged."""
        p_count = self.config.permutations
        return [np.roll(candidates, -((p * len(candidates)) // p_count)) for p in range(p_count)]

    def prompts(self, history: History, candidates: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """(rendered prompt, candidate order) for each of the P cyclic shifts of ``candidates``."""
        return [(self.prompt_text(history, order), order) for order in self.orders(candidates)]

    def prompt_text(self, history: History, candidates: np.ndarray, prompt: Prompt | None = None, *,
                    mark: str = MARK, text: str | None = None) -> str:
        """``prompt`` (default: the ranking prompt, or with ``text`` the request-aware one) for this history
        and candidate order, chat-templated."""
        return chat_prompt(self.backend.tokenizer, self.messages(history, candidates, prompt, mark=mark,
                                                                 text=text))

    def encode(self, history: History, candidates: np.ndarray, text: str | None = None
               ) -> tuple[list[int], list[int]]:
        """``scoring="marks"``: the chat-templated ranking prompt as token ids, and the position of each
        candidate's mark token in them (the text between marks is tokenized piecewise, so every mark is
        exactly one token wherever it stands)."""
        pieces = self.prompt_text(history, candidates, mark=_SLOT, text=text).split(_SLOT)
        if len(pieces) != len(candidates) + 1:
            raise ConfigError(f"prompt {self.prompt.version} must write {{{{ mark }}}} once per candidate "
                              f"for scoring='marks' (found {len(pieces) - 1} for {len(candidates)} "
                              "candidates)")
        tokenizer = self.backend.tokenizer
        ids: list[int] = []
        positions: list[int] = []
        for n, piece in enumerate(pieces):
            ids += tokenizer.encode(piece, add_special_tokens=False)
            if n < len(candidates):
                positions.append(len(ids))
                ids.append(self.mark_id)
        return ids, positions

    def messages(self, history: History, candidates: np.ndarray, prompt: Prompt | None = None, *,
                 mark: str = MARK, text: str | None = None) -> list[dict[str, str]]:
        """The chat messages of :meth:`prompt_text` (an explanation request continues this conversation).
        ``text``, the user's request, is quoted into the request-aware prompt as data (JSON-escaped, so it
        cannot close the quote or start a message of its own)."""
        cands = [{"label": label, "text": self._item_text(int(i))}
                 for label, i in zip(self.labels, candidates)]
        if prompt is None:
            prompt = self.request_prompt if text else self.prompt
        quoted = json.dumps(text or "", ensure_ascii=False)
        profile = render_profile(self._users, history.user) if self.config.profile else None
        return prompt.messages(history=render_history(history, self._catalog, self.history_format),
                               candidates=cands, mark=mark, request=quoted, profile=profile or "")

    def answer_text(self, item: int, candidates: np.ndarray) -> str:
        """The assistant's answer naming ``item`` after the ranking prompt (its label; with marks, its
        title)."""
        pos = np.flatnonzero(np.asarray(candidates) == item)
        if len(pos) == 0:
            raise ValueError(f"item {item} is not among the candidates")
        return (self.labels[int(pos[0])] if self.config.scoring == "letters"
                else self._catalog.short_title(item))

    def shown_history(self, history: History) -> History:
        """The part of ``history`` the ranking prompt shows (the most recent ``history_items``)."""
        return history.last(self.history_format.max_items)

    def _item_text(self, item: int) -> str:
        if self.config.details == "titles":
            return self._catalog.short_title(item)
        genres = self._catalog.genres(item)
        title = self._catalog.display_title(item)
        return f"{title} ({', '.join(genres)})" if genres else title

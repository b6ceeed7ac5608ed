"""A backend wrapper that scores each distinct prompt once.

Evaluations ask the same questions more than once: the fusion-weight grid ranks the same prompts under every
weight, and the explanation eval's deletion test scores the ranking prompt again beside its two ablations.
:class:`MemoBackend` remembers each prompt's label (or mark) log-probabilities and asks the wrapped
backend only for the ones it has not seen; generation passes straight through.  ``clear()`` bounds its
memory in long runs.
"""

from __future__ import annotations

import numpy as np

from llmrec.llm.backends import LLMBackend

__all__ = ["MemoBackend"]


class MemoBackend:
    """Wraps a backend and remembers each prompt's label (or mark) log-probabilities."""

    def __init__(self, inner: LLMBackend):
        self.inner, self.tokenizer = inner, inner.tokenizer
        self.config = getattr(inner, "config", None)
        # (prompt, token ids or positions, adapter) -> log-probabilities
        self.memo: dict[tuple, np.ndarray] = {}
        self.hits = 0  # prompts answered from the memo

    def label_logprobs(self, prompts: list[str], token_ids: list[int], *, adapter: str | None = None
                       ) -> np.ndarray:
        ids = tuple(token_ids)
        keys = [(p if isinstance(p, str) else tuple(p), ids, adapter) for p in prompts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.memo))
        self.hits += len(keys) - len(missing)
        if missing:
            rows = self.inner.label_logprobs([k[0] if isinstance(k[0], str) else list(k[0]) for k in missing],
                                             list(ids), adapter=adapter)
            self.memo.update(zip(missing, rows))
        return np.stack([self.memo[k] for k in keys]) if keys else np.zeros((0, len(ids)))

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *,
                       adapter: str | None = None, against: int | None = None) -> list[np.ndarray]:
        keys = [(tuple(p), tuple(j), adapter, against) for p, j in zip(prompts, positions)]
        missing = list(dict.fromkeys(k for k in keys if k not in self.memo))
        self.hits += len(keys) - len(missing)
        if missing:
            rows = self.inner.token_logprobs([list(k[0]) for k in missing], [list(k[1]) for k in missing],
                                             adapter=adapter, against=against)
            self.memo.update(zip(missing, rows))
        return [self.memo[k] for k in keys]

    def generate(self, prompts: list[str], max_tokens: int, **kwargs) -> list[str]:
        return self.inner.generate(prompts, max_tokens, **kwargs)

    def clear(self) -> None:
        """Forget every remembered prompt."""
        self.memo.clear()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

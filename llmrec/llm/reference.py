"""The reference LLM backend: plain transformers forward passes (left-padded batches of similar length).

Slower than vLLM, but every number it returns is a plain forward pass, so tests compare the fast path with it
(the same prompts through both, results compared) and training validates through it.  LoRA adapters are
applied with peft.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from llmrec.llm.adapters import AdapterSet
from llmrec.llm.base import (
    AdapterRef,
    check_positions,
    left_pad,
    per_prompt,
    position_logprobs,
    resolve_dtype,
)
from llmrec.llm.config import TransformersConfig
from llmrec.models import resolve_llm

__all__ = ["TransformersBackend"]


class TransformersBackend:
    """Plain transformers forward passes (left-padded batches); the reference implementation."""

    def __init__(self, config: TransformersConfig | None = None):
        config = config or TransformersConfig()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.model_path = resolve_llm(config.model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.model_path,
                                                     dtype=getattr(torch, resolve_dtype(config.dtype)))
        self.adapters = AdapterSet(config.adapters, self.model_path)
        if self.adapters:
            from peft import PeftModel

            first, *rest = self.adapters
            model = PeftModel.from_pretrained(model, first.path, adapter_name=first.name)
            for a in rest:
                model.load_adapter(a.path, adapter_name=a.name)
        self.model = model
        self.model.eval()

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = 8) -> TransformersBackend:
        """A backend around a model already in memory (e.g. the peft model being trained, for validation)."""
        self = cls.__new__(cls)
        self.config = TransformersConfig(batch_size=batch_size)
        self.model_path = getattr(getattr(model, "config", None), "name_or_path", None)
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model, self.adapters = model, AdapterSet(())
        return self

    def _adapter_context(self, adapter: AdapterRef):
        """The context applying ``adapter`` (or, on a peft model, disabling every adapter for None)."""
        if not len(self.adapters):
            if adapter is not None:
                self.adapters.index(adapter)  # raises: no adapters configured
            return contextlib.nullcontext()
        if adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.adapters.get(adapter).name)
        return contextlib.nullcontext()

    def _by_length(self, prompts: Sequence) -> Iterator[list[int]]:
        """The prompts' indices in batches of similar length (shortest first), which pad little; callers put
        the results back in input order."""
        order = sorted(range(len(prompts)), key=lambda n: len(prompts[n]))  # characters or tokens
        for start in range(0, len(order), self.config.batch_size):
            yield order[start:start + self.config.batch_size]

    def _batches(self, prompts: list[str] | list[list[int]]):
        """(indices, encoded batch) of :meth:`_by_length`'s batches, left-padded."""
        for which in self._by_length(prompts):
            batch = [prompts[n] for n in which]
            if not isinstance(batch[0], str):  # token ids
                ids, mask, _ = left_pad(batch, self.tokenizer.pad_token_id)
                yield which, {"input_ids": ids, "attention_mask": mask}
            else:
                yield which, self.tokenizer(batch, return_tensors="pt", padding=True,
                                            add_special_tokens=False)

    def allowed_logprobs(self, prompts: list[list[int]], token_ids: list[int]) -> np.ndarray:
        """The next-token log-probabilities of ``token_ids`` normalised over those tokens alone (the softmax
        restricted to them), one row per prompt (token ids); positions count from each prompt's first token,
        as in vLLM, whatever its padding."""
        import torch

        out = np.zeros((len(prompts), len(token_ids)), dtype=np.float32)
        ids_t = torch.as_tensor(list(map(int, token_ids)))
        with torch.no_grad():
            for which, enc in self._batches(prompts):
                positions = (enc["attention_mask"].cumsum(1) - 1).clamp(min=0)
                logits = self.model(**enc, position_ids=positions, logits_to_keep=1).logits[:, -1, :]
                out[which] = torch.log_softmax(logits[:, ids_t].float(), dim=-1).numpy()
        return out

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: AdapterRef = None) -> np.ndarray:
        import torch

        out = np.zeros((len(prompts), len(token_ids)), dtype=np.float32)
        with torch.no_grad(), self._adapter_context(adapter):
            for which, enc in self._batches(prompts):
                logits = self.model(**enc, logits_to_keep=1).logits[:, -1, :].float()
                out[which] = torch.log_softmax(logits, dim=-1)[:, token_ids].numpy()
        return out

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *,
                       adapter: AdapterRef = None, against: int | None = None) -> list[np.ndarray]:
        import torch

        check_positions(prompts, positions)
        out: list[np.ndarray] = [np.zeros(0)] * len(prompts)
        with torch.no_grad(), self._adapter_context(adapter):
            for which in self._by_length(prompts):
                batch, pos = [prompts[n] for n in which], [positions[n] for n in which]
                ids, mask, offsets = left_pad(batch, self.tokenizer.pad_token_id)
                rows = torch.tensor([i for i, p in enumerate(pos) for _ in p], dtype=torch.long)
                cols = torch.tensor([offsets[i] + j for i, p in enumerate(pos) for j in p], dtype=torch.long)
                lp = (position_logprobs(self.model, ids, mask, rows, cols, against).numpy() if len(rows)
                      else np.zeros(0))
                bounds = np.cumsum([0] + [len(p) for p in pos])
                for n, (a, b) in zip(which, itertools.pairwise(bounds)):
                    out[n] = lp[a:b].astype(np.float64)
        return out

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: AdapterRef = None,
                 json_schema: dict | list[dict] | None = None, temperature: float = 0.0,
                 seeds: list[int] | None = None) -> list[str]:
        """Greedy continuations, or sampled ones (one prompt at a time, each seeded).  Transformers has no
        constrained decoding: ``json_schema`` is not enforced here (callers validate the answer, as they must
        for any backend)."""
        import torch

        if temperature > 0:
            _, seeds = per_prompt(prompts, json_schema, seeds)
            texts = []
            with torch.no_grad(), self._adapter_context(adapter):
                for prompt, seed in zip(prompts, seeds):
                    torch.manual_seed(0 if seed is None else seed)
                    _, enc = next(self._batches([prompt]))
                    out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=True,
                                              temperature=temperature, top_k=0, top_p=1.0,
                                              pad_token_id=self.tokenizer.pad_token_id)
                    texts += self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                         skip_special_tokens=True)
            return texts
        texts = [""] * len(prompts)
        with torch.no_grad(), self._adapter_context(adapter):
            for which, enc in self._batches(prompts):
                out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id)
                decoded = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:],
                                                      skip_special_tokens=True)
                for n, text in zip(which, decoded):
                    texts[n] = text
        return texts

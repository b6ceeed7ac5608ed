"""LLM backends: one interface, the same rendered prompts, three ways to run them.

* :class:`VLLMBackend` (default): the in-process vLLM engine (``vllm.LLM``).
* :class:`TransformersBackend`: plain transformers forward passes; a reference for tests and benchmarks.
* :class:`~llmrec.llm.remote.RemoteBackend`: an OpenAI-compatible vLLM server at ``url``
  (``llmrec serve-llm`` starts one).

Every backend takes prompts already rendered through the model's chat template (:func:`chat_prompt`), so
the text each model sees is identical.  ``label_logprobs`` returns, for each prompt, the next-token
log-probabilities of exactly the given label tokens (one forward pass; vLLM's ``logprob_token_ids``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from llmrec.errors import ConfigError
from llmrec.models import resolve_llm

__all__ = ["BackendConfig", "LLMBackend", "TransformersBackend", "VLLMBackend", "chat_prompt", "create_backend",
           "label_token_ids", "vllm_cpu_env"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendConfig:
    """How to start the LLM (construction config; prompts and labels are per call)."""

    kind: Literal["vllm", "transformers", "remote"] = "vllm"
    model: str | None = None  # hub id or path; None: the bundled SmolLM2-135M-Instruct
    dtype: str = "auto"  # auto: float32 on CPU (bf16 matmuls fall back to a slow path there), bf16 on CUDA
    max_model_len: int = 2048
    prefix_caching: bool = True
    block_size: int | None = None  # KV-cache block size (vLLM's default: 128 on CPU); prefixes are cached per block
    enforce_eager: bool | None = None  # None: eager on CPU (torch.compile start-up costs minutes there)
    kv_cache_gib: float = 1.0  # VLLM_CPU_KVCACHE_SPACE when it is unset
    batch_size: int = 8  # transformers backend only
    seed: int = 0
    # remote backend only: the server's API root, e.g. http://127.0.0.1:8000/v1, and how to talk to it
    url: str | None = None
    served_model: str | None = None  # the request's "model"; None: the first one the server lists
    timeout: float = 60.0  # seconds per HTTP request
    retries: int = 3  # further attempts after a failed request, waiting backoff * 2**i seconds before each
    backoff: float = 0.5
    request_batch: int = 16  # prompts per HTTP request


class LLMBackend(Protocol):
    config: BackendConfig
    tokenizer: object

    def label_logprobs(self, prompts: list[str], token_ids: list[int]) -> np.ndarray:
        """(len(prompts), len(token_ids)) next-token log-probabilities of ``token_ids``."""

    def generate(self, prompts: list[str], max_tokens: int) -> list[str]:
        """Greedy continuations."""


def _dtype(name: str) -> str:
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
            raise ConfigError(f"label {label!r} is {len(tokens)} tokens for this tokenizer ({tokens}); one-pass "
                              "scoring needs single-token labels")
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise ConfigError(f"labels {labels} do not map to distinct tokens")
    return ids


def vllm_cpu_env(kv_cache_gib: float, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The vLLM CPU settings missing from ``environ`` (to be added to it): KV-cache size, and on CPU every
    core for the worker."""
    import torch

    env = {}
    if "VLLM_CPU_KVCACHE_SPACE" not in environ:
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{kv_cache_gib:g}"
    if not torch.cuda.is_available() and "VLLM_CPU_OMP_THREADS_BIND" not in environ:
        # vLLM reserves a core for its scheduler by default, which halves a 2-core machine; the caller
        # mostly waits on the engine, so the worker gets every core (measured 3.2 s -> 1.9 s per prompt)
        env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{(os.cpu_count() or 1) - 1}"
        if "VLLM_CPU_NUM_OF_RESERVED_CPU" not in environ:
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    return env


class VLLMBackend:
    """The in-process vLLM engine.  Scripts using it need an ``if __name__ == "__main__":`` guard."""

    def __init__(self, config: BackendConfig = BackendConfig()):
        import torch

        os.environ.update(vllm_cpu_env(config.kv_cache_gib))
        from vllm import LLM

        self.config = config
        self.model_path = resolve_llm(config.model)
        eager = config.enforce_eager if config.enforce_eager is not None else not torch.cuda.is_available()
        self.llm = LLM(model=self.model_path, dtype=_dtype(config.dtype), max_model_len=config.max_model_len,
                       enable_prefix_caching=config.prefix_caching, enforce_eager=eager, seed=config.seed,
                       **({} if config.block_size is None else {"block_size": config.block_size}))
        self.tokenizer = self.llm.get_tokenizer()

    def label_logprobs(self, prompts: list[str], token_ids: list[int]) -> np.ndarray:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=len(token_ids),
                                logprob_token_ids=list(token_ids))
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        out = np.full((len(prompts), len(token_ids)), -np.inf)
        for row, o in enumerate(outputs):
            step = o.outputs[0].logprobs[0]
            for col, tid in enumerate(token_ids):
                if tid in step:
                    out[row, col] = step[tid].logprob
        return out

    def generate(self, prompts: list[str], max_tokens: int) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
        return [o.outputs[0].text for o in self.llm.generate(prompts, params, use_tqdm=False)]


class TransformersBackend:
    """Plain transformers forward passes (left-padded batches); the reference implementation."""

    def __init__(self, config: BackendConfig = BackendConfig(kind="transformers")):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.model_path = resolve_llm(config.model)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path,
                                                          dtype=getattr(torch, _dtype(config.dtype)))
        self.model.eval()

    def _batches(self, prompts: list[str]):
        for i in range(0, len(prompts), self.config.batch_size):
            yield self.tokenizer(prompts[i:i + self.config.batch_size], return_tensors="pt", padding=True,
                                 add_special_tokens=False)

    def label_logprobs(self, prompts: list[str], token_ids: list[int]) -> np.ndarray:
        import torch

        rows = []
        with torch.no_grad():
            for enc in self._batches(prompts):
                logits = self.model(**enc).logits[:, -1, :].float()
                rows.append(torch.log_softmax(logits, dim=-1)[:, token_ids].numpy())
        return np.concatenate(rows) if rows else np.zeros((0, len(token_ids)))

    def generate(self, prompts: list[str], max_tokens: int) -> list[str]:
        import torch

        texts = []
        with torch.no_grad():
            for enc in self._batches(prompts):
                out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id)
                texts += self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return texts


def create_backend(config: BackendConfig) -> LLMBackend:
    if config.kind == "vllm":
        return VLLMBackend(config)
    if config.kind == "transformers":
        return TransformersBackend(config)
    if config.kind == "remote":
        if not config.url:
            raise ConfigError("the remote LLM backend needs the server's url, e.g. http://127.0.0.1:8000/v1 "
                              "(start one with `llmrec serve-llm`)")
        from llmrec.llm.remote import RemoteBackend

        return RemoteBackend(config)
    raise ConfigError(f"unknown LLM backend {config.kind!r} (have: vllm, transformers, remote)")

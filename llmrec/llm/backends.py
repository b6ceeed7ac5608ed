"""LLM backends: one interface, the same rendered prompts, three ways to run them.

* :class:`VLLMBackend` (default): the in-process vLLM engine (``vllm.LLM``).
* :class:`TransformersBackend`: plain transformers forward passes; a reference for tests and benchmarks.
* :class:`~llmrec.llm.remote.RemoteBackend`: an OpenAI-compatible vLLM server at ``url``
  (``llmrec serve-llm`` starts one).

Every backend takes prompts already rendered through the model's chat template (:func:`chat_prompt`), so
the text each model sees is identical.  ``label_logprobs`` returns, for each prompt, the next-token
log-probabilities of exactly the given label tokens (one forward pass; vLLM's ``logprob_token_ids``);
``token_logprobs`` takes token-id prompts and returns the log-probability of the prompt's own token at given
positions (:func:`prefix_token_logprobs` on vLLM; one forward pass on transformers).
LoRA adapters (``BackendConfig.adapters``) are verified against the base model at start-up and chosen per
call (``adapter=``): vLLM's ``LoRARequest`` embedded, the server's ``--lora-modules`` name remotely, peft
on the transformers reference.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from llmrec.errors import ConfigError
from llmrec.llm.adapters import Adapter, load_adapter, vllm_lora_rank
from llmrec.models import resolve_llm

__all__ = ["BackendConfig", "LLMBackend", "TransformersBackend", "VLLMBackend", "chat_prompt", "create_backend",
           "hidden_logprobs", "label_token_ids", "left_pad", "per_prompt", "position_logprobs", "prefix_token_logprobs",
           "vllm_cpu_env"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendConfig:
    """How to start the LLM (construction config; prompts and labels are per call)."""

    kind: Literal["vllm", "transformers", "remote"] = "vllm"
    model: str | None = None  # hub id or path; None: the bundled SmolLM2-135M-Instruct
    dtype: str = "auto"  # auto: float32 on CPU (bf16 matmuls fall back to a slow path there), bf16 on CUDA
    max_model_len: int = 2048
    prefix_caching: bool = True
    block_size: int | None = None  # KV-cache block size; prefixes are cached in whole blocks (None: see engine_options)
    enforce_eager: bool = False  # True: skip torch.compile / CUDA graphs (see engine_options)
    max_num_batched_tokens: int | None = None  # tokens per engine step (None: vLLM's default)
    kv_cache_gib: float = 1.0  # VLLM_CPU_KVCACHE_SPACE when it is unset
    adapters: tuple[str, ...] = ()  # LoRA adapter directories served beside the base model, chosen per call
    max_lora_rank: int | None = None  # None: the adapters' largest rank (rounded up to one vLLM accepts)
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

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: str | None = None) -> np.ndarray:
        """(len(prompts), len(token_ids)) next-token log-probabilities of ``token_ids`` after each prompt (text,
        or token ids); ``adapter`` (a name or directory of one of the configured adapters) applies that LoRA
        adapter, None the base model."""

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *, adapter: str | None = None,
                       against: int | None = None) -> list[np.ndarray]:
        """For each token-id prompt, ``log p(prompt[j] | prompt[:j])`` at each of its ``positions`` (j >= 1);
        with ``against`` (a token id), minus ``log p(against | prompt[:j])`` — the log-odds of the two tokens."""

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: str | None = None,
                 json_schema: dict | list[dict] | None = None, temperature: float = 0.0,
                 seeds: list[int] | None = None) -> list[str]:
        """Continuations: greedy, or sampled at ``temperature`` > 0 (with ``seeds``, one per prompt, each
        reproducible); ``json_schema`` (one for all prompts, or one per prompt) constrains them (vLLM structured
        outputs) where the backend supports it."""


def per_prompt(prompts: list[str], json_schema: dict | list[dict] | None, seeds: list[int] | None
               ) -> tuple[list[dict | None], list[int | None]]:
    """``generate``'s schema and seed arguments spelled out per prompt (and checked to match the prompts)."""
    schemas = list(json_schema) if isinstance(json_schema, list) else [json_schema] * len(prompts)
    seeds = list(seeds) if seeds is not None else [None] * len(prompts)
    if len(schemas) != len(prompts) or len(seeds) != len(prompts):
        raise ValueError(f"generate got {len(prompts)} prompts but {len(schemas)} schemas and {len(seeds)} seeds")
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


def _check_positions(prompts: list[list[int]], positions: list[list[int]]) -> None:
    if len(prompts) != len(positions):
        raise ValueError(f"{len(prompts)} prompts but {len(positions)} position lists")
    for ids, pos in zip(prompts, positions):
        if any(not 1 <= j < len(ids) for j in pos):
            raise ValueError(f"positions {pos} must lie in [1, {len(ids)}) for a prompt of {len(ids)} tokens")


def left_pad(sequences: list[list[int]], pad_id: int):
    """(input_ids, attention_mask, offsets) of ``sequences`` left-padded to one length, as tensors; a position j
    of sequence i is ``offsets[i] + j`` in the batch."""
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
    """``log p(input_ids[r, c] | input_ids[r, :c])`` for each (r, c) of ``rows``/``cols`` (1-d long tensors), from
    one forward pass that projects only the needed hidden states onto the vocabulary (K positions, not the whole
    prompt); with ``against``, minus that token's log-probability at the same place (a logit difference, which
    does not saturate).  Differentiable (the LoRA trainer's marks loss reads the same way, :func:`hidden_logprobs`)."""
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, logits_to_keep=1)
    return hidden_logprobs(model.get_output_embeddings(), out.hidden_states[-1], input_ids, rows, cols, against)


def hidden_logprobs(head, hidden, input_ids, rows, cols, against: int | None = None):
    """:func:`position_logprobs` from a forward pass already made: ``hidden`` is its last hidden state (after the
    final norm; position c - 1 predicts token c) and ``head`` the output embeddings."""
    import torch

    logits = head(hidden[rows, cols - 1]).float()
    if against is not None:  # log p(a) - log p(b) = logit(a) - logit(b)
        return logits.gather(1, input_ids[rows, cols][:, None])[:, 0] - logits[:, against]
    return torch.log_softmax(logits, dim=-1).gather(1, input_ids[rows, cols][:, None])[:, 0]


def prefix_token_logprobs(label_logprobs, prompts: list[list[int]], positions: list[list[int]], *,
                          adapter: str | None = None, against: int | None = None) -> list[np.ndarray]:
    """``token_logprobs`` through next-token scoring (``label_logprobs``) of prompt prefixes: the token at j is
    scored after ``prompt[:j]``.  vLLM's ``prompt_logprobs`` would read all positions from one pass, but it
    fails with LoRA adapters (vllm-cpu 0.32: the LoRA logits processor rejects prompt rows), so each position
    is its own request, in two waves: first each prompt's longest prefix, which fills the prefix cache, then
    the shorter ones, which find their whole KV-cache blocks there and compute only their last partial
    block.  The cost is about one pass over the prompt plus a block per position."""
    _check_positions(prompts, positions)
    out = [np.full(len(p), -np.inf) for p in positions]
    waves = ([(r, len(p) - 1) for r, p in enumerate(positions) if p],
             [(r, n) for r, p in enumerate(positions) for n in range(len(p) - 1)])
    for wave in waves:
        by_token: dict[int, list[tuple[int, int]]] = {}
        for r, n in wave:
            by_token.setdefault(int(prompts[r][positions[r][n]]), []).append((r, n))
        for token, entries in by_token.items():
            tokens = [token] if against is None else [token, int(against)]
            lp = label_logprobs([list(prompts[r][:positions[r][n]]) for r, n in entries], tokens, adapter=adapter)
            for (r, n), value in zip(entries, lp[:, 0] if against is None else lp[:, 0] - lp[:, 1]):
                out[r][n] = value
    return out


#: KV-cache block size on CPU: vLLM's CPU default is 128 tokens and only whole blocks are prefix-cached, so the
#: ranking prompt's shared opening (instruction, ~50 tokens) was never reused; 32 is the smallest the CPU
#: attention backend accepts.  Measured on 2 cores, batches of 64 users: 0.58-0.61 s/user at 128 (eager),
#: 0.50-0.56 at 32 (eager), 0.42 at 32 compiled.
CPU_BLOCK_SIZE = 32


def engine_options(enforce_eager: bool, block_size: int | None) -> dict:
    """vLLM engine options shared by the embedded engine and ``llmrec serve-llm``: compiled unless told
    otherwise (on CPU torch.compile adds ~1-2 min to the first start and is cached after; eager costs ~20%
    per prompt), and :data:`CPU_BLOCK_SIZE` blocks on CPU."""
    import torch

    cpu = not torch.cuda.is_available()
    opts: dict = {"enforce_eager": bool(enforce_eager)}
    if block_size is not None or cpu:
        opts["block_size"] = block_size if block_size is not None else CPU_BLOCK_SIZE
    return opts


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
        os.environ.update(vllm_cpu_env(config.kv_cache_gib))
        from vllm import LLM

        self.config = config
        self.model_path = resolve_llm(config.model)
        self.adapters = _load_adapters(config.adapters, self.model_path)
        lora = {}
        if self.adapters:
            rank = vllm_lora_rank(config.max_lora_rank or max(a.rank for a in self.adapters))
            lora = {"enable_lora": True, "max_loras": len(self.adapters), "max_lora_rank": rank}
        extra = {"max_num_batched_tokens": config.max_num_batched_tokens} if config.max_num_batched_tokens else {}
        self.llm = LLM(model=self.model_path, dtype=_dtype(config.dtype), max_model_len=config.max_model_len,
                       enable_prefix_caching=config.prefix_caching, seed=config.seed,
                       **engine_options(config.enforce_eager, config.block_size), **extra, **lora)
        self.tokenizer = self.llm.get_tokenizer()
        import torch

        # vLLM rewinds a seeded request's generator when its prefill is chunked, which CPU generators cannot
        # do ("CPU Generator does not use offset" kills the engine); on CPU, sampling uses the engine's seed
        self.request_seeds, self._warned_seeds = torch.cuda.is_available(), False

    def close(self) -> None:
        """Stop the engine's processes now (a dropped engine may otherwise keep its worker spinning)."""
        with contextlib.suppress(Exception):
            self.llm.llm_engine.engine_core.shutdown()

    def _lora_request(self, adapter: str | None):
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        index = _adapter_index(self.adapters, adapter)
        a = self.adapters[index]
        return LoRARequest(a.name, index + 1, a.path)

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: str | None = None) -> np.ndarray:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=len(token_ids),
                                logprob_token_ids=list(token_ids))
        inputs = [p if isinstance(p, str) else TokensPrompt(prompt_token_ids=list(map(int, p))) for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False, lora_request=self._lora_request(adapter))
        out = np.full((len(prompts), len(token_ids)), -np.inf)
        for row, o in enumerate(outputs):
            step = o.outputs[0].logprobs[0]
            for col, tid in enumerate(token_ids):
                if tid in step:
                    out[row, col] = step[tid].logprob
        return out

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *, adapter: str | None = None,
                       against: int | None = None) -> list[np.ndarray]:
        return prefix_token_logprobs(self.label_logprobs, prompts, positions, adapter=adapter, against=against)

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: str | None = None,
                 json_schema: dict | list[dict] | None = None, temperature: float = 0.0,
                 seeds: list[int] | None = None) -> list[str]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        def params_for(schema: dict | None, seed: int | None) -> SamplingParams:
            structured = StructuredOutputsParams(**structured_outputs(schema)) if schema is not None else None
            return SamplingParams(max_tokens=max_tokens, temperature=temperature,
                                  seed=seed if temperature > 0 else None, structured_outputs=structured)

        schemas, seeds = per_prompt(prompts, json_schema, seeds)
        if temperature > 0 and any(s is not None for s in seeds) and not self.request_seeds:
            if not self._warned_seeds:
                self._warned_seeds = True
                log.warning("per-request seeds are ignored by vLLM on CPU: sampled words follow the engine's seed "
                            "(the same requests in the same order give the same words)")
            seeds = [None] * len(prompts)
        params = [params_for(schema, seed) for schema, seed in zip(schemas, seeds)]
        outputs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora_request(adapter))
        return [o.outputs[0].text for o in outputs]


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
        model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=getattr(torch, _dtype(config.dtype)))
        self.adapters = _load_adapters(config.adapters, self.model_path)
        if self.adapters:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, self.adapters[0].path, adapter_name=self.adapters[0].name)
            for a in self.adapters[1:]:
                model.load_adapter(a.path, adapter_name=a.name)
        self.model = model
        self.model.eval()

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = 8) -> TransformersBackend:
        """A backend around a model already in memory (e.g. the peft model being trained, for validation)."""
        self = cls.__new__(cls)
        self.config = BackendConfig(kind="transformers", batch_size=batch_size)
        self.model_path = getattr(getattr(model, "config", None), "name_or_path", None)
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model, self.adapters = model, []
        return self

    def _adapter_context(self, adapter: str | None):
        """The context applying ``adapter`` (or, on a peft model, disabling every adapter for None)."""
        if not self.adapters:
            if adapter is not None:
                _adapter_index(self.adapters, adapter)  # raises: no adapters configured
            return contextlib.nullcontext()
        if adapter is None:
            return self.model.disable_adapter()
        self.model.set_adapter(self.adapters[_adapter_index(self.adapters, adapter)].name)
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
                yield which, self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: str | None = None) -> np.ndarray:
        import torch

        out = np.zeros((len(prompts), len(token_ids)), dtype=np.float32)
        with torch.no_grad(), self._adapter_context(adapter):
            for which, enc in self._batches(prompts):
                logits = self.model(**enc, logits_to_keep=1).logits[:, -1, :].float()
                out[which] = torch.log_softmax(logits, dim=-1)[:, token_ids].numpy()
        return out

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *, adapter: str | None = None,
                       against: int | None = None) -> list[np.ndarray]:
        import torch

        _check_positions(prompts, positions)
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

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: str | None = None,
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
                    out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=True, temperature=temperature,
                                              top_k=0, top_p=1.0, pad_token_id=self.tokenizer.pad_token_id)
                    texts += self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            return texts
        texts = [""] * len(prompts)
        with torch.no_grad(), self._adapter_context(adapter):
            for which, enc in self._batches(prompts):
                out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id)
                decoded = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
                for n, text in zip(which, decoded):
                    texts[n] = text
        return texts


def _load_adapters(paths: tuple[str, ...], model_path: str) -> list[Adapter]:
    adapters = [load_adapter(p, model_path) for p in paths]
    names = [a.name for a in adapters]
    if len(set(names)) != len(names):
        raise ConfigError(f"LoRA adapter names must be distinct, got {names} (from {list(paths)})")
    return adapters


def _adapter_index(adapters: list[Adapter], adapter: str) -> int:
    """The position of ``adapter`` (a name or a directory) among the configured adapters."""
    for i, a in enumerate(adapters):
        if adapter == a.name or Path(adapter).expanduser().resolve() == Path(a.path):
            return i
    have = [a.name for a in adapters]
    raise ConfigError(f"LoRA adapter {adapter!r} was not configured for this backend (it has {have}); pass it "
                      "in BackendConfig.adapters when the backend starts")


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

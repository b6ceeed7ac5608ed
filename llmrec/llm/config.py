"""How an LLM backend starts: one construction config per backend, apart from per-call parameters.

As vLLM keeps ``EngineArgs`` (how the engine starts) apart from ``SamplingParams`` (what one request asks),
llmrec keeps these configs apart from what each call passes (prompts, label tokens, ``adapter``,
``temperature``, ``json_schema``, ``seeds``).  Every backend shares :class:`LLMConfig` (which model, read
how, which LoRA adapters); :class:`VLLMConfig`, :class:`TransformersConfig` and :class:`RemoteConfig` add
their own settings, and :func:`backend_config` builds the one for a backend kind from plain values (the
ranker's ``engine`` parameters, ``--param engine.enforce_eager=true``), refusing a setting the kind does not
have with a message listing the ones it has.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from llmrec.errors import ConfigError
from llmrec.llm.adapters import Adapter

__all__ = ["BACKEND_KINDS", "BackendKind", "LLMConfig", "RemoteConfig", "TransformersConfig", "VLLMConfig",
           "backend_config", "backend_fields"]

BackendKind = Literal["vllm", "transformers", "remote"]


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """What every backend shares."""

    kind: ClassVar[str]
    model: str | None = None  # hub id or path; None: the bundled SmolLM2-135M-Instruct
    dtype: str = "auto"  # auto: float32 on CPU (bf16 matmuls fall back to a slow path there), bf16 on CUDA
    seed: int = 0
    adapters: tuple[str | Adapter, ...] = ()  # LoRA adapters served beside the base model, chosen per call


@dataclass(frozen=True, kw_only=True)
class VLLMConfig(LLMConfig):
    """The in-process vLLM engine's settings (``vllm.LLM`` engine arguments)."""

    kind: ClassVar[str] = "vllm"
    max_model_len: int = 2048
    prefix_caching: bool = True
    block_size: int | None = None  # KV-cache block size; prefixes are cached in whole blocks (None: CPU 32)
    enforce_eager: bool = False  # True: skip torch.compile / CUDA graphs (quicker start, ~20% slower prompts)
    max_num_batched_tokens: int | None = None  # tokens per engine step (None: vLLM's default)
    kv_cache_gib: float = 1.0  # VLLM_CPU_KVCACHE_SPACE when it is unset
    max_lora_rank: int | None = None  # None: the adapters' largest rank (rounded up to one vLLM accepts)
    verbose: bool = False  # keep vLLM's INFO logging (default: warnings only)


@dataclass(frozen=True, kw_only=True)
class TransformersConfig(LLMConfig):
    """Plain transformers forward passes: the reference backend."""

    kind: ClassVar[str] = "transformers"
    batch_size: int = 8  # prompts per forward pass (batched by length)


@dataclass(frozen=True, kw_only=True)
class RemoteConfig(LLMConfig):
    """An OpenAI-compatible vLLM server, and how to talk to it (``model`` is the local tokenizer's)."""

    kind: ClassVar[str] = "remote"
    url: str | None = None  # the server's API root, e.g. http://127.0.0.1:8000/v1
    served_model: str | None = None  # the request's "model"; None: the first one the server lists
    timeout: float = 60.0  # seconds per HTTP request
    retries: int = 3  # further attempts after a failed request, waiting backoff * 2**i seconds before each
    backoff: float = 0.5
    request_batch: int = 16  # prompts per HTTP request

    def __post_init__(self):
        if self.retries < 0 or self.timeout <= 0 or self.request_batch < 1 or self.backoff < 0:
            raise ConfigError(f"remote backend: need retries >= 0, timeout > 0, backoff >= 0 and "
                              f"request_batch >= 1; got retries={self.retries}, timeout={self.timeout}, "
                              f"backoff={self.backoff}, request_batch={self.request_batch}")


BACKEND_KINDS: dict[str, type[LLMConfig]] = {c.kind: c
                                             for c in (VLLMConfig, TransformersConfig, RemoteConfig)}


def backend_fields(kind: str) -> list[str]:
    """The settings a backend kind takes."""
    return [f.name for f in dataclasses.fields(_config_class(kind))]


def _config_class(kind: str) -> type[LLMConfig]:
    if kind not in BACKEND_KINDS:
        raise ConfigError(f"unknown LLM backend {kind!r} (have: {', '.join(BACKEND_KINDS)})")
    return BACKEND_KINDS[kind]


def backend_config(kind: str = "vllm", **values: Any) -> LLMConfig:
    """The config of backend ``kind`` from plain values; a setting that kind does not have is an error."""
    cls = _config_class(kind)
    known = set(backend_fields(kind))
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"the {kind} LLM backend has no setting {', '.join(map(repr, unknown))}; "
                          f"its settings: {', '.join(sorted(known))}")
    if "adapters" in values:
        values["adapters"] = tuple(values["adapters"])
    try:
        return cls(**values)
    except TypeError as err:
        raise ConfigError(f"invalid {kind} backend settings {values}: {err}") from None

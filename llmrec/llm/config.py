"""How an LLM backend starts: one construction config per backend, apart from per-call parameters.

As vLLM keeps ``EngineArgs`` (how the engine starts) apart from ``SamplingParams`` (what one request asks),
llmrec keeps these configs apart from what each call passes (prompts, label tokens, ``adapter``,
``temperature``, ``json_schema``, ``seeds``).  Every backend shares :class:`LLMConfig` (which model, read
how, which LoRA adapters); :class:`VLLMConfig`, :class:`TransformersConfig` and :class:`RemoteConfig` add
their own settings, and :func:`backend_config` builds the one for a backend kind from plain values (the
ranker's ``engine`` parameters, ``--param engine.enforce_eager=true``), refusing a setting the kind does not
have with a message listing the ones it has.

vLLM's ``enforce_eager`` may be ``"auto"`` (the default): :func:`choose_eager` then picks eager or compiled
execution by the ``workload`` the caller states — a few prompts or an interactive first answer run eager (a
shorter start), batch work compiled (cheaper prompts).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from llmrec.errors import ConfigError
from llmrec.llm.adapters import Adapter

__all__ = ["BACKEND_KINDS", "EAGER_BELOW", "BackendKind", "LLMConfig", "RemoteConfig", "TransformersConfig",
           "VLLMConfig", "Workload", "backend_config", "backend_fields", "choose_eager"]

BackendKind = Literal["vllm", "transformers", "remote"]
#: What an engine is started for: a number of prompts, "interactive" (requests one at a time, the first
#: answer matters most) or "batch" (many prompts, throughput matters); None: not stated (treated as batch).
Workload = int | Literal["interactive", "batch"] | None

#: With ``enforce_eager="auto"``, a workload of fewer prompts than this runs eager.  Measured on 2 AVX2 cores
#: (SmolLM2-135M, fp32, docs/experiments.md): an eager start (in process, 18-20 s) is ~40 s shorter than a
#: compiled one from the compile cache (~60 s; the first compiled start, which fills the cache, ~130 s) and an
#: eager ranking prompt 0.08-0.14 s slower (0.50-0.56 vs 0.42 s/user), so compiling pays after 300-500
#: prompts; the lower end is taken.
EAGER_BELOW = 300


def choose_eager(enforce_eager: bool | str, workload: Workload = None) -> tuple[bool, str]:
    """(eager?, why): an explicit ``enforce_eager`` wins; ``"auto"`` runs eager for an interactive workload
    or fewer than :data:`EAGER_BELOW` prompts, compiled for batch work or an unstated workload."""
    if isinstance(enforce_eager, bool):
        return enforce_eager, f"enforce_eager={str(enforce_eager).lower()}"
    if workload == "interactive":
        return True, "interactive"
    if workload is None or workload == "batch":
        return False, "batch work" if workload else "no workload stated"
    if workload < EAGER_BELOW:
        return True, f"{workload} prompts, fewer than {EAGER_BELOW}"
    return False, f"{workload} prompts, {EAGER_BELOW} or more"


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """What every backend shares."""

    kind: ClassVar[str]
    model: str | None = None  # hub id or path; None: the bundled SmolLM2-135M-Instruct
    dtype: str = "auto"  # auto: float32 on CPU (bf16 matmuls fall back to a slow path there), bf16 on CUDA
    seed: int = 0
    adapters: tuple[str | Adapter, ...] = ()  # LoRA adapters served beside the base model, chosen per call

    def title(self) -> str:
        """The backend in two or three words (for progress lines and logs)."""
        return f"{self.kind} backend"

    def summary(self) -> str:
        """The backend and how it starts, in a few words."""
        return self.title()


@dataclass(frozen=True, kw_only=True)
class VLLMConfig(LLMConfig):
    """The in-process vLLM engine's settings (``vllm.LLM`` engine arguments)."""

    kind: ClassVar[str] = "vllm"
    max_model_len: int = 2048
    prefix_caching: bool = True
    block_size: int | None = None  # KV-cache block size; prefixes are cached in whole blocks (None: CPU 32)
    enforce_eager: bool | Literal["auto"] = "auto"  # True: no torch.compile / CUDA graphs (shorter start,
    # ~20% slower prompts); auto: chosen by workload (choose_eager)
    workload: Workload = None  # what the engine is started for (choose_eager); None: not stated
    in_process: bool | Literal["auto"] = "auto"  # run the engine core and its worker in this process
    # (VLLM_ENABLE_V1_MULTIPROCESSING=0: no processes to spawn, ~25 s shorter start on 2 CPU cores); auto:
    # on CPU when eager, else in their own processes (vLLM's default)
    max_num_batched_tokens: int | None = None  # tokens per engine step (None: vLLM's default)
    kv_cache_gib: float = 1.0  # VLLM_CPU_KVCACHE_SPACE when it is unset
    max_lora_rank: int | None = None  # None: the adapters' largest rank (rounded up to one vLLM accepts)
    verbose: bool = False  # keep vLLM's INFO logging (default: warnings only)
    max_logprobs: int | None = None  # most log-probabilities a request may ask for (None: vLLM's 20)
    logprobs_mode: str | None = None  # "processed_logprobs": after allowed_token_ids masking (None: raw)
    # "pooling": the engine returns each prompt's last hidden state (after the final norm) instead of
    # sampling (VLLMBackend.last_hidden); "generate": a generative engine (vLLM's own default)
    runner: Literal["generate", "pooling"] = "generate"

    def __post_init__(self):
        if self.runner not in ("generate", "pooling"):
            raise ConfigError(f"vllm backend: runner must be 'generate' or 'pooling', got {self.runner!r}")
        for name in ("enforce_eager", "in_process"):
            value = getattr(self, name)
            if not isinstance(value, bool) and value != "auto":
                raise ConfigError(f"vllm backend: {name} must be true, false or 'auto', got {value!r}")
        w = self.workload
        if not (w is None or w in ("interactive", "batch")
                or (isinstance(w, int) and not isinstance(w, bool) and w >= 0)):
            raise ConfigError(f"vllm backend: workload must be a number of prompts, 'interactive' or "
                              f"'batch', got {w!r}")

    def execution(self) -> tuple[bool, str]:
        """(eager?, why) for this engine (:func:`choose_eager`)."""
        return choose_eager(self.enforce_eager, self.workload)

    def title(self) -> str:
        return "vLLM engine"

    def summary(self) -> str:
        eager, why = self.execution()
        return f"vLLM engine ({'eager' if eager else 'compiled'}: {why})"


@dataclass(frozen=True, kw_only=True)
class TransformersConfig(LLMConfig):
    """Plain transformers forward passes: the reference backend."""

    kind: ClassVar[str] = "transformers"
    batch_size: int = 8  # prompts per forward pass (batched by length)

    def title(self) -> str:
        return "transformers reference backend"


@dataclass(frozen=True, kw_only=True)
class RemoteConfig(LLMConfig):
    """An OpenAI-compatible vLLM server, and how to talk to it (``model`` is the local tokenizer's)."""

    kind: ClassVar[str] = "remote"
    url: str | None = None  # the server's API root, e.g. http://127.0.0.1:8000/v1; several: comma-separated
    served_model: str | None = None  # the request's "model"; None: the first one the server lists
    timeout: float = 60.0  # seconds per HTTP request
    retries: int = 3  # further attempts after a failed request, waiting backoff * 2**i seconds before each
    backoff: float = 0.5
    request_batch: int = 16  # prompts per HTTP request
    cooldown: float = 5.0  # seconds a failed server (of several) rests before a health probe

    def __post_init__(self):
        if (self.retries < 0 or self.timeout <= 0 or self.request_batch < 1 or self.backoff < 0
                or self.cooldown < 0):
            raise ConfigError(f"remote backend: need retries >= 0, timeout > 0, backoff >= 0, "
                              f"request_batch >= 1 and cooldown >= 0; got retries={self.retries}, "
                              f"timeout={self.timeout}, backoff={self.backoff}, "
                              f"request_batch={self.request_batch}, cooldown={self.cooldown}")

    def title(self) -> str:
        return f"LLM server at {self.url}"


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

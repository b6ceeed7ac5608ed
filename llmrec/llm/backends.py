"""LLM backends: one interface, the same rendered prompts, three ways to run them.

* :class:`~llmrec.llm.vllm_engine.VLLMBackend` (default): the in-process vLLM engine (``vllm.LLM``).
* :class:`~llmrec.llm.reference.TransformersBackend`: plain transformers forward passes; the reference for
  tests and benchmarks.
* :class:`~llmrec.llm.remote.RemoteBackend`: an OpenAI-compatible vLLM server at ``url``
  (``llmrec serve-llm`` starts one).

Each starts from its own construction config (:mod:`llmrec.llm.config`); prompts, labels, the adapter and the
sampling settings are per call (:class:`~llmrec.llm.base.LLMBackend`).  LoRA adapters (the config's
``adapters``) are verified against the base model at start-up and chosen per call (``adapter=``): vLLM's
``LoRARequest`` embedded, the server's ``--lora-modules`` name remotely, peft on the transformers reference.
"""

from __future__ import annotations

from llmrec.errors import ConfigError
from llmrec.llm.base import (
    LLMBackend,
    chat_prompt,
    hidden_logprobs,
    label_token_ids,
    left_pad,
    per_prompt,
    position_logprobs,
    prefix_token_logprobs,
    structured_outputs,
)
from llmrec.llm.config import LLMConfig, RemoteConfig, TransformersConfig, VLLMConfig, backend_config
from llmrec.llm.reference import TransformersBackend
from llmrec.llm.vllm_engine import VLLMBackend, engine_options, vllm_cpu_env

__all__ = ["LLMBackend", "LLMConfig", "RemoteConfig", "TransformersBackend", "TransformersConfig",
           "VLLMBackend", "VLLMConfig", "backend_config", "chat_prompt", "create_backend", "engine_options",
           "hidden_logprobs", "label_token_ids", "left_pad", "per_prompt", "position_logprobs",
           "prefix_token_logprobs", "preload_backend", "structured_outputs", "vllm_cpu_env"]


def create_backend(config: LLMConfig) -> LLMBackend:
    """Start the backend ``config`` is for."""
    if isinstance(config, VLLMConfig):
        return VLLMBackend(config)
    if isinstance(config, TransformersConfig):
        return TransformersBackend(config)
    if isinstance(config, RemoteConfig):
        from llmrec.llm.remote import RemoteBackend

        return RemoteBackend(config)
    raise ConfigError(f"no LLM backend for {type(config).__name__} (have: vllm, transformers, remote)")


def preload_backend(config: LLMConfig) -> None:
    """Import what starting the backend ``config`` is for imports (vLLM's engine and the transformers modules
    it reads), so that a start in another thread imports nothing another thread may be importing too
    (:mod:`llmrec.llm.starting`)."""
    if isinstance(config, VLLMConfig):
        import vllm.entrypoints.llm  # noqa: F401 - imports transformers' configuration and tokenizer modules
    if isinstance(config, (VLLMConfig, TransformersConfig)):
        import transformers.modeling_utils
        import transformers.models.auto.modeling_auto  # noqa: F401

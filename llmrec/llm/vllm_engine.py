"""The in-process vLLM engine (``vllm.LLM``): the default LLM backend.

Scripts using it need an ``if __name__ == "__main__":`` guard (vLLM spawns its worker).  On CPU the engine
gets every core for its worker, a KV cache of ``kv_cache_gib``, 32-token cache blocks (:func:`engine_options`)
and a torch.compile cache that loads on later starts (:func:`vllm_cpu_env`); vLLM's own logging stays at
warning level unless ``verbose``.  Eager or compiled execution follows the config's ``enforce_eager`` and
``workload`` (:func:`~llmrec.llm.config.choose_eager`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping

import numpy as np

from llmrec.errors import ConfigError
from llmrec.llm.adapters import AdapterSet, vllm_lora_rank
from llmrec.llm.base import AdapterRef, per_prompt, prefix_token_logprobs, resolve_dtype, structured_outputs
from llmrec.llm.config import VLLMConfig
from llmrec.models import resolve_llm

__all__ = ["CPU_BLOCK_SIZE", "VLLMBackend", "engine_options", "in_process", "quiet_vllm", "vllm_cpu_env"]

log = logging.getLogger(__name__)


#: KV-cache block size on CPU: vLLM's CPU default is 128 tokens and only whole blocks are prefix-cached, so
#: the ranking prompt's shared opening (instruction, ~50 tokens) was never reused; 32 is the smallest the CPU
#: attention backend accepts.  Measured on 2 cores, batches of 64 users: 0.58-0.61 s/user at 128 (eager),
#: 0.50-0.56 at 32 (eager), 0.42 at 32 compiled.
CPU_BLOCK_SIZE = 32
#: Seconds the engine's processes get to exit on their own when the backend is closed.
SHUTDOWN_SECONDS = 60.0


def engine_options(enforce_eager: bool, block_size: int | None) -> dict:
    """vLLM engine options shared by the embedded engine and ``llmrec serve-llm``: eager or compiled as
    resolved by the caller (on 2 CPU cores the first compiled start takes ~130 s, later ones ~60 s from the
    compile cache, an eager one ~42 s, or ~18 s in process; eager costs ~20% per prompt), and
    :data:`CPU_BLOCK_SIZE` blocks on CPU."""
    import torch

    cpu = not torch.cuda.is_available()
    opts: dict = {"enforce_eager": bool(enforce_eager)}
    if block_size is not None or cpu:
        opts["block_size"] = block_size if block_size is not None else CPU_BLOCK_SIZE
    return opts


def in_process(setting: bool | str, eager: bool) -> bool:
    """Whether the engine core and its worker run in the calling process: as set, or with ``"auto"`` on CPU
    for an eager engine (a first answer: vLLM's two spawned processes, each importing torch and vLLM again,
    took ~25 s of a ~42 s eager start on 2 cores, against ~5 s in process; prompts cost the same).  A
    compiled engine keeps its own processes, as in vLLM's default."""
    if isinstance(setting, bool):
        return setting
    import torch

    return eager and not torch.cuda.is_available()


@contextlib.contextmanager
def _multiprocessing(enabled: bool):
    """``VLLM_ENABLE_V1_MULTIPROCESSING`` while an engine is built (vLLM reads it only then); without
    multiprocessing, the uniprocess executor (the worker in this process too)."""
    if enabled:
        yield {}
        return
    old = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    try:
        yield {"distributed_executor_backend": "uni"}
    finally:
        if old is None:
            os.environ.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
        else:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = old


def vllm_cpu_env(kv_cache_gib: float, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The vLLM CPU settings missing from ``environ`` (to be added to it): KV-cache size, and on CPU every
    core for the worker and the compile cache that loads (``VLLM_USE_AOT_COMPILE=0``)."""
    import torch

    env = {}
    if "VLLM_CPU_KVCACHE_SPACE" not in environ:
        env["VLLM_CPU_KVCACHE_SPACE"] = f"{kv_cache_gib:g}"
    if not torch.cuda.is_available() and "VLLM_USE_AOT_COMPILE" not in environ:
        # vLLM 0.32's AOT compile cache (its default with torch >= 2.10) never loads on CPU ("'function'
        # object has no attribute 'finalize_loading'"), so every compiled start compiled again (~130 s on 2
        # cores); the older inductor cache loads: later compiled starts take ~64 s (docs/experiments.md)
        env["VLLM_USE_AOT_COMPILE"] = "0"
    if not torch.cuda.is_available() and "VLLM_CPU_OMP_THREADS_BIND" not in environ:
        # vLLM reserves a core for its scheduler by default, which halves a 2-core machine; the caller
        # mostly waits on the engine, so the worker gets every core (measured 3.2 s -> 1.9 s per prompt)
        env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{(os.cpu_count() or 1) - 1}"
        if "VLLM_CPU_NUM_OF_RESERVED_CPU" not in environ:
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
    return env


def quiet_vllm(verbose: bool = False, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment that keeps vLLM (and the engine processes it spawns) at warning level unless
    ``verbose``, or unless the user set ``VLLM_LOGGING_LEVEL`` themselves; it must be in place before vLLM
    is imported."""
    if "VLLM_LOGGING_LEVEL" in environ and not verbose:
        return {}
    return {"VLLM_LOGGING_LEVEL": "INFO" if verbose else "WARNING"}


class VLLMBackend:
    """The in-process vLLM engine.  Scripts using it need an ``if __name__ == "__main__":`` guard."""

    def __init__(self, config: VLLMConfig | None = None):
        config = config or VLLMConfig()
        os.environ.update(vllm_cpu_env(config.kv_cache_gib))
        os.environ.update(quiet_vllm(config.verbose))
        from vllm import LLM

        self.config = config
        self.eager, why = config.execution()
        self.in_process = in_process(config.in_process, self.eager)
        log.info("starting the vLLM engine (%s: %s; %s)", "eager" if self.eager else "compiled", why,
                 "in process" if self.in_process else "own processes")
        self.model_path = resolve_llm(config.model)
        self.adapters = AdapterSet(config.adapters, self.model_path)
        lora = {}
        if self.adapters:
            rank = vllm_lora_rank(config.max_lora_rank or max(a.rank for a in self.adapters))
            lora = {"enable_lora": True, "max_loras": len(self.adapters), "max_lora_rank": rank}
        extra = {name: getattr(config, name) for name in ("max_num_batched_tokens", "max_logprobs",
                                                           "logprobs_mode") if getattr(config, name)}
        if config.runner == "pooling":  # the last position's hidden state, as it is (no normalisation)
            from vllm.config import PoolerConfig

            extra |= {"runner": "pooling", "convert": "embed",
                      "pooler_config": PoolerConfig(seq_pooling_type="LAST", use_activation=False)}
        with _multiprocessing(not self.in_process) as executor:
            self.llm = LLM(model=self.model_path, dtype=resolve_dtype(config.dtype),
                           max_model_len=config.max_model_len, enable_prefix_caching=config.prefix_caching,
                           seed=config.seed,
                           use_tqdm_on_load=config.verbose,
                           **engine_options(self.eager, config.block_size), **extra, **lora, **executor)
        self.tokenizer = self.llm.get_tokenizer()
        import torch

        # vLLM rewinds a seeded request's generator when its prefill is chunked, which CPU generators cannot
        # do ("CPU Generator does not use offset" kills the engine); on CPU, sampling uses the engine's seed
        self.request_seeds, self._warned_seeds = torch.cuda.is_available(), False

    def close(self) -> None:
        """Stop the engine's processes now (a dropped engine may otherwise keep its worker spinning), giving
        them :data:`SHUTDOWN_SECONDS` to exit on their own: vLLM's default of 5 s is shorter than a CPU worker
        takes, and the processes it then kills leave shared memory behind."""
        with contextlib.suppress(Exception):
            self.llm.llm_engine.engine_core.shutdown(timeout=SHUTDOWN_SECONDS)

    def _lora_request(self, adapter: AdapterRef):
        if adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        index = self.adapters.index(adapter)
        a = self.adapters.adapters[index]
        return LoRARequest(a.name, index + 1, a.path)

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: AdapterRef = None) -> np.ndarray:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=len(token_ids),
                                logprob_token_ids=list(token_ids))
        inputs = [p if isinstance(p, str) else TokensPrompt(prompt_token_ids=list(map(int, p)))
                  for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False, lora_request=self._lora_request(adapter))
        out = np.full((len(prompts), len(token_ids)), -np.inf)
        for row, o in enumerate(outputs):
            step = o.outputs[0].logprobs[0]
            for col, tid in enumerate(token_ids):
                if tid in step:
                    out[row, col] = step[tid].logprob
        return out

    def allowed_logprobs(self, prompts: list[list[int]], token_ids: list[int]) -> np.ndarray:
        """The next-token log-probabilities of ``token_ids`` normalised over those tokens alone (the softmax
        restricted to them), one row per prompt: ``allowed_token_ids`` masks the vocabulary and the engine's
        ``logprobs_mode="processed_logprobs"`` returns log-probabilities after the mask (its
        ``max_logprobs`` must be at least ``len(token_ids)``)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        wide = (self.config.max_logprobs or 0) >= len(token_ids)
        if self.config.logprobs_mode != "processed_logprobs" or not wide:
            raise ConfigError(f"allowed_logprobs needs an engine started with logprobs_mode="
                              f"'processed_logprobs' and max_logprobs >= {len(token_ids)}")
        params = SamplingParams(max_tokens=1, temperature=1.0, logprobs=len(token_ids),
                                allowed_token_ids=list(map(int, token_ids)))
        inputs = [TokensPrompt(prompt_token_ids=list(map(int, p))) for p in prompts]
        outputs = self.llm.generate(inputs, params, use_tqdm=False)
        column = {int(t): n for n, t in enumerate(token_ids)}
        out = np.full((len(prompts), len(token_ids)), -np.inf)
        for row, o in enumerate(outputs):
            for tid, lp in o.outputs[0].logprobs[0].items():
                if tid in column:
                    out[row, column[tid]] = lp.logprob
        return out

    def last_hidden(self, prompts: list[list[int]]) -> np.ndarray:
        """``(prompts, hidden size)``: each prompt's last hidden state after the model's final norm — what the
        output head reads to predict the next token — from an engine started with ``runner="pooling"``."""
        from vllm.inputs import TokensPrompt

        if self.config.runner != "pooling":
            raise ConfigError("last_hidden needs an engine started with runner='pooling'")
        inputs = [TokensPrompt(prompt_token_ids=list(map(int, p))) for p in prompts]
        outputs = self.llm.embed(inputs, use_tqdm=False)
        return np.stack([np.asarray(o.outputs.embedding, dtype=np.float32) for o in outputs])

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *,
                       adapter: AdapterRef = None, against: int | None = None) -> list[np.ndarray]:
        return prefix_token_logprobs(self.label_logprobs, prompts, positions, adapter=adapter,
                                     against=against)

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: AdapterRef = None,
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
                log.warning("per-request seeds are ignored by vLLM on CPU: sampled words follow the engine's "
                            "seed (the same requests in the same order give the same words)")
            seeds = [None] * len(prompts)
        params = [params_for(schema, seed) for schema, seed in zip(schemas, seeds)]
        outputs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora_request(adapter))
        return [o.outputs[0].text for o in outputs]

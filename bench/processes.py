"""Subprocesses for the benchmarks: ``llmrec serve`` (and a vLLM server) started in their own process groups,
waited for, and always stopped (Ctrl-C and SIGTERM included)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from bench.first_answer import llmrec_command

__all__ = ["Child", "Children", "free_port", "running_service", "say", "serve_argv",
           "terminated_as_interrupt", "wait_until"]


def say(line: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(line, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as err:
        return f"(log unreadable: {err})"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Children:
    """Subprocesses started in their own process groups, every one stopped by :meth:`close` (SIGINT, then
    SIGTERM, then SIGKILL to the whole group)."""

    children: list[Child] = field(default_factory=list)
    keep_logs: bool = False

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        fd, path = tempfile.mkstemp(prefix=f"llmrec-bench-{name}-", suffix=".log")
        with os.fdopen(fd, "wb") as out:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        child = Child(name, proc, Path(path))
        self.children.append(child)
        say(f"started {name} (pid {proc.pid}, log {path})")
        return child

    @staticmethod
    def kill(child: Child, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.proc.pid, sig)

    def stop(self, child: Child, grace: float = 15.0) -> None:
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            if child.proc.poll() is not None:
                break
            self.kill(child, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=wait)
        self.kill(child, signal.SIGKILL)  # workers that outlived their parent

    def close(self) -> None:
        while self.children:
            child = self.children.pop()
            self.stop(child)
            if not self.keep_logs:
                child.log.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so that ``finally`` blocks stop the children."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def wait_until(child: Child, url: str, timeout: float) -> float:
    """Poll ``url`` until it answers 200; the seconds it took.  Raises if the child exits or time runs out."""
    import httpx

    start = time.monotonic()
    with httpx.Client(timeout=5.0) as client:
        while True:
            if child.proc.poll() is not None:
                raise SystemExit(f"{child.name} exited with code {child.proc.returncode} during start-up; "
                                 f"the end of its log ({child.log}):\n{_tail(child.log)}")
            if time.monotonic() - start > timeout:
                raise SystemExit(f"{child.name} did not answer {url} within {timeout:g} s; the end of its "
                                 f"log ({child.log}):\n{_tail(child.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return time.monotonic() - start
            time.sleep(0.5)


def serve_argv(port: int, db: str, *, backend: str = "vllm", url: str | None = None, retriever: str = "auto",
               no_llm: bool = False, request_timeout_s: float = 30.0, data: str | None = None) -> list[str]:
    """The ``llmrec serve`` command line."""
    argv = [*llmrec_command(), "serve", "--port", str(port), "--db", db, "--retriever", retriever,
            "--request-timeout-s", f"{request_timeout_s:g}"]
    argv += ["--data", data] if data else []
    if no_llm:
        return [*argv, "--no-llm"]
    return [*argv, "--backend", backend, *(["--url", url] if url else [])]


@contextlib.contextmanager
def running_service(children: Children, *, backend: str = "vllm", retriever: str = "auto",
                    no_llm: bool = False, request_timeout_s: float = 30.0, data: str | None = None,
                    kv_cache_gib: float = 1.0, llm_eager: bool = True, startup_timeout: float = 600.0
                    ) -> Iterator[tuple[str, Child | None, dict[str, float]]]:
    """Start (for ``backend="remote"``) a vLLM server, then ``llmrec serve``; yield the service's root URL,
    the vLLM server's child (or None) and the start-up seconds; stop both at exit."""
    startup: dict[str, float] = {}
    llm_child, llm_url = None, None
    with tempfile.TemporaryDirectory(prefix="llmrec-bench-") as tmp:
        if backend == "remote" and not no_llm:
            from llmrec.llm.serve import ServerConfig, server_command, server_url

            config = ServerConfig(port=free_port(), enforce_eager=llm_eager, kv_cache_gib=kv_cache_gib)
            argv, env = server_command(config)
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{kv_cache_gib:g}")
            llm_url = server_url(config)
            llm_child = children.start("vllm-server", argv, env)
            startup["vllm_server"] = wait_until(llm_child, f"{llm_url}/models", startup_timeout)
            say(f"vLLM server ready at {llm_url} after {startup['vllm_server']:.1f} s")
        port = free_port()
        argv = serve_argv(port, str(Path(tmp) / "conversations.sqlite"), backend=backend, url=llm_url,
                          retriever=retriever, no_llm=no_llm, request_timeout_s=request_timeout_s, data=data)
        serve = children.start("llmrec-serve", argv, {**os.environ, "PYTHONUNBUFFERED": "1"})
        url = f"http://127.0.0.1:{port}"
        startup["serve"] = wait_until(serve, f"{url}/health", startup_timeout)
        say(f"llmrec serve ready at {url} after {startup['serve']:.1f} s")
        try:
            yield url, llm_child, startup
        finally:
            children.stop(serve)
            if llm_child is not None:
                children.stop(llm_child)

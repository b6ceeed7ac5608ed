"""An LLM backend started in a background thread, so that the engine loads while other work goes on.

    start = BackendStart(config, create_backend)    # returns at once; the engine starts in a thread
    ...                                             # load the retriever, recall candidates
    backend = start.result()                        # waits for the start; its error is raised here

Starting the in-process vLLM engine takes most of a first answer's time (~50 s eager on 2 CPU cores), mostly
in the engine's own processes, so it overlaps well with the retriever's work in the calling process.

Imports are not overlapped: two threads importing the same lazily loaded package at once (transformers, which
both vLLM and sentence-transformers import piece by piece) can hand one of them a half-initialised module
(``ImportError: cannot import name 'PreTrainedConfig'``, seen when a conversation loaded its retriever while
the engine started).  A ``preload`` callable runs in the calling thread before the thread starts, importing
what the backend's start would import (:func:`llmrec.llm.backends.preload_backend`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from llmrec.llm.config import LLMConfig
from llmrec.timing import Progress, report

__all__ = ["BackendStart"]

B = TypeVar("B")


class BackendStart(Generic[B]):
    """``factory(config)`` running in its own thread from construction on.

    ``seconds`` is how long the start took (None while it runs); :meth:`result` waits for it and returns the
    backend, or raises the start's exception (with its traceback from the thread and a note saying where it
    came from).  The thread is not a daemon: a program that exits mid-start waits for the engine, which can
    then shut down cleanly instead of leaving its processes behind; :meth:`abandon` has the thread close the
    backend as soon as it is up (the start cannot be interrupted).
    """

    def __init__(self, config: LLMConfig, factory: Callable[[LLMConfig], B], *,
                 progress: Progress | None = None, preload: Callable[[LLMConfig], None] | None = None):
        self.config, self._factory, self._progress = config, factory, progress
        if preload is not None:  # in this thread, before the start's thread imports anything (module doc)
            preload(config)
        self.seconds: float | None = None
        self._backend: B | None = None
        self._error: BaseException | None = None
        self._traceback = None
        self._lock = threading.Lock()
        self._abandoned = False
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="llmrec-backend-start")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._backend = self._factory(self.config)
        except BaseException as err:  # noqa: BLE001 - handed to the thread that asks for the backend
            self._error, self._traceback = err, err.__traceback__
        finally:
            with self._lock:  # the backend is closed exactly once: here, or by abandon()
                self.seconds = time.perf_counter() - self._started
                abandoned = self._abandoned
        if abandoned:
            _close(self._backend)
        elif self._error is None:
            report(self._progress, f"{self.config.title()} ready in {self.seconds:.1f} s")
        else:
            report(self._progress, f"{self.config.title()} failed to start after {self.seconds:.1f} s: "
                                   f"{type(self._error).__name__}: {self._error}")

    def done(self) -> bool:
        """Whether the start has finished (either way)."""
        return not self._thread.is_alive()

    def elapsed(self) -> float:
        """Seconds since the start began (its duration once done)."""
        return self.seconds if self.seconds is not None else time.perf_counter() - self._started

    def abandon(self) -> None:
        """Nobody will use the backend: close it now, or when its start finishes (without waiting here)."""
        with self._lock:
            first, self._abandoned = not self._abandoned, True
            done = self.seconds is not None
        if first and done:
            _close(self._backend)

    def result(self) -> B:
        """The started backend; waits for the start, and raises its exception if it failed."""
        self._thread.join()
        if self._error is not None:
            err = self._error
            note = "(raised while the LLM backend started in a background thread)"
            if note not in getattr(err, "__notes__", ()):
                err.add_note(note)
            raise err.with_traceback(self._traceback)  # the thread's traceback, not one growing per call
        assert self._backend is not None
        return self._backend


def _close(backend: object) -> None:
    close = getattr(backend, "close", None)
    if close is not None:
        close()

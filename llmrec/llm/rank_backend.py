"""The ranker's LLM backend: its construction config, a start now or in the background, and its close.

:class:`RankBackend` is a base class of :class:`~llmrec.llm.ranker.LLMRanker`; it reads the ranker's
``config`` (model, adapter, extra adapters, backend, ``engine``), ``adapter`` and ``progress``, and keeps the
backend in ``_backend`` (given, or started on first use) and a background start in ``_start``.
"""

from __future__ import annotations

from llmrec.errors import LLMRecError, LLMUnavailable
from llmrec.llm.backends import LLMBackend, create_backend, preload_backend
from llmrec.llm.config import LLMConfig, Workload, backend_config, backend_fields
from llmrec.llm.starting import BackendStart
from llmrec.timing import report

__all__ = ["RankBackend"]


class RankBackend:
    """Start, wait for and close the ranker's backend (see :mod:`llmrec.llm.ranker` on background starts)."""

    _backend: LLMBackend | None
    _start: BackendStart | None

    def backend_config(self, workload: Workload = None) -> LLMConfig:
        """The backend's construction config: the ranker's model, adapter and ``engine`` settings, with
        ``workload`` (what the engine is started for) where the backend takes one and ``engine`` does not
        set it."""
        cfg = self.config
        engine = dict(cfg.engine)
        if workload is not None and "workload" in backend_fields(cfg.backend):
            engine.setdefault("workload", workload)
        adapters = ((self.adapter,) if self.adapter else ()) + tuple(cfg.extra_adapters)
        return backend_config(cfg.backend, model=cfg.model, adapters=adapters, **engine)

    def start(self, *, background: bool = False, workload: Workload = None) -> RankBackend:
        """Start the LLM backend now (a no-op when it is started or starting); with ``background``, in a
        thread, so that it loads while the retriever fits and recalls.  ``workload`` says what it is started
        for (``"interactive"``, ``"batch"`` or a number of prompts), which picks vLLM's eager or compiled
        execution unless ``engine.enforce_eager`` is set."""
        if self._backend is not None or self._start is not None:
            return self
        config = self.backend_config(workload)
        if background:
            report(self.progress, f"starting the {config.summary()} in the background...")
            self._start = BackendStart(config, create_backend, progress=self.progress,
                                       preload=preload_backend)
        else:
            report(self.progress, f"starting the {config.summary()}...")
            self._backend = create_backend(config)
        return self

    @property
    def backend(self) -> LLMBackend:
        """Started on first use (engine start is the slow part); a background start is waited for here."""
        if self._backend is None:
            if self._start is None:
                self.start()
            else:
                self._backend = self._started_backend(self._start)
        return self._backend

    @staticmethod
    def _started_backend(start: BackendStart) -> LLMBackend:
        try:
            return start.result()
        except LLMUnavailable:
            raise
        except LLMRecError:  # a bad setting or adapter: the user's to fix, not a degraded answer
            raise
        except Exception as err:
            raise LLMUnavailable(f"the {start.config.title()} did not start: {type(err).__name__}: {err}",
                                 cause="start failed") from err

    def backend_start_seconds(self) -> float | None:
        """How long the background start took (None: no background start, or it is still running)."""
        return self._start.seconds if self._start is not None else None

    def close(self) -> None:
        """Stop the LLM backend (an in-process engine's worker processes, a remote client's connections); a
        background start still running is abandoned: the backend is closed as soon as it is up."""
        if self._backend is None and self._start is not None:
            self._start.abandon()
            return
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()


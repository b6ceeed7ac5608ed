"""Stage timings and progress lines: what a request spent its seconds on, and what is being prepared.

    stages = Stages(progress=print)
    with stages.stage("recall") as s:
        cands = retriever.candidates(history, k=20)
        s.done = f"recalled {len(cands)} candidates"     # -> "recalled 20 candidates in 0.4 s"
    stages.seconds                                       # {"recall": 0.41}

Libraries report through ``progress`` (a callable taking one short line, or None for nothing) and logging
(DEBUG: a batch job ranks thousands of requests); CLIs decide where the lines go (``llmrec recommend``
prints them to stderr).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["Progress", "Stage", "Stages", "report"]

log = logging.getLogger(__name__)

#: A progress callback: one short line per call (it may be called from a background thread).
Progress = Callable[[str], None]


def report(progress: Progress | None, line: str) -> None:
    """Log ``line`` (DEBUG) and hand it to ``progress`` (when given)."""
    log.debug(line)
    if progress is not None:
        progress(line)


@dataclass
class Stage:
    """One running stage: set ``done`` to the line reported when it ends (``"<done> in 0.4 s"``)."""

    name: str
    done: str | None = None


class Stages:
    """Seconds per named stage, in the order the stages ran; a repeated stage adds up."""

    def __init__(self, progress: Progress | None = None):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)

    def say(self, line: str) -> None:
        report(self.progress, line)

    @contextmanager
    def stage(self, name: str, starting: str | None = None) -> Iterator[Stage]:
        """Time the block as stage ``name``, reporting ``starting`` first and the stage's ``done`` line after
        (with the seconds it took); the time is recorded even when the block raises."""
        if starting:
            self.say(starting)
        current = Stage(name)
        t0 = time.perf_counter()
        try:
            yield current
        finally:
            seconds = time.perf_counter() - t0
            self.add(name, seconds)
        if current.done:
            self.say(f"{current.done} in {seconds:.1f} s")

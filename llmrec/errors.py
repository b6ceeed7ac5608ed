"""The few domain exceptions llmrec raises.  Each message names what was wrong and where."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ArtifactError", "ConfigError", "DataError", "LLMRecError", "LLMUnavailable",
           "RecommenderOutputError"]


class LLMRecError(Exception):
    """Base class of every error llmrec raises on purpose."""


class DataError(LLMRecError, ValueError):
    """Input data is missing or malformed.  Names the file and, when known, the line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = Path(path) if path is not None else None
        self.line = line


class ArtifactError(LLMRecError):
    """A saved artifact (index, adapter, report, model cache) is missing, corrupt or mismatched."""


class ConfigError(LLMRecError, ValueError):
    """A configuration value is invalid; the message shows the bad value."""


class RecommenderOutputError(LLMRecError, ValueError):
    """A recommender produced unusable output (for example NaN or infinite scores)."""


class LLMUnavailable(LLMRecError):
    """The LLM server could not be reached, or answered with an error or something malformed.

    The message names the URL and the cause; ``url`` and ``cause`` hold them separately.
    """

    def __init__(self, message: str, *, url: str | None = None, cause: str | None = None):
        super().__init__(message)
        self.url = url
        self.cause = cause

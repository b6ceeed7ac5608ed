"""Prompt templates as named files in ``prompts/``, rendered to chat messages.

A template is a Jinja file whose ``### system`` / ``### user`` / ``### assistant`` lines start the
messages.  Its version id is ``<name>@<first 12 hex of the file's SHA-256>``, so any edit to a prompt
changes the id written into every report that used it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from llmrec.errors import ConfigError

__all__ = ["Prompt", "load_prompt"]

_ROLE = re.compile(r"^### (system|user|assistant)\s*$", re.MULTILINE)
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    parts: tuple[tuple[str, jinja2.Template], ...]  # (role, template) in order

    def messages(self, **variables: Any) -> list[dict[str, str]]:
        """The chat messages with ``variables`` filled in (a missing variable is an error)."""
        try:
            return [{"role": role, "content": t.render(**variables).strip()} for role, t in self.parts]
        except jinja2.UndefinedError as err:
            raise ConfigError(f"prompt {self.version}: {err}") from err


def _prompt_dir() -> Path:
    return Path(str(resources.files("prompts")))


@cache
def load_prompt(name: str, directory: str | None = None) -> Prompt:
    """Load ``prompts/<name>.jinja`` (or ``<directory>/<name>.jinja``)."""
    path = Path(directory or _prompt_dir()) / f"{name}.jinja"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.jinja"))
        raise ConfigError(f"no prompt named {name!r} in {path.parent} (have: {', '.join(known) or 'none'})")
    text = path.read_text(encoding="utf-8")
    pieces = _ROLE.split(text)
    if len(pieces) < 3:
        raise ConfigError(f"{path}: a prompt needs '### system' / '### user' lines starting its messages")
    parts = tuple((role, _ENV.from_string(body)) for role, body in zip(pieces[1::2], pieces[2::2]))
    version = f"{name}@{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    return Prompt(name, version, parts)

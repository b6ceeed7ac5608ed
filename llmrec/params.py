"""``key=value`` parameters from the command line (``--param``) as config values.

Values are JSON where they parse as JSON (``3``, ``true``, ``[1, 2]``, ``{"a": 1}``), else strings; a dotted
key sets a field of a nested config
(``engine.enforce_eager=true`` -> ``{"engine": {"enforce_eager": true}}``).
"""

from __future__ import annotations

import json
from typing import Any

from llmrec.errors import ConfigError

__all__ = ["parse_params"]


def parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--param takes key=value (or section.key=value), got {pair!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        *sections, name = key.split(".")
        target = params
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--param {pair!r}: {section} is already set to a value, not a section")
        target[name] = parsed
    return params

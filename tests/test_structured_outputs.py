"""Constrained answers: JSON of the schema, written the way the adapter learned it (``json.dumps``),
nothing else."""

from __future__ import annotations

import json

import pytest

from llmrec.llm.backends import structured_outputs

xgrammar_testing = pytest.importorskip("xgrammar.testing")

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["because", "reason"],
          "properties": {"because": {"type": "array", "items": {"enum": ["Fargo (1996)", "Heat (1995)"]},
                                     "minItems": 1, "maxItems": 2},
                         "reason": {"type": "string", "pattern": "^[a-z ]{1,40}$"}}}
ANSWER = {"because": ["Fargo (1996)", "Heat (1995)"], "reason": "both dark crime stories"}


def accepts(text: str) -> bool:
    return xgrammar_testing._is_grammar_accept_string(structured_outputs(SCHEMA)["grammar"], text)


def test_an_answer_written_by_json_dumps_is_accepted() -> None:
    assert accepts(json.dumps(ANSWER))


@pytest.mark.parametrize("text", [
    json.dumps(ANSWER)[:-1] + "    }",  # padding before the close: what once used up a whole token budget
    json.dumps(ANSWER) + "\n",
    json.dumps(ANSWER, indent=1),
    json.dumps(ANSWER, separators=(",", ":")),
])
def test_whitespace_json_dumps_would_not_write_is_refused(text: str) -> None:
    assert not accepts(text)


@pytest.mark.parametrize("answer", [
    {"because": ["Fargo"], "reason": "crime"},  # not a title of the enum
    {"because": [], "reason": "crime"},  # too few citations
    {"because": ["Fargo (1996)"], "reason": "Crime 1996"},  # outside the reason's pattern
    {"because": ["Fargo (1996)"], "reason": "crime", "extra": 1},
    {"because": ["Fargo (1996)"]},
])
def test_the_schema_still_binds(answer: dict) -> None:
    assert not accepts(json.dumps(answer))

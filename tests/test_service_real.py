"""The real ``llmrec serve`` (``--no-llm``, the untrained text retriever: no vLLM, no trained retriever),
started as a subprocess on MovieLens-100K: 8 conversations at once over HTTP answer without an error and every
item keeps its turn's constraints, and a schemathesis run against the real server finds no 5xx and no answer
that breaks the schema.  ``python -m bench.conversation load|fuzz`` does the same at size, with the LLM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.conversation_drive import Checker, drive, sample_plans
from bench.fuzz import fuzz_service
from bench.processes import Children, running_service


@pytest.fixture(scope="module")
def server(ml100k) -> Iterator[str]:
    """``llmrec serve --no-llm --retriever untrained`` on a free port, stopped (its process group) at the
    end."""
    with Children() as children, running_service(children, retriever="untrained", no_llm=True,
                                                 startup_timeout=120) as (url, _, _startup):
        yield url


def test_eight_concurrent_conversations_answer_and_keep_every_constraint(server, ml100k):
    plans = sample_plans(ml100k, 8, 3, seed=1)
    calls, _ = drive(server, plans, Checker(ml100k), concurrency=8, api="mixed", timeout=60)
    turns = [c for c in calls if c.kind != "create"]
    assert len(turns) == 8 * 3, [(c.conversation, c.kind, c.status, c.error) for c in calls]
    bad = [(c.conversation, c.kind, c.status, c.error) for c in calls if c.status is None or c.status >= 300]
    assert not bad
    assert not [p for c in turns for p in c.problems]
    assert sum(c.items for c in turns) > 0
    # no LLM: a turn that ranked anything says it was served degraded
    assert all(c.degraded for c in turns if c.items)
    assert {c.api for c in turns} == {"json", "chat"}


def test_schemathesis_finds_no_5xx_and_no_answer_that_breaks_the_schema(server):
    results = fuzz_service(server, examples=8)
    operations = {r.operation for r in results}
    assert {"POST /v1/recommend", "POST /v1/conversations/{conversation_id}/turns",
            "POST /v1/chat/completions", "GET /health"} <= operations
    assert all(r.cases > 0 for r in results if r.mode == "positive")
    failures = {f"{r.operation} ({r.mode}): {text}": n for r in results for text, n in r.failures.items()}
    assert not failures
    assert not [r for r in results if any(s.startswith("5") or not s[0].isdigit() for s in r.statuses)]

"""An OpenAPI fuzz run (schemathesis) against a running ``llmrec serve``: every operation, schema-valid and
schema-invalid cases, each checked by schemathesis (no 5xx, answers as the schema says)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.processes import say

__all__ = ["FuzzResult", "fuzz_service", "package_version"]


@dataclass
class FuzzResult:
    operation: str
    mode: str
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)  # failure text -> how many cases


def fuzz_service(url: str, examples: int, modes: tuple[str, ...] = ("positive", "negative"),
                 seed: int = 0) -> list[FuzzResult]:
    """Every operation of the service's OpenAPI schema, ``examples`` generated cases per mode: each sent and
    validated by schemathesis's checks (no 5xx, status code, content type and body as the schema says,
    schema-valid data accepted with 2xx/400/404, invalid data rejected with 4xx).  Failures are collected,
    not raised."""
    import requests
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "400", "404"]}}})
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    results = []
    with requests.Session() as session:
        live = session.post(f"{url}/v1/conversations", json={}, timeout=600).json()["id"]
        for op_result in schema.get_all_operations():
            operation = op_result.ok()
            for mode in modes:
                result = _fuzz_operation(operation, mode, url, session, examples, seed, live)
                results.append(result)
                say(f"fuzz {result.operation} ({mode}): {result.cases} cases, statuses "
                     f"{dict(result.statuses)}, {sum(result.failures.values())} failing")
    return results


def _fuzz_operation(operation, mode: str, url: str, session, examples: int, seed: int, live: str
                    ) -> FuzzResult:
    """One operation's ``examples`` cases of one generation mode, sent and checked.  Three schema-valid cases
    in four name the live conversation ``live`` and the model ``llmrec``, so that they reach the recommender
    (random ids and model names are a 404)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    result = FuzzResult(operation.label, mode)

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def send(case) -> None:
        result.cases += 1
        if mode == "positive" and result.cases % 4:
            if "conversation_id" in (case.path_parameters or {}):
                case.path_parameters["conversation_id"] = live
            if isinstance(case.body, dict) and "model" in case.body:
                case.body["model"] = "llmrec"
        try:
            response = case.call(base_url=url, session=session, timeout=600)
        except Exception as err:  # noqa: BLE001 - a transport failure is a finding
            result.statuses["transport error"] += 1
            result.failures[f"transport: {type(err).__name__}: {str(err)[:200]}"] += 1
            return
        result.statuses[str(response.status_code)] += 1
        try:
            case.validate_response(response, transport_kwargs={"base_url": url, "session": session})
        except Exception as err:  # noqa: BLE001 - schemathesis raises its failures
            result.failures[_failure_text(err, response.status_code)] += 1

    try:
        send()
    except Unsatisfiable:  # no schema-invalid input exists (an operation without parameters or body)
        pass
    return result


def _failure_text(err: Exception, status: int) -> str:
    parts = [str(e).strip().splitlines()[0] for e in getattr(err, "exceptions", [err]) if str(e).strip()]
    return f"HTTP {status}: {type(err).__name__}: {' | '.join(parts)[:300] or repr(err)[:300]}"


def package_version(package: str) -> str:
    from importlib.metadata import version

    return version(package)

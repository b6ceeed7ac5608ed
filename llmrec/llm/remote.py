"""The remote LLM backend: an OpenAI-compatible vLLM server, reached over HTTP.

Prompts arrive already chat-templated, so they go to ``/v1/completions`` as batches (a list of prompts per
request).  One-pass label scoring asks for ``max_tokens=1`` with vLLM's ``logprob_token_ids`` and
``return_tokens_as_token_ids``; the answer's ``top_logprobs[0]`` then maps ``"token_id:<id>"`` to the
log-probability of each requested label (the server writes -inf as -9999.0, which is mapped back).

Every request is retried with exponential backoff on connection errors, timeouts, 408/429 and 5xx;
anything else that goes wrong raises :class:`~llmrec.errors.LLMUnavailable` naming the URL and the cause.

Several servers (``url`` = comma-separated API roots, e.g. N replicas of the same model): requests go
round-robin to the healthy ones.  A server that fails a request is set aside and the request goes at once
to the next one; after ``cooldown`` seconds it is probed (``GET /health``, vLLM's liveness route) and gets
requests again once it answers.  Only when every server fails through the retries does the caller see
:class:`LLMUnavailable` (the pipeline's degraded mode then answers from the retriever).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import numpy as np

from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.llm.adapters import Adapter, AdapterSet, resolve_adapter
from llmrec.llm.base import AdapterRef, per_prompt, prefix_token_logprobs, structured_outputs
from llmrec.llm.config import RemoteConfig
from llmrec.models import resolve_llm

__all__ = ["Endpoints", "RemoteBackend", "api_root"]

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TOKEN_ID_PREFIX = "token_id:"
_SERVER_NEG_INF = -9999.0  # vLLM clamps -inf log-probabilities to this value in JSON answers


def api_root(url: str) -> str:
    """``url`` without a trailing slash, with ``/v1`` appended when it has no path."""
    root = url.rstrip("/")
    if httpx.URL(root).path in ("", "/"):
        root += "/v1"
    return root


def split_urls(url: str) -> list[str]:
    """The API roots of a comma-separated ``url`` (duplicates and blanks dropped, order kept)."""
    roots = [api_root(u.strip()) for u in url.split(",") if u.strip()]
    return list(dict.fromkeys(roots))


class Endpoints:
    """Which of several servers gets the next request: round-robin over the healthy ones; a failed one rests
    ``cooldown`` seconds, then must answer a health probe before it is used again."""

    def __init__(self, roots: list[str], cooldown: float, probe):
        self.roots = roots
        self.cooldown = cooldown
        self._probe = probe  # root -> bool (the server answers its health route)
        self._down: dict[str, float] = {}  # root -> monotonic time it may be probed
        self._next = 0
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        """The servers to try for one request, in order: healthy ones from the rotation's position, then
        rested ones that pass their probe; when none qualifies, all of them (a last try beats no answer)."""
        with self._lock:
            start = self._next
            self._next = (self._next + 1) % len(self.roots)
            rotation = self.roots[start:] + self.roots[:start]
            healthy = [r for r in rotation if r not in self._down]
            rested = [r for r in rotation if r in self._down and self._down[r] <= time.monotonic()]
        for root in rested:
            if self._probe(root):
                self.recovered(root)
                healthy.append(root)
            else:
                self.failed(root)
        return [r for r in rotation if r in healthy] or rotation  # a recovered server in its turn

    def failed(self, root: str) -> None:
        if len(self.roots) > 1:
            log.warning("llm_server_set_aside url=%s cooldown_s=%g", root, self.cooldown)
        with self._lock:
            self._down[root] = time.monotonic() + self.cooldown

    def recovered(self, root: str) -> None:
        with self._lock:
            if self._down.pop(root, None) is not None and len(self.roots) > 1:
                log.warning("llm_server_back url=%s", root)

    def healthy(self) -> list[str]:
        with self._lock:
            return [r for r in self.roots if r not in self._down]


class RemoteBackend:
    """OpenAI-compatible vLLM server(s) at ``config.url``; the tokenizer is loaded locally.

    Construction asks a server for its models (``/v1/models``), so an unreachable URL fails here with
    :class:`LLMUnavailable`; the request's model is ``config.served_model`` or the first one listed.
    With several servers, one answering is enough to start; the others are probed before their first use.
    """

    def __init__(self, config: RemoteConfig):
        if not config.url or not split_urls(config.url):
            raise ConfigError("the remote LLM backend needs the server's url, e.g. http://127.0.0.1:8000/v1 "
                              "(start one with `llmrec serve-llm`; several: comma-separated)")
        self.config = config
        self.urls = split_urls(config.url)
        self.url = self.urls[0]
        self._client = httpx.Client(timeout=config.timeout)
        self.endpoints = Endpoints(self.urls, config.cooldown, self._probe)
        self.models = self._served_models()
        if config.served_model is None:
            self.served_model = self.models[0]
        elif config.served_model in self.models:
            self.served_model = config.served_model
        else:
            raise ConfigError(f"the LLM server at {self.url} serves {self.models}, not "
                              f"{config.served_model!r}")
        self.model_path = resolve_llm(config.model)
        self.tokenizer = _load_tokenizer(self.model_path)
        self.adapters = AdapterSet(config.adapters, self.model_path, need_path=False)
        for a in self.adapters:
            self._check_served(a)

    def _check_served(self, adapter: Adapter) -> None:
        """An adapter directory (verified against the local base model) must be served under its name."""
        if adapter.path is not None and adapter.name not in self.models:
            raise ConfigError(f"the LLM server at {self.url} does not serve the LoRA adapter "
                              f"{adapter.path} (it serves {self.models}); start it with "
                              f"`llmrec serve-llm --lora {adapter.name}={adapter.path}`")

    def _adapter_name(self, adapter: AdapterRef) -> str | None:
        """The served name for ``adapter``: a configured one's name, or any other name (which the server may
        have loaded since; it answers 404 otherwise)."""
        if adapter is None:
            return None
        try:
            return self.adapters.get(adapter).name
        except ConfigError:
            handle = resolve_adapter(adapter)
            if handle.path is not None:
                handle.check_base(self.model_path)
                self._check_served(handle)
            return handle.name

    def close(self) -> None:
        self._client.close()

    def label_logprobs(self, prompts: list[str] | list[list[int]], token_ids: list[int], *,
                       adapter: AdapterRef = None) -> np.ndarray:
        """(len(prompts), len(token_ids)) next-token log-probabilities; a label the server omits is -inf.

        ``adapter`` names the model (for example a LoRA adapter the server serves) for these requests.
        """
        ids = [int(t) for t in token_ids]
        out = np.full((len(prompts), len(ids)), -np.inf)
        if not ids:
            return out
        col = {tid: j for j, tid in enumerate(ids)}
        for start, choices in self._completions(prompts, adapter, max_tokens=1, logprobs=len(ids),
                                                logprob_token_ids=ids, return_tokens_as_token_ids=True):
            for i, choice in enumerate(choices):
                try:
                    step = choice["logprobs"]["top_logprobs"][0]
                    for key, value in step.items():
                        if not key.startswith(_TOKEN_ID_PREFIX):
                            raise ValueError(f"key {key!r} is not {_TOKEN_ID_PREFIX}<id>")
                        tid = int(key[len(_TOKEN_ID_PREFIX):])
                        if tid in col:
                            out[start + i, col[tid]] = -np.inf if value <= _SERVER_NEG_INF else float(value)
                except (KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
                    raise self._malformed(f"no usable top_logprobs in choice {i} ({type(err).__name__}: "
                                          f"{err}): {str(choice)[:300]}") from None
        return out

    def token_logprobs(self, prompts: list[list[int]], positions: list[list[int]], *,
                       adapter: AdapterRef = None, against: int | None = None) -> list[np.ndarray]:
        """``log p(prompt[j] | prompt[:j])`` at each position, from next-token requests for the prefixes
        (the server's prefix cache shares their common blocks; see
        :func:`~llmrec.llm.base.prefix_token_logprobs`)."""
        return prefix_token_logprobs(self.label_logprobs, prompts, positions, adapter=adapter,
                                     against=against)

    def generate(self, prompts: list[str], max_tokens: int, *, adapter: AdapterRef = None,
                 json_schema: dict | list[dict] | None = None, temperature: float = 0.0,
                 seeds: list[int] | None = None) -> list[str]:
        """Greedy continuations (or sampled at ``temperature``), constrained to ``json_schema`` by the
        server's structured outputs; a schema per prompt takes one request each.  ``seeds`` are checked but
        not sent: a seeded request kills a vLLM CPU server's engine when its prefill is chunked, so the words
        follow the server's seed."""
        schemas, _ = per_prompt(prompts, json_schema, seeds)
        if len(prompts) > 1 and isinstance(json_schema, list):
            return [t for p, s in zip(prompts, schemas)
                    for t in self.generate([p], max_tokens, adapter=adapter, json_schema=s,
                                           temperature=temperature)]
        json_schema = schemas[0] if schemas else None
        texts: list[str] = []
        extra: dict[str, Any] = ({"structured_outputs": structured_outputs(json_schema)}
                                 if json_schema is not None else {})
        if temperature > 0:
            extra["temperature"] = temperature
        for _, choices in self._completions(prompts, adapter, max_tokens=max_tokens, **extra):
            for i, choice in enumerate(choices):
                text = choice.get("text") if isinstance(choice, dict) else None
                if not isinstance(text, str):
                    raise self._malformed(f"choice {i} has no text: {str(choice)[:300]}")
                texts.append(text)
        return texts

    def _completions(self, prompts: list[str] | list[list[int]], adapter: AdapterRef, **params: Any):
        """(offset, choices ordered by index) per chunk of ``request_batch`` prompts."""
        step = self.config.request_batch
        for start in range(0, len(prompts), step):
            chunk = prompts[start:start + step]
            body = {"model": self._adapter_name(adapter) or self.served_model, "prompt": chunk,
                    "temperature": 0.0, **params}
            data = self._request("POST", "/completions", body)
            choices = data.get("choices") if isinstance(data, dict) else None
            if not isinstance(choices, list) or len(choices) != len(chunk):
                raise self._malformed(f"expected {len(chunk)} choices, got: {str(data)[:300]}")
            try:
                choices = sorted(choices, key=lambda c: c["index"])
            except (KeyError, TypeError) as err:
                raise self._malformed(f"choices without an index ({err}): {str(choices)[:300]}") from None
            yield start, choices

    def _served_models(self) -> list[str]:
        data = self._request("GET", "/models")
        try:
            models = [m["id"] for m in data["data"]]
        except (KeyError, TypeError) as err:
            raise self._malformed(f"/models answer has no data[].id ({err}): {str(data)[:300]}") from None
        if not models or not all(isinstance(m, str) for m in models):
            raise self._malformed(f"/models lists no models: {str(data)[:300]}")
        return models

    def _malformed(self, detail: str) -> LLMUnavailable:
        cause = f"malformed response: {detail}"
        return LLMUnavailable(f"LLM server at {self.url}: {cause}", url=self.url, cause=cause)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer of one request, retried on transient failures; with several servers a failed
        one is set aside and the next one tried at once, the backoff coming only after a round of all."""
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.config.backoff * 2 ** (attempt - 1))
            for root in self.endpoints.order():
                url = root + path
                try:
                    response = self._client.request(method, url, json=body)
                except httpx.TimeoutException:
                    cause = f"timeout (no answer within {self.config.timeout:g} s)"
                except httpx.ConnectError as err:
                    cause = ("connection refused" if "refused" in str(err).lower()
                             else f"cannot connect ({err})")
                except httpx.TransportError as err:
                    cause = f"{type(err).__name__} ({err})"
                else:
                    if response.is_success:
                        self.endpoints.recovered(root)
                        try:
                            return response.json()
                        except ValueError:
                            raise self._malformed(f"not JSON: {response.text[:300]!r}") from None
                    cause = f"HTTP {response.status_code} ({_error_detail(response)})"
                    if response.status_code not in _RETRY_STATUS:
                        raise LLMUnavailable(f"LLM server at {url} answered {cause}", url=root, cause=cause)
                self.endpoints.failed(root)
                log.warning("llm_request_failed url=%s attempt=%d/%d cause=%r", url, attempt + 1, attempts,
                            cause)
        raise LLMUnavailable(f"LLM server at {url} unavailable after {attempts} attempt(s): {cause}. Is it "
                             "running? (`llmrec serve-llm` starts one)", url=root, cause=cause)

    def _probe(self, root: str) -> bool:
        """Whether the server answers its health route (vLLM: ``GET /health`` beside ``/v1``)."""
        base = root.removesuffix("/v1")
        try:
            return self._client.get(base + "/health", timeout=min(5.0, self.config.timeout)).is_success
        except httpx.HTTPError:
            return False


def _load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


def _error_detail(response: httpx.Response) -> str:
    """The server's error message (OpenAI style ``{"error": {"message": ...}}``) or the start of the body."""
    try:
        return str(response.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase

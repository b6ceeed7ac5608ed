"""The remote LLM backend and `llmrec serve-llm`.

Fast tests talk to a scripted OpenAI-compatible server (stdlib http.server in a thread); one end-to-end
test starts a real vLLM server with `local_server` and compares its scores to the transformers backend.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.configargs import add_config_arguments, config_from_args
from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.history import histories
from llmrec.llm import remote, serve
from llmrec.llm.backends import (
    RemoteConfig,
    TransformersConfig,
    create_backend,
    structured_outputs,
    vllm_cpu_env,
)
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.llm.remote import RemoteBackend
from llmrec.llm.serve import ServerConfig, local_server, server_command


class FakeVLLM(ThreadingHTTPServer):
    """Answers /v1/models and /v1/completions like vLLM 0.32.

    The log-probability of token id ``t`` is ``-t / 100``; ids in ``omit`` are left out of the answer and ids
    in ``neg_inf`` come back as vLLM writes -inf (-9999.0).  ``faults`` is consumed one per request: an int is
    that HTTP status, "sleep" answers after 1 s, any other str is sent as the body.  Request bodies are kept
    in ``requests``.
    """

    daemon_threads = True

    def __init__(self, models: tuple[str, ...] = ("llmrec", "my-lora")):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models = models
        self.omit: set[int] = set()
        self.neg_inf: set[int] = set()
        self.faults: list[int | str] = []
        self.requests: list[dict] = []
        self.healthy = True  # GET /health answers 200 (else 503)
        self.probes = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def completion(self, body: dict) -> dict:
        choices = []
        for i, prompt in enumerate(body["prompt"]):
            top = {f"token_id:{t}": (-9999.0 if t in self.neg_inf else -t / 100)
                   for t in body.get("logprob_token_ids") or [] if t not in self.omit}
            choices.append({"index": i, "text": f"echo {prompt}",
                            "logprobs": {"top_logprobs": [top]} if body.get("logprobs") else None})
        return {"object": "text_completion", "model": body["model"], "choices": choices[::-1]}  # any order


class _Handler(BaseHTTPRequestHandler):
    server: FakeVLLM

    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: dict | None) -> None:
        if body is not None:
            self.server.requests.append(body)
        fault = self.server.faults.pop(0) if self.server.faults else None
        if fault == "sleep":
            time.sleep(1.0)
        if isinstance(fault, int):
            status, payload = fault, json.dumps({"error": {"message": f"scripted {fault}", "code": fault}})
        elif isinstance(fault, str) and fault != "sleep":
            status, payload = 200, fault
        elif self.path == "/v1/models":
            status, payload = 200, json.dumps({"object": "list",
                                               "data": [{"id": m} for m in self.server.models]})
        else:
            status, payload = 200, json.dumps(self.server.completion(body or {}))
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up (timeout tests)
            self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self.server.probes += 1
            self.send_response(200 if self.server.healthy else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._answer(None)

    def do_POST(self) -> None:
        self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))


@contextlib.contextmanager
def running_fake() -> Iterator[FakeVLLM]:
    """A scripted server answering in a thread until the block ends."""
    server = FakeVLLM()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeVLLM]:
    with running_fake() as server:
        yield server


@pytest.fixture
def fake2() -> Iterator[FakeVLLM]:
    """A second server (another replica)."""
    with running_fake() as server:
        yield server


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local model directory; the tokenizer is a stand-in, so the fast tests need no model files."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    monkeypatch.setattr(remote, "_load_tokenizer", lambda path: f"tokenizer of {path}")
    return str(tmp_path / "model")


def backend(url: str, model_dir: str, **config) -> RemoteBackend:
    config = {"timeout": 5.0, "retries": 0, "backoff": 0.0, **config}
    return RemoteBackend(RemoteConfig(url=url, model=model_dir, **config))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- scoring and generation ------------------------------------------------------------------------------

def test_label_logprobs_come_back_in_the_order_of_the_requested_ids(fake: FakeVLLM, model_dir: str) -> None:
    fake.omit, fake.neg_inf = {7777}, {52}
    b = backend(fake.url, model_dir)
    scores = b.label_logprobs(["p0", "p1"], [50, 49, 7777, 52])
    np.testing.assert_array_equal(scores, [[-0.50, -0.49, -np.inf, -np.inf]] * 2)
    assert fake.requests[-1] == {"model": "llmrec", "prompt": ["p0", "p1"], "temperature": 0.0,
                                 "max_tokens": 1, "logprobs": 4, "logprob_token_ids": [50, 49, 7777, 52],
                                 "return_tokens_as_token_ids": True}


def test_token_logprobs_score_each_position_after_its_prefix_longest_prefixes_first(fake: FakeVLLM,
                                                                                    model_dir: str) -> None:
    b = backend(fake.url, model_dir)
    rows = b.token_logprobs([[5, 6, 7, 9], [8, 9]], [[1, 3], [1]])
    np.testing.assert_allclose(rows[0], [-0.06, -0.09])
    np.testing.assert_allclose(rows[1], [-0.09])
    # wave 1: each prompt's longest prefix (they fill the server's prefix cache); wave 2: the shorter ones
    assert [(r["prompt"], r["logprob_token_ids"]) for r in fake.requests[-2:]] == [([[5, 6, 7], [8]], [9]),
                                                                                   ([[5]], [6])]


def test_prompts_go_in_chunks_of_request_batch_and_rows_keep_prompt_order(
        fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir, request_batch=2)
    assert b.generate(["a", "b", "c", "d", "e"], max_tokens=3) == [f"echo {p}" for p in "abcde"]
    assert [r["prompt"] for r in fake.requests] == [["a", "b"], ["c", "d"], ["e"]]
    assert all(r["max_tokens"] == 3 and r["temperature"] == 0.0 for r in fake.requests)


def test_a_json_schema_goes_to_the_servers_structured_outputs_one_request_per_schema(fake: FakeVLLM,
                                                                                    model_dir: str) -> None:
    b = backend(fake.url, model_dir)
    one, two = {"type": "object", "title": "one"}, {"type": "object", "title": "two"}
    assert b.generate(["a", "b"], max_tokens=5, json_schema=one) == ["echo a", "echo b"]
    sent = fake.requests[-1]["structured_outputs"]
    assert sent == structured_outputs(one) and "grammar" in sent and fake.requests[-1]["prompt"] == ["a", "b"]
    assert b.generate(["a", "b"], max_tokens=5, json_schema=[one, two]) == ["echo a", "echo b"]
    assert ([(r["prompt"], r["structured_outputs"]) for r in fake.requests[-2:]]
            == [(["a"], structured_outputs(one)), (["b"], structured_outputs(two))])


def test_sampled_continuations_send_the_temperature_but_no_seeds(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir)
    assert b.generate(["a", "b"], max_tokens=5, temperature=0.7, seeds=[11, 12]) == ["echo a", "echo b"]
    assert [(r["prompt"], r["temperature"], "seed" in r) for r in fake.requests] == [(["a", "b"], 0.7, False)]
    with pytest.raises(ValueError, match="2 prompts but 2 schemas and 1 seeds"):
        b.generate(["a", "b"], max_tokens=5, temperature=0.7, seeds=[11])


def test_the_served_model_is_the_first_listed_unless_configured_and_an_adapter_overrides_it(
        fake: FakeVLLM, model_dir: str) -> None:
    assert backend(fake.url, model_dir).served_model == "llmrec"
    b = backend(fake.url, model_dir, served_model="my-lora")
    b.label_logprobs(["p"], [1])
    b.label_logprobs(["p"], [1], adapter="other-lora")
    assert [r["model"] for r in fake.requests] == ["my-lora", "other-lora"]
    with pytest.raises(ConfigError, match=r"serves \['llmrec', 'my-lora'\], not 'nope'"):
        backend(fake.url, model_dir, served_model="nope")


def test_the_url_may_omit_v1_and_the_tokenizer_is_the_local_model(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url.removesuffix("/v1") + "/", model_dir)
    assert b.url == fake.url
    assert b.tokenizer == f"tokenizer of {model_dir}"


# --- several servers ----------------------------------------------------------------------------------------

def test_requests_are_spread_round_robin_over_several_servers(fake: FakeVLLM, fake2: FakeVLLM,
                                                              model_dir: str) -> None:
    b = backend(f"{fake.url}, {fake2.url}", model_dir)
    assert b.urls == [fake.url, fake2.url]
    for _ in range(4):
        assert b.label_logprobs(["p"], [10]).tolist() == [[-0.1]]
    completions = [len([r for r in f.requests if "prompt" in r]) for f in (fake, fake2)]
    assert completions == [2, 2]


def test_a_failing_server_is_set_aside_at_once_and_probed_before_it_gets_requests_again(
        fake: FakeVLLM, fake2: FakeVLLM, model_dir: str) -> None:
    b = backend(f"{fake.url},{fake2.url}", model_dir, retries=2, backoff=10.0, cooldown=0.2)
    fake.faults = [503]
    start = time.monotonic()
    for _ in range(2):  # one of them goes to the first server, fails there, is answered by the second
        assert b.label_logprobs(["p"], [10]).tolist() == [[-0.1]]
    assert time.monotonic() - start < 5  # no backoff wait
    assert not fake.faults and b.endpoints.healthy() == [fake2.url]
    fake.healthy = False
    time.sleep(0.3)
    b.label_logprobs(["p"], [10])
    assert fake.probes >= 1 and b.endpoints.healthy() == [fake2.url]  # probed, still unwell: set aside
    fake.healthy = True
    time.sleep(0.3)
    before = len(fake.requests)
    for _ in range(2):
        b.label_logprobs(["p"], [10])
    assert len(fake.requests) > before and b.endpoints.healthy() == [fake.url, fake2.url]


def test_a_stopped_server_gives_no_error_while_another_answers(fake: FakeVLLM, model_dir: str) -> None:
    with running_fake() as stopped:  # a replica that answered at start-up, then went away
        b = backend(f"{stopped.url},{fake.url}", model_dir, retries=0)
    for _ in range(3):
        assert b.label_logprobs(["p"], [10]).tolist() == [[-0.1]]
    assert b.endpoints.healthy() == [fake.url]


def test_when_every_server_fails_the_error_names_the_last_one(fake: FakeVLLM, fake2: FakeVLLM,
                                                               model_dir: str) -> None:
    b = backend(f"{fake.url},{fake2.url}", model_dir, retries=0)
    fake.faults, fake2.faults = [503], [503]
    with pytest.raises(LLMUnavailable, match=r"unavailable after 1 attempt\(s\): HTTP 503"):
        b.label_logprobs(["p"], [10])


# --- failures ---------------------------------------------------------------------------------------------

def test_transient_failures_are_retried_with_exponential_backoff(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir, retries=3, backoff=0.1)
    fake.faults = [503, 500, 429]
    start = time.monotonic()
    assert b.label_logprobs(["p"], [10]).tolist() == [[-0.1]]
    assert time.monotonic() - start >= 0.1 + 0.2 + 0.4
    assert len(fake.requests) == 4  # 3 failures, then a success


def test_retries_that_run_out_name_the_url_status_and_server_message(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir, retries=1)
    fake.faults = [503, 503]
    with pytest.raises(LLMUnavailable, match=rf"{fake.url}/completions unavailable after 2 attempt\(s\): "
                                             r"HTTP 503 \(scripted 503\)") as err:
        b.label_logprobs(["p"], [10])
    assert err.value.url == fake.url


def test_a_client_error_is_not_retried(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir, retries=3, backoff=5.0)
    fake.faults = [400]
    with pytest.raises(LLMUnavailable, match=r"answered HTTP 400 \(scripted 400\)"):
        b.label_logprobs(["p"], [10])


def test_connection_refused_fails_at_construction_naming_the_url(model_dir: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMUnavailable, match=rf"{url}/models unavailable after 3 attempt\(s\): connection "
                                             r"refused\. Is it running\?") as err:
        backend(url, model_dir, retries=2, backoff=0.01)
    assert err.value.cause == "connection refused"


def test_a_server_that_does_not_answer_in_time_is_a_timeout(fake: FakeVLLM, model_dir: str) -> None:
    b = backend(fake.url, model_dir, timeout=0.2, retries=1)
    fake.faults = ["sleep", "sleep"]
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match=r"after 2 attempt\(s\): timeout \(no answer within 0\.2 s\)"):
        b.label_logprobs(["p"], [10])
    assert time.monotonic() - start < 1.5


@pytest.mark.parametrize(("body", "message"), [
    ("<html>oops</html>", "malformed response: not JSON"),
    ('{"choices": []}', "malformed response: expected 1 choices"),
    ('{"choices": [{"index": 0, "text": "A", "logprobs": null}]}', "no usable top_logprobs in choice 0"),
    ('{"choices": [{"index": 0, "logprobs": {"top_logprobs": [{"A": -0.1}]}}]}', "'A' is not token_id:<id>"),
    ('{"choices": [{"logprobs": {"top_logprobs": [{}]}}]}', "choices without an index"),
])
def test_a_malformed_answer_is_reported_not_retried(fake: FakeVLLM, model_dir: str, body: str,
                                                    message: str) -> None:
    b = backend(fake.url, model_dir, retries=3, backoff=5.0)
    fake.faults = [body]
    with pytest.raises(LLMUnavailable, match=rf"LLM server at {fake.url}: .*{message}"):
        b.label_logprobs(["p"], [10])


def test_a_malformed_model_list_fails_at_construction(fake: FakeVLLM, model_dir: str) -> None:
    fake.faults = ['{"data": []}']
    with pytest.raises(LLMUnavailable, match="/models lists no models"):
        backend(fake.url, model_dir)


def test_a_remote_config_without_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="remote LLM backend needs the server's url"):
        create_backend(RemoteConfig())


# --- serve-llm --------------------------------------------------------------------------------------------

def adapter(tmp_path: Path, name: str, rank: int) -> Path:
    (tmp_path / name).mkdir()
    (tmp_path / name / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    return tmp_path / name


def test_serve_llm_runs_the_api_server_module_with_the_model_and_lora_modules(tmp_path: Path,
                                                                              model_dir: str) -> None:
    a, b = adapter(tmp_path, "a", 8), adapter(tmp_path, "b", 12)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ServerConfig)
    config = config_from_args(ServerConfig, parser.parse_args(
        ["--model", model_dir, "--port", "8123", "--lora", f"pop={a}", "--lora", f"drama={b}"]))
    argv, env = server_command(config)
    model, a, b = Path(model_dir).resolve(), a.resolve(), b.resolve()
    assert argv[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    flags = " ".join(argv[3:])
    assert f"--model {model} --served-model-name llmrec --host 127.0.0.1 --port 8123" in flags
    assert "--max-model-len 2048" in flags and "--enable-prefix-caching" in flags
    assert f"--enable-lora --max-loras 2 --max-lora-rank 16 --lora-modules pop={a} drama={b}" in flags
    if not torch.cuda.is_available():
        assert "--dtype float32" in flags and "--block-size 32" in flags
    assert "--enforce-eager" not in flags  # compiled, as the embedded engine
    assert "VLLM_CPU_KVCACHE_SPACE" in env


def test_serve_llm_rejects_a_lora_that_is_not_name_equals_adapter_directory(tmp_path: Path,
                                                                            model_dir: str) -> None:
    with pytest.raises(ConfigError, match="expected NAME=DIRECTORY"):
        server_command(ServerConfig(model=model_dir, lora=[str(tmp_path)]))
    with pytest.raises(ConfigError, match="is not a LoRA adapter directory"):
        server_command(ServerConfig(model=model_dir, lora=[f"x={tmp_path}"]))


def test_cpu_env_defaults_keep_what_the_environment_already_sets() -> None:
    assert vllm_cpu_env(1.5, {})["VLLM_CPU_KVCACHE_SPACE"] == "1.5"
    assert "VLLM_CPU_KVCACHE_SPACE" not in vllm_cpu_env(1.5, {"VLLM_CPU_KVCACHE_SPACE": "4"})
    assert vllm_cpu_env(1.0, {"VLLM_CPU_KVCACHE_SPACE": "4", "VLLM_CPU_OMP_THREADS_BIND": "0",
                              "VLLM_USE_AOT_COMPILE": "1"}) == {}
    if not torch.cuda.is_available():  # the compile cache that loads on CPU
        assert vllm_cpu_env(1.0, {})["VLLM_USE_AOT_COMPILE"] == "0"


def test_local_server_that_dies_at_start_up_quotes_its_log(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    script = "import sys; print('loading weights'); print('RuntimeError: out of memory'); sys.exit(3)"
    monkeypatch.setattr(serve, "server_command",
                        lambda config: ([sys.executable, "-c", script], dict(os.environ)))
    with (pytest.raises(LLMUnavailable,
                        match=r"(?s)exited with code 3 during start-up.*RuntimeError: out of memory"),
          local_server(startup_timeout=30, log_path=tmp_path / "server.log")):
        pass


# --- end to end -------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_a_real_server_scores_like_the_transformers_backend_and_fails_cleanly_once_stopped(
        monkeypatch: pytest.MonkeyPatch, tiny) -> None:
    pytest.importorskip("vllm")
    from llmrec.llm.backends import TransformersBackend, chat_prompt, label_token_ids

    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    # eager: quicker start
    with local_server(ServerConfig(port=0, enforce_eager=True), startup_timeout=240) as url:
        b = RemoteBackend(RemoteConfig(url=url, timeout=60, retries=1, backoff=0.1))
        ids = label_token_ids(b.tokenizer, list("ABCD"))
        prompts = [chat_prompt(b.tokenizer, [{"role": "user", "content": c}]) for c in (
            "Which is a fruit? A. car B. apple C. house D. shoe. Answer with the letter.",
            ("Which film is a horror film? A. Toy Story B. Heat C. Halloween D. Fargo. "
             "Answer with the letter."),
            "Pick one letter: A, B, C or D.")]
        served = b.label_logprobs(prompts, ids)
        assert len(b.generate(prompts[:1], max_tokens=4)[0]) > 0
        ranker = LLMRanker(LLMRankerConfig(candidates=2), backend=b).fit(tiny)
        users = histories(tiny.interactions)
        assert not ranker.rank(users[1]).meta.get("degraded")
    reference = TransformersBackend(TransformersConfig()).label_logprobs(prompts, ids)
    np.testing.assert_allclose(served, reference, atol=0.05)

    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match=rf"{url}/completions unavailable .*connection refused"):
        b.label_logprobs(prompts, ids)
    assert time.monotonic() - start < 5
    # the ranker, mid-run: the next request gets the retriever's order, marked degraded with the reason
    out = ranker.rank(users[2])
    assert out.meta["degraded"] is True and "connection refused" in out.meta["reason"] and len(out) == 2
    assert ranker.stats()["degraded_users"] == 1

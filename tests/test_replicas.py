"""Replicated serving, for real: two ``llmrec serve`` processes on one PostgreSQL (started here by pgserver)
and two vLLM OpenAI servers behind the remote backend (``--url A,B``).  A conversation started on one replica
is continued on the other with its state; with one vLLM server stopped mid-run the turns still answer, ranked
by the LLM (not degraded)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bench.processes import Children, free_port, serve_argv, wait_until

pgserver = pytest.importorskip("pgserver")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, ml100k) -> Iterator[dict]:
    from llmrec.llm.serve import ServerConfig, server_command, server_url

    pg = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    with Children() as children:
        llms = []
        for name in ("vllm-a", "vllm-b"):
            config = ServerConfig(port=free_port(), enforce_eager=True, kv_cache_gib=1.0)
            argv, env = server_command(config)
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
            llms.append((children.start(name, argv, env), server_url(config)))
        for child, url in llms:
            wait_until(child, f"{url}/models", 600)
        urls = ",".join(url for _, url in llms)
        replicas = []
        for name in ("serve-1", "serve-2"):
            port = free_port()
            argv = serve_argv(port, pg.get_uri(), backend="remote", url=urls, retriever="untrained",
                              request_timeout_s=120)
            child = children.start(name, argv)
            replicas.append((child, f"http://127.0.0.1:{port}"))
        for child, url in replicas:
            wait_until(child, f"{url}/health", 300)
        yield {"children": children, "llms": llms, "replicas": [url for _, url in replicas]}
    pg.cleanup()


def turn(root: str, conversation: str, text: str) -> dict:
    answer = httpx.post(f"{root}/v1/conversations/{conversation}/turns", json={"text": text, "k": 5},
                        timeout=180)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_conversation_continues_on_the_other_replica_and_survives_a_vllm_server_stopping(cluster):
    one, two = cluster["replicas"]
    conversation = httpx.post(f"{one}/v1/conversations", json={}, timeout=60).json()["id"]
    first = turn(one, conversation, "a comedy from the 1990s")
    assert first["turn"] == 1 and not first["degraded"]
    second = turn(two, conversation, "no horror please")  # the other replica, the same conversation
    assert second["turn"] == 2
    assert "Comedy" in second["parse"]["genres_all"] + second["parse"]["genres_any"]
    assert second["parse"]["year_min"] == 1990 and "Horror" in second["parse"]["genres_none"]
    state = httpx.get(f"{one}/v1/conversations/{conversation}", timeout=60).json()
    assert [t["turn"] for t in state["turn_log"]] == [1, 2]

    children = cluster["children"]
    children.stop(cluster["llms"][0][0])  # one vLLM server goes away mid-run
    answers = [turn(root, conversation, text) for root, text in
               ((one, "something with more action"), (two, "maybe older"), (one, "any of those"))]
    assert [a["turn"] for a in answers] == [3, 4, 5]
    assert not any(a["degraded"] for a in answers), [a["reason"] for a in answers]

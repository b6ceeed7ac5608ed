"""The public Python API: the README's example runs as written, and the nouns and verbs it shows exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import llmrec

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, "the README has no python example"
    return blocks[0]


def test_the_public_api_is_a_few_nouns_and_verbs():
    for name in ("Dataset", "Catalog", "History", "Request", "Recommender", "Pipeline", "Recommendations",
                 "Report", "load_dataset", "create_recommender", "registered_recommenders", "evaluate"):
        assert name in llmrec.__all__ and hasattr(llmrec, name)


def test_every_registered_recommender_can_be_created_by_name_from_the_api():
    assert {"popularity", "itemknn", "dense", "llm"} <= set(llmrec.registered_recommenders())
    for name in llmrec.registered_recommenders():
        assert llmrec.create_recommender(name).name == name


def test_an_unknown_recommender_names_the_known_ones():
    known = "dense, genllm, graph, hybrid, itemknn, llm, popularity, rerank"
    with pytest.raises(llmrec.ConfigError, match=f"unknown recommender 'nope'; known: {known}"):
        llmrec.create_recommender("nope")


@pytest.mark.e2e
def test_the_readme_python_example_runs_as_written(ml100k, capsys):
    exec(compile(readme_example(), str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102 (our own README)
    out = capsys.readouterr().out.splitlines()
    scores = [line for line in out if re.match(r"^\s*-?\d+\.\d{3}  \S", line)]
    assert len(scores) == 5  # k=5 recommendations, best first
    values = [float(s.split()[0]) for s in scores]
    assert values == sorted(values, reverse=True)
    explanation = next(line for line in out if "degraded:" in line)
    assert explanation.endswith("degraded: False") and "Because" in explanation
    assert 0.0 < float(out[-2]) < 1.0  # popularity's validation NDCG@10
    assert "'llm'" in out[-1]


def test_python_dash_m_llmrec_is_the_llmrec_command():
    done = subprocess.run([sys.executable, "-m", "llmrec", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0
    assert all(c in done.stdout for c in ("evaluate", "recommend", "history", "models", "serve-llm"))


def test_a_pipeline_request_is_re_ranked_by_its_objective_weights_within_its_constraints(monkeypatch):
    """``Pipeline.recommend(request=..., objectives=...)``: the weights reach the conversational engine, which
    re-orders the constrained answer by them (a scripted LLM stands in for vLLM)."""
    from llmrec.llm import rank_backend as backend_module
    from llmrec.recommenders.objectives import ObjectiveWeights
    from llmrec.testing import ScriptedLLM, conformance_dataset

    monkeypatch.setattr(backend_module, "create_backend", lambda config: ScriptedLLM())
    with llmrec.Pipeline(conformance_dataset(), retriever=None, ranker={"candidates": 6}) as p:
        conversations = p.conversations()
        given = []
        recommend = conversations.recommend

        def recorded(text, **kwargs):
            given.append(kwargs["objectives"])
            return recommend(text, **kwargs)

        monkeypatch.setattr(conversations, "recommend", recorded)
        plain = p.recommend(request="a thriller", k=6)
        diverse = p.recommend(request="a thriller", k=6, objectives={"diversity": 5.0, "page": 0})
        with pytest.raises(llmrec.ConfigError, match="invalid objective weights"):
            p.recommend(request="a thriller", objectives={"diversity": -1})
    assert given == [None, ObjectiveWeights(diversity=5.0, page=0)]
    catalog = p.data.catalog
    assert all("Thriller" in catalog.genres(int(i)) for i in [*plain.items, *diverse.items])
    assert sorted(diverse.items.tolist()) == sorted(plain.items.tolist())  # every thriller, re-ordered
    assert diverse.items.tolist() != plain.items.tolist()
    scores = dict(zip(plain.items.tolist(), plain.scores.tolist()))
    assert dict(zip(diverse.items.tolist(), diverse.scores.tolist())) == scores  # each score kept by its item


def test_a_conversation_turn_said_in_python_takes_its_own_objective_weights():
    """``Conversation.say(..., objectives=...)`` passes the weights to that turn only."""
    from llmrec.converse.conversation import Conversation

    class Recording:
        def __init__(self):
            self.calls = []

        def create(self, user=None):
            return "c1"

        def turn(self, conversation_id, text, **kwargs):
            self.calls.append((conversation_id, text, kwargs))
            return text

    converser = Recording()
    conv = Conversation(converser, user=7)
    conv.say("a comedy", k=5, objectives={"diversity": 0.3})
    conv.say("not the first one")
    weights = {"diversity": 0.3}
    assert converser.calls == [("c1", "a comedy", {"k": 5, "explain": None, "objectives": weights}),
                               ("c1", "not the first one", {"k": None, "explain": None, "objectives": None})]

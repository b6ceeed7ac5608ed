"""End to end with the real SmolLM2-135M through vLLM: the two-stage recommender on MovieLens-100K."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.history import histories
from llmrec.llm.backends import TransformersBackend, TransformersConfig
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ranked(ml100k):
    """The untrained-retriever + vLLM ranker on three users, and the same prompts through transformers; both
    rank by the LLM's own scores (``retriever_weight=0``: a distribution over the 20, not the default
    fusion)."""
    ranker = LLMRanker(LLMRankerConfig(candidates=20, retriever_weight=0.0)).fit(ml100k)
    hs = [histories(ml100k.interactions)[u] for u in (1, 2, 3)]
    ranker.prepare(hs)
    lists = [ranker.rank(h) for h in hs]
    reference = LLMRanker(LLMRankerConfig(candidates=20, retriever_weight=0.0),
                          backend=TransformersBackend(TransformersConfig())).fit(ml100k)
    yield ranker, reference, hs, lists
    ranker.backend.close()  # a dropped engine keeps its worker busy


def test_all_twenty_candidates_are_scored_in_one_pass_as_a_distribution(ranked):
    ranker, _, hs, lists = ranked
    for h, out in zip(hs, lists):
        assert len(out) == 20 and not out.meta.get("degraded")
        assert set(out.items) == set(ranker.retriever.candidates(h, k=20).items)
        assert np.isfinite(out.scores).all() and np.isclose(np.logaddexp.reduce(out.scores), 0.0, atol=1e-4)
    stats = ranker.stats()
    assert (stats["llm_users"] == 3 and stats["degraded_users"] == 0
            and stats["prompt_version"].startswith("rank@"))


def test_vllm_and_the_transformers_reference_give_the_same_scores(ranked):
    _, reference, hs, lists = ranked
    for h, out in zip(hs, lists):
        ref = reference.rank(h)
        ours = dict(zip(out.items.tolist(), out.scores))
        assert max(abs(ours[i] - s) for i, s in zip(ref.items.tolist(), ref.scores)) < 0.1


def test_marks_scoring_through_vllm_matches_the_transformers_one_pass_reference(ranked, ml100k):
    ranker, reference, hs, _ = ranked
    marks = LLMRanker(LLMRankerConfig(candidates=20, scoring="marks"), backend=ranker.backend).fit(ml100k)
    ref = LLMRanker(LLMRankerConfig(candidates=20, scoring="marks"), backend=reference.backend).fit(ml100k)
    jobs = [marks.request(h) for h in hs]
    for ours, theirs in zip(marks.llm_scores_many(jobs), ref.llm_scores_many(jobs)):
        assert ours.shape == (20,) and np.isclose(np.logaddexp.reduce(ours), 0.0, atol=1e-4)
        assert np.abs(ours - theirs).max() < 0.1


def test_an_items_own_mark_evidence_through_vllm_matches_the_reference(ranked, ml100k):
    ranker, reference, hs, _ = ranked
    marks = LLMRanker(LLMRankerConfig(candidates=20, scoring="marks"), backend=ranker.backend).fit(ml100k)
    ref = LLMRanker(LLMRankerConfig(candidates=20, scoring="marks"), backend=reference.backend).fit(ml100k)
    jobs = [marks.request(h).about(int(marks.recall(h).items[n])) for n, h in enumerate(hs)]
    ours, theirs = marks.item_scores_many(jobs), ref.item_scores_many(jobs)
    assert ours.shape == (3,) and np.isfinite(ours).all() and np.abs(ours - theirs).max() < 0.1


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_explanations_are_constrained_to_relevant_evidence_and_true_predicates(ranked, ml100k, temperature):
    from llmrec.explain import Explainer, ExplainerConfig

    ranker, _, hs, lists = ranked
    explainer = Explainer(ranker, ExplainerConfig(temperature=temperature))
    for h, out in zip(hs, lists):
        explained = explainer.explain(out, k=2).meta["explanations"]  # sampled: still within the schema
        assert [e.item for e in explained] == out.items[:2].tolist()
        for e in explained:
            assert e.raw_text, f"vLLM's structured output gave an unusable answer: {e.raw_answer!r}"
            # no whitespace json.dumps would not write
            assert e.raw_answer == json.dumps(json.loads(e.raw_answer))
            assert set(e.raw_cited_items) <= set(ranker.shown_history(h).items.tolist())
            assert set(e.cited_items) <= set(h.items.tolist())
            assert set(e.genres) <= set(ml100k.catalog.genres(e.item))
            assert ml100k.catalog.title(e.item) in e.text
            # the schema admits only finished, relevant, non-repeating sentences of true claims
            assert e.problems == () and not e.replaced and e.text == e.raw_text, e.problems


def test_llmrec_recommend_prints_the_llm_ranked_titles(ml100k, capsys):
    from llmrec.cli import main
    from llmrec.data import default_data_path

    assert main(["recommend", "--data", str(default_data_path()), "--user", "7", "--k", "5",
                 "--retriever", "untrained"]) == 0
    out = capsys.readouterr().out
    assert "top 5 for user 7 (llm)" in out and "degraded" not in out
    assert len([line for line in out.splitlines() if line[:1].isdigit()]) == 5
    assert len([line for line in out.splitlines() if line.startswith("* ")]) == 3  # the top 3 explained

"""Every registered recommender passes the library's conformance checks (llmrec.testing.RecommenderTests)."""

import tempfile
from typing import ClassVar

from llmrec.llm.generative import GenLLM, GenLLMConfig
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.recommenders import registered_recommenders
from llmrec.testing import (
    RecommenderTests,
    ScriptedItemLLM,
    ScriptedLLM,
    conformance_dataset,
    item_model_stub,
)


class TestPopularity(RecommenderTests):
    name = "popularity"


class TestItemKNN(RecommenderTests):
    name = "itemknn"
    params: ClassVar[dict] = {"neighbors": 5}


class TestDense(RecommenderTests):
    name = "dense"  # the untrained text encoder: no artifact needed


class TestLLM(RecommenderTests):
    name = "llm"
    params: ClassVar[dict] = {"candidates": 5}

    def build(self):
        return LLMRanker(LLMRankerConfig(**self.params), backend=ScriptedLLM())


class TestRerank(RecommenderTests):
    name = "rerank"
    params: ClassVar[dict] = {"base": "itemknn", "base_params": {"neighbors": 5}, "diversity": 0.5,
                              "popularity": 0.2}


class TestGenLLM(RecommenderTests):
    name = "genllm"
    params: ClassVar[dict] = {"model": "unused"}

    def build(self):
        model = item_model_stub(tempfile.mkdtemp(prefix="genllm-"), conformance_dataset().catalog)
        return GenLLM(GenLLMConfig(model=model), backend=ScriptedItemLLM())


class TestGraph(RecommenderTests):
    name = "graph"
    params: ClassVar[dict] = {"cowatch_neighbors": 5}


class TestHybrid(RecommenderTests):
    name = "hybrid"  # the untrained text encoder fused with the knowledge graph
    params: ClassVar[dict] = {"graph_weight": 0.5, "graph": {"cowatch_neighbors": 5}}


class TestHybridByZScores(TestHybrid):
    params: ClassVar[dict] = {"graph_weight": 0.5, "method": "zscore"}


class TestLLMBeyondItsCandidates(TestLLM):
    n = 8  # more than K: the candidates, then the retriever's order


def test_every_registered_recommender_has_a_conformance_test():
    tested = {cls.name for cls in RecommenderTests.__subclasses__()}
    assert set(registered_recommenders()) <= tested

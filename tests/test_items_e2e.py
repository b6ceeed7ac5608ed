"""The item-token model served by vLLM (issue 25): a model trained by ``python -m finetune.items`` loads in
the real engine, and its whole-catalog scores — from a pooling engine's last hidden states through the item
rows, and through ``allowed_token_ids`` — are the transformers reference's."""

import numpy as np
import pytest

from finetune.items import main
from llmrec.history import histories
from llmrec.llm.generative import GenLLM, GenLLMConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def item_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("items-e2e") / "smollm2-items"
    assert main(["--output", str(out), "--smoke", "--no-progress"]) == 0  # the bundled SmolLM2-135M
    return out


@pytest.fixture(scope="module")
def reference_scores(item_model, ml100k):
    return scores_of(item_model, ml100k, backend="transformers")


def scores_of(item_model, ml100k, **config) -> np.ndarray:
    hs = list(histories(ml100k.interactions).values())[:12]
    rec = GenLLM(GenLLMConfig(model=str(item_model), dtype="float32", history=50, enforce_eager=True,
                              **config)).fit(ml100k)
    try:
        return rec.item_logprobs(hs)
    finally:
        rec.close()


@pytest.mark.parametrize("scoring", ["hidden", "logprobs"])
def test_vllm_scores_the_whole_catalog_as_the_transformers_reference_does(item_model, ml100k,
                                                                          reference_scores, scoring):
    v, h = scores_of(item_model, ml100k, backend="vllm", scoring=scoring), reference_scores
    assert v.shape == (12, len(ml100k.catalog)) and np.isfinite(v).all()
    assert np.allclose(np.exp(v).sum(1), 1.0, atol=1e-3)  # normalised over the item tokens alone
    assert np.abs(v - h).max() < 0.02
    for a, b in zip(v, h):
        assert len(set(np.argsort(-a)[:10]) & set(np.argsort(-b)[:10])) >= 9

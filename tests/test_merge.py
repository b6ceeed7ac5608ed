"""``python -m finetune.merge``: a merged model computes what base + adapter compute, carries the adapter's
read-out to the ranker, and refuses an adapter trained on another base model."""

import json

import pytest
import torch

from finetune.merge import MERGED_KIND, main, merge_adapter
from llmrec.artifacts import read_manifest, write_manifest
from llmrec.errors import ArtifactError, ConfigError
from llmrec.llm.adapters import ADAPTER_KIND, model_fingerprint
from llmrec.llm.ranker import LLMRanker, LLMRankerConfig
from llmrec.models import resolve_llm


def _tiny_model(path, seed):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(resolve_llm(None))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny base model and a (randomly initialised, non-zero) marks adapter on it."""
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("merge")
    base = root / "base"
    model = _tiny_model(base, seed=0)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False))
    adapter = root / "adapter"
    peft_model.save_pretrained(adapter)
    (adapter / "card.json").write_text(json.dumps({"base_model": str(base)}))
    write_manifest(adapter, ADAPTER_KIND, name="tiny", base_model=str(base), scoring="marks",
                   base_fingerprint=model_fingerprint(str(base)))
    return root, base, adapter, peft_model


def test_the_merged_model_computes_what_the_base_model_with_the_adapter_computes(trained):
    from transformers import AutoModelForCausalLM

    root, base, adapter, peft_model = trained
    manifest = merge_adapter(str(adapter), str(root / "merged"))
    assert manifest["kind"] == MERGED_KIND and manifest["scoring"] == "marks"
    read_manifest(root / "merged", MERGED_KIND)  # every file listed and intact
    merged = AutoModelForCausalLM.from_pretrained(root / "merged")
    ids = torch.tensor([[1, 5, 9, 200, 7]])
    with torch.no_grad():
        want, got = peft_model(input_ids=ids).logits, merged(input_ids=ids).logits
        plain = AutoModelForCausalLM.from_pretrained(base)(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert (got - plain).abs().max() > 1e-3  # the adapter's update is in the weights


def test_a_ranker_serving_a_merged_model_takes_its_read_out_and_refuses_another(trained):
    root, *_ = trained
    merged = str(root / "merged")
    assert LLMRanker(LLMRankerConfig(model=merged)).config.scoring == "marks"
    with pytest.raises(ConfigError, match="trained for scoring='marks'"):
        LLMRanker(LLMRankerConfig(model=merged, scoring="letters"))._check_adapter_fields()


def test_an_adapter_is_not_merged_into_another_base_model(trained, tmp_path):
    _, _, adapter, _ = trained
    _tiny_model(tmp_path / "other", seed=1)
    with pytest.raises(ArtifactError, match="was trained on base model"):
        main(["--adapter", str(adapter), "--output", str(tmp_path / "out"),
              "--model", str(tmp_path / "other")])
    assert not (tmp_path / "out").exists()

"""Items as tokens of the LLM (issue 25): the vocabulary, its rows, the training targets, the merged model and
``genllm``'s scores."""

import json

import numpy as np
import pytest
import torch

from finetune.item_data import add_item_vocabulary, init_item_rows, sequence_rows, title_rows
from finetune.items import main
from llmrec.artifacts import read_manifest
from llmrec.data import Catalog, Dataset
from llmrec.errors import ArtifactError, ConfigError
from llmrec.history import histories
from llmrec.llm.generative import GenLLM, GenLLMConfig, zscore
from llmrec.llm.items import (
    ITEM_MODEL_KIND,
    ItemVocabulary,
    catalog_fingerprint,
    item_head,
    item_token,
    load_item_model,
)
from llmrec.models import resolve_llm
from llmrec.split import leave_last_out
from llmrec.testing import ScriptedItemLLM, conformance_dataset, item_model_stub


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_llm(None))


def _tiny_base(path, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         tie_word_embeddings=True, max_position_embeddings=512))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


def _other_catalog(catalog: Catalog) -> Catalog:
    frame = catalog.frame.copy()
    frame.iloc[0, frame.columns.get_loc("title")] = "Something Else (1999)"
    return Catalog(frame)


def test_each_item_gets_a_token_of_its_own_after_the_base_vocabulary(tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_llm(None))
    catalog = conformance_dataset().catalog
    base = len(tok)
    vocab = ItemVocabulary.build(catalog, tok)
    assert vocab.token_ids.tolist() == list(range(base, base + len(catalog)))
    assert tok.convert_ids_to_tokens(int(vocab.token_ids[2])) == item_token(int(catalog.item_ids[2]))
    items = catalog.item_ids[[3, 0, 5]]
    ids, where = vocab.encode(items)
    assert ids[:len(vocab.prefix_ids)] == list(vocab.prefix_ids)
    assert [ids[w] for w in where] == vocab.token_ids[[3, 0, 5]].tolist()
    assert len(ids) == len(vocab.prefix_ids) + 3  # tokens form: nothing but the item tokens


def test_the_hybrid_form_follows_each_item_token_with_its_title(tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_llm(None))
    catalog = conformance_dataset().catalog
    vocab = ItemVocabulary.build(catalog, tok, form="hybrid")
    ids, where = vocab.encode(catalog.item_ids[:2])
    title = tok.decode(ids[where[0] + 1:where[1]])
    assert title.strip().rstrip(";") == catalog.short_title(int(catalog.item_ids[0]))


def test_an_unknown_item_is_an_error_naming_it(tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_llm(None))
    vocab = ItemVocabulary.build(conformance_dataset().catalog, tok)
    with pytest.raises(ConfigError, match="item 9999 is not in the item vocabulary"):
        vocab.encode([9999])


def test_genllm_without_a_model_says_how_to_get_one():
    with pytest.raises(ConfigError, match="needs an item-token model.*python -m finetune.items"):
        GenLLM().fit(conformance_dataset())


def test_a_model_for_another_catalog_is_refused(tmp_path):
    data = conformance_dataset()
    model = item_model_stub(tmp_path / "m", data.catalog)
    other = _other_catalog(data.catalog)
    assert catalog_fingerprint(other) != catalog_fingerprint(data.catalog)
    with pytest.raises(ArtifactError, match="another catalog.*same item ids with other titles"):
        load_item_model(model, other)
    with pytest.raises(ArtifactError, match="another catalog"):
        GenLLM(GenLLMConfig(model=model), backend=ScriptedItemLLM()).fit(
            Dataset(data.interactions, other, name="other"))


def test_training_targets_are_each_users_fit_items_never_validation_or_test_items(ml100k, tokenizer):
    from transformers import AutoTokenizer

    vocab = ItemVocabulary.build(ml100k.catalog, AutoTokenizer.from_pretrained(resolve_llm(None)))
    split = leave_last_out(ml100k, "validation")
    rows = sequence_rows(split, vocab, window=50)
    labelled: dict[int, list[int]] = {}
    for r in rows:
        labelled.setdefault(r["user"], []).extend(vocab.item_ids[[x for x in r["labels"] if x >= 0]].tolist())
    fit = histories(split.train.interactions)
    held = {**dict(zip(split.targets["user"], split.targets["item"]))}
    test = leave_last_out(ml100k, "test").targets
    for user, items in labelled.items():
        assert sorted(items) == sorted(fit[user].items.tolist())  # every fit position a target, once
        assert held.get(user) not in items
    assert not any(item in labelled[u] for u, item in zip(test["user"], test["item"]))
    assert sum(len(v) for v in labelled.values()) == len(split.train.interactions)


def test_under_a_cold_users_protocol_no_cold_users_interaction_is_trained_on(ml100k):
    from finetune.items import ItemDataConfig
    from llmrec.protocols import ColdStart, cold_user_set

    items = ItemDataConfig(protocol="cold-users", split="test")
    split = items.training_split(ml100k)
    cold = cold_user_set(ml100k, 0.1, 0)
    assert len(cold) > 0 and not split.train.interactions.frame["user"].isin(cold).any()
    whole = leave_last_out(ml100k, "test").train.interactions
    assert len(split.train.interactions) == len(whole) - whole.frame["user"].isin(cold).sum()
    # the protocol's own fit data (cold users' first 3 added back) is larger: genllm accepts the model there
    protocol_fit = ColdStart("cold-users").split(ml100k, "test").train.interactions
    assert len(protocol_fit) > len(split.train.interactions)
    with pytest.raises(ConfigError, match="--init collab reads a retriever trained on the whole log"):
        ItemDataConfig(protocol="cold-users", init="collab")
    with pytest.raises(ConfigError, match="cold share"):
        ItemDataConfig(protocol="cold-users", cold_share=0.0)


def test_item_rows_start_from_their_titles_never_at_random(tmp_path, tokenizer, ml100k):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_llm(None))
    model = _tiny_base(tmp_path / "base", tok)
    base = model.get_input_embeddings().weight[:len(tok)].detach().clone()
    vocab = add_item_vocabulary(model, tok, ml100k.catalog, "tokens")
    info = init_item_rows(model, tok, ml100k, vocab, "title", scale=0.5)
    rows = model.get_input_embeddings().weight[torch.as_tensor(vocab.token_ids)].detach().numpy()
    titles = title_rows(base, tok, ml100k.catalog)
    cos = (rows * titles).sum(1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(titles, axis=1)
    assert cos.min() > 0.9999
    assert np.allclose(np.linalg.norm(rows, axis=1), info["row_norm"], rtol=1e-4)
    assert info["row_norm"] == pytest.approx(0.5 * float(base.norm(dim=1).mean()), rel=1e-4)
    out = model.get_output_embeddings().weight[torch.as_tensor(vocab.token_ids)].detach().numpy()
    assert np.array_equal(out, rows)  # tied: the output rows are the same rows


@pytest.fixture(scope="module")
def smoke_model(tmp_path_factory, ml100k):
    """A tiny base model trained for a few steps by ``python -m finetune.items --smoke``."""
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("items")
    _tiny_base(root / "base", AutoTokenizer.from_pretrained(resolve_llm(None)))
    argv = ["--model", str(root / "base"), "--output", str(root / "out"), "--smoke", "--no-progress"]
    assert main(argv) == 0
    return root / "out"


def test_a_refit_on_the_test_split_is_refused_on_the_validation_split_whose_items_it_trained_on(
        smoke_model, ml100k, tmp_path):
    """--split test: the validation items become targets, the last step is kept, and genllm refuses to be
    fitted on fit data smaller than the model's (the validation split), never on the test split's."""
    argv = ["--model", str(smoke_model.parent / "base"), "--output", str(tmp_path / "refit"), "--smoke",
            "--no-progress", "--split", "test"]
    assert main(argv) == 0
    manifest = read_manifest(tmp_path / "refit", ITEM_MODEL_KIND)
    test_fit = leave_last_out(ml100k, "test").train
    validation_fit = leave_last_out(ml100k, "validation").train
    assert manifest["split"] == "test" and manifest["trained_interactions"] == len(test_fit.interactions)
    card = json.loads((tmp_path / "refit" / "card.json").read_text())
    assert card["validation_history"] == [] and card["validation"]["step"] == card["training"]["steps"]
    refit = GenLLMConfig(model=str(tmp_path / "refit"))
    GenLLM(refit, backend=ScriptedItemLLM()).fit(test_fit)
    GenLLM(refit, backend=ScriptedItemLLM()).fit(ml100k)  # the whole log holds everything it trained on
    with pytest.raises(ConfigError, match="training targets.*--split validation"):
        GenLLM(refit, backend=ScriptedItemLLM()).fit(validation_fit)
    GenLLM(GenLLMConfig(model=str(smoke_model)), backend=ScriptedItemLLM()).fit(validation_fit)
    vocab = load_item_model(tmp_path / "refit", ml100k.catalog)[1]
    rows = sequence_rows(leave_last_out(ml100k, "test"), vocab, window=200)
    assert sum(sum(x >= 0 for x in r["labels"]) for r in rows) == len(test_fit.interactions)


def test_the_trained_model_is_written_merged_with_its_vocabulary_and_manifest(smoke_model, ml100k):
    out = smoke_model
    manifest = read_manifest(out, ITEM_MODEL_KIND)
    assert manifest["catalog"] == catalog_fingerprint(ml100k.catalog)
    assert manifest["trained_on"] == leave_last_out(ml100k, "validation").train.interactions.fingerprint()
    assert not (out / "adapter_config.json").exists()  # merged: no LoRA adapter for vLLM to load
    card = json.loads((out / "card.json").read_text())
    assert card["validation_history"][0]["step"] == 0 and card["training"]["targets"] > 90_000
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.vocab_size >= manifest["token_ids"][-1] + 1


def test_genllm_scores_are_the_item_softmax_of_the_merged_model(smoke_model, ml100k):
    from transformers import AutoModelForCausalLM

    out = smoke_model
    cfg = GenLLMConfig(model=str(out), backend="transformers", dtype="float32", history=30)
    rec = GenLLM(cfg).fit(ml100k)
    hs = list(histories(ml100k.interactions).values())[:5]
    got = rec.item_logprobs(hs)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    for h, row in zip(hs, got):
        ids = rec.prompt(h)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1, torch.as_tensor(rec.vocab.token_ids)]
        assert np.allclose(row, torch.log_softmax(logits, -1).numpy(), atol=1e-4)
    assert np.allclose(np.exp(got).sum(1), 1.0, atol=1e-4)  # a distribution over the catalog


def test_a_corrupt_model_file_is_refused(smoke_model, ml100k, tmp_path):
    import shutil

    out = smoke_model
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "card.json").write_text("{}")
    with pytest.raises(ArtifactError, match="corrupt"):
        GenLLM(GenLLMConfig(model=str(copy), backend="transformers")).fit(ml100k)


class _Retriever:
    def __init__(self, scores):
        self.scores = scores

    def is_trained(self):
        return True

    def fit(self, data):
        return self

    def prepare(self, histories):
        pass

    def score(self, history, items):
        return self.scores[np.searchsorted(np.arange(1, len(self.scores) + 1), items)]


def test_fusion_adds_the_standardised_scores_with_their_weights(tmp_path):
    data = conformance_dataset()
    model = item_model_stub(tmp_path / "m", data.catalog)
    retr = np.linspace(0, 1, len(data.catalog))
    h = next(iter(histories(data.interactions).values()))
    llm = GenLLM(GenLLMConfig(model=model), backend=ScriptedItemLLM()).fit(data)
    fused = GenLLM(GenLLMConfig(model=model, retriever_weight=0.5), backend=ScriptedItemLLM(),
                   retriever=_Retriever(retr)).fit(data)
    items = data.catalog.item_ids
    expected = zscore(llm.score(h, items)) + 0.5 * zscore(retr)
    assert np.allclose(fused.score(h, items), expected)


def test_an_ensemble_scores_with_the_mean_of_its_models_log_probabilities(tmp_path):
    from scipy.special import log_softmax

    data = conformance_dataset()
    a, b = item_model_stub(tmp_path / "a", data.catalog), item_model_stub(tmp_path / "b", data.catalog)
    hs = list(histories(data.interactions).values())[:3]
    alone = {m: GenLLM(GenLLMConfig(model=m), backend=ScriptedItemLLM(m)).fit(data).item_logprobs(hs)
             for m in (a, b)}
    assert not np.allclose(alone[a], alone[b])  # two different models
    rec = GenLLM(GenLLMConfig(model=a, ensemble=[b]), backend=ScriptedItemLLM(a)).fit(data)
    (member,) = rec.members
    member.backend = ScriptedItemLLM(b)  # the member's own engine
    got = rec.item_logprobs(hs)
    np.testing.assert_allclose(got, log_softmax((alone[a] + alone[b]) / 2, axis=1))
    np.testing.assert_allclose(np.exp(got).sum(1), 1.0)  # still a distribution over the catalog
    rec.item_logprobs(hs)
    assert member.backend.calls == 1 and rec.backend.calls == 1  # the mean is cached, not the members' rows
    assert rec.stats()["llm_users"] == len(hs) and rec.stats()["ensemble"] == [b]


def test_an_ensemble_refuses_a_model_listed_twice_or_trained_for_another_catalog(tmp_path):
    data = conformance_dataset()
    a = item_model_stub(tmp_path / "a", data.catalog)
    with pytest.raises(ConfigError, match="listed twice"):
        GenLLM(GenLLMConfig(model=a, ensemble=[a])).fit(data)
    other = item_model_stub(tmp_path / "other", _other_catalog(data.catalog))
    with pytest.raises(ArtifactError, match="another catalog"):
        GenLLM(GenLLMConfig(model=a, ensemble=[other])).fit(data)


def test_reranking_orders_only_the_retrievers_top_k_by_the_fused_score(tmp_path):
    data = conformance_dataset()
    model = item_model_stub(tmp_path / "m", data.catalog)
    retr = np.linspace(1, 0, len(data.catalog))  # the retriever prefers low ids
    h = next(iter(histories(data.interactions).values()))
    rec = GenLLM(GenLLMConfig(model=model, retriever_weight=1.0, candidates=3), backend=ScriptedItemLLM(),
                 retriever=_Retriever(retr)).fit(data)
    ranked = rec.recommend(h, data.catalog.item_ids, n=len(data.catalog))
    unseen = [i for i in data.catalog.item_ids.tolist() if i not in h.items]
    assert sorted(ranked.items[:3].tolist()) == unseen[:3]  # the retriever's top 3, reordered
    assert ranked.items[3:].tolist() == unseen[3:]  # the rest in the retriever's order


def test_the_reference_scores_a_prompt_the_same_whatever_its_batch_padding(smoke_model, ml100k):
    from llmrec.llm.reference import TransformersBackend, TransformersConfig

    out = smoke_model
    backend = TransformersBackend(TransformersConfig(model=str(out), dtype="float32", batch_size=4))
    _, vocab = load_item_model(out, ml100k.catalog)
    hs = list(histories(ml100k.interactions).values())[:4]
    prompts = [vocab.encode(h.items[-(5 + 7 * n):])[0] for n, h in enumerate(hs)]
    together = backend.allowed_logprobs(prompts, vocab.token_ids.tolist())
    alone = np.concatenate([backend.allowed_logprobs([p], vocab.token_ids.tolist()) for p in prompts])
    assert np.allclose(together, alone, atol=1e-4)


def test_the_merged_model_carries_the_trained_item_rows_and_the_chosen_checkpoint(smoke_model, ml100k):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.items import ItemValidator

    out = smoke_model
    card = json.loads((out / "card.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(out.parent / "base").get_input_embeddings().weight.detach()
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    _, vocab = load_item_model(out, ml100k.catalog)
    rows = model.get_input_embeddings().weight[torch.as_tensor(vocab.token_ids)].detach().numpy()
    start = title_rows(base, tok, ml100k.catalog)
    start = start / np.linalg.norm(start, axis=1, keepdims=True) * card["data"]["row_norm"]
    assert np.abs(rows - start).max() > 1e-3  # trained rows, not the initial ones, were merged
    cfg = card["config"]["resolved"]
    validator = ItemValidator(leave_last_out(ml100k, "validation"), vocab, tok, users=cfg["val_users"],
                              history=cfg["window"], seed=cfg["seed"])
    again = validator.evaluate(model)
    assert again["recall@20"] == pytest.approx(card["validation"]["recall@20"], abs=1e-9)
    assert again["ndcg@10"] == pytest.approx(card["validation"]["ndcg@10"], abs=1e-9)


def test_the_merged_candidate_set_takes_the_llms_top_items_then_the_retrievers_best_others():
    from eval.generative import _merged

    llm = np.array([0.9, 0.1, 0.8, 0.7, 0.0, 0.2])
    retr = np.array([0.0, 0.9, 0.8, 0.1, 0.7, 0.6])
    seen = np.array([0])  # item 0 was seen: in neither list
    assert _merged(llm, retr, seen, n=4, share=2).tolist() == [2, 3, 1, 4]
    assert _merged(llm, retr, seen, n=3, share=0).tolist() == [1, 2, 4]  # the retriever alone


def test_items_added_after_training_get_tokens_from_their_text_without_retraining(smoke_model, ml100k,
                                                                                 tmp_path):
    import pandas as pd
    from transformers import AutoModelForCausalLM

    from finetune.cold_items import add_cold_items

    frame = ml100k.catalog.frame
    new = pd.DataFrame({"title": ["Brand New Film (1998)"], "year": pd.array([1998], dtype="Int64"),
                        "genres": [("Comedy",)]}, index=pd.Index([5000], name="item"))
    bigger = Catalog(pd.concat([frame, new.reindex(columns=frame.columns)]))
    with pytest.raises(ArtifactError, match="another catalog"):
        load_item_model(smoke_model, bigger)
    manifest = add_cold_items(smoke_model, bigger, tmp_path / "extended")
    assert manifest["cold_items"] == [5000] and manifest["catalog"] == catalog_fingerprint(bigger)
    _, old = load_item_model(smoke_model, ml100k.catalog)
    _, vocab = load_item_model(tmp_path / "extended", bigger)
    a = AutoModelForCausalLM.from_pretrained(smoke_model).get_input_embeddings().weight.detach()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "extended").get_input_embeddings().weight.detach()
    assert torch.equal(a, b[:len(a)])  # the trained rows and the vocabulary unchanged
    assert vocab.token_ids[:-1].tolist() == old.token_ids.tolist() and vocab.token_ids[-1] == len(a)
    rec = GenLLM(GenLLMConfig(model=str(tmp_path / "extended"), backend="transformers", dtype="float32"))
    rec.fit(Dataset(ml100k.interactions, bigger, name="bigger"))
    h = next(iter(histories(ml100k.interactions).values()))
    assert np.isfinite(rec.score(h, np.array([5000, 1])).all())


def test_the_item_head_is_the_models_own_output_rows_or_else_its_tied_embeddings(tmp_path):
    from safetensors.torch import save_file

    embed, head = torch.arange(12.0).reshape(6, 2), -torch.arange(12.0).reshape(6, 2)
    save_file({"model.embed_tokens.weight": embed}, str(tmp_path / "model.safetensors"))
    np.testing.assert_array_equal(item_head(tmp_path, np.array([4, 1])), embed[[4, 1]].numpy())
    save_file({"lm_head.weight": head}, str(tmp_path / "model-head.safetensors"))
    np.testing.assert_array_equal(item_head(tmp_path, np.array([4, 1])), head[[4, 1]].numpy())
    with pytest.raises(ArtifactError, match="6 rows"):
        item_head(tmp_path, np.array([6]))


def test_a_pooling_engines_hidden_states_through_the_item_rows_give_the_softmax_restricted_to_the_items(
        tmp_path):
    from safetensors.torch import save_file

    data = conformance_dataset()
    n = len(data.catalog)
    rows = torch.randn(1000 + n, 4, generator=torch.Generator().manual_seed(0))
    save_file({"model.embed_tokens.weight": rows}, str(tmp_path / "model.safetensors"))
    model = item_model_stub(tmp_path, data.catalog)  # item tokens 1000, 1001, ...
    hidden = np.array([[2.0, 0.0, -1.0, 0.5], [300.0, -200.0, 100.0, 0.0]], dtype=np.float32)

    class PoolingEngine:  # what GenLLM reads of a VLLMBackend started with runner="pooling"
        config = type("Config", (), {"runner": "pooling"})()

        def last_hidden(self, prompts):
            return hidden[:len(prompts)]

    rec = GenLLM(GenLLMConfig(model=model), backend=PoolingEngine()).fit(data)
    out = rec.item_logprobs(list(histories(data.interactions).values())[:2])
    expected = torch.log_softmax(torch.tensor(hidden, dtype=torch.float64) @ rows[1000:].double().T, 1)
    np.testing.assert_allclose(np.exp(out).sum(1), 1.0)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-5)
    assert np.isfinite(out).all()  # large logits (row 2) stay finite


def test_the_validation_pass_chooses_the_sampled_protocols_own_weight_by_hr_at_1():
    """eval.generative: the full-ranking weight by NDCG@10, the sampled protocol's weight by its HR@1."""
    from types import SimpleNamespace

    import pandas as pd

    from eval.generative import GenerativeConfig, _validation

    ndcg = {0.0: 0.10, 1.0: 0.12, 2.0: 0.13, None: 0.11}  # the retriever alone: None
    hr1 = {0.0: 0.40, 1.0: 0.55, 2.0: 0.50, None: 0.45}

    class Run:
        def report(self, weight, sampled=0, name=""):
            if sampled:
                first = round(hr1[weight] * 20)
                return SimpleNamespace(ranks=pd.DataFrame({"rank": [0] * first + [3] * (20 - first)}))
            return SimpleNamespace(metrics={"ndcg@5": 0.0, "ndcg@10": ndcg[weight], "recall@20": 0.0})

    rec = SimpleNamespace(vocab=SimpleNamespace(positions=lambda items: np.asarray(items, dtype=np.int64)),
                          stats=lambda: {"llm_seconds_per_user": 0.01})
    hs = [SimpleNamespace(items=np.array([0]))]
    scores = (hs, np.array([1]), np.array([[0.0, 1.0, 0.5]]), np.array([[0.0, 0.2, 0.9]]), rec)
    cfg = GenerativeConfig(model=["unused"], weights=[1.0, 2.0], llm_shares=[0, 1], candidates=1)
    chosen = _validation(cfg, Run(), scores)
    assert chosen["retriever_weight"] == 2.0 and chosen["sampled_weight"] == 1.0
    assert chosen["llm_share"] == 1  # the LLM's top item (1) is the held-out one; the retriever's is 2


def test_eval_generative_chooses_and_reports_with_an_ensemble_of_models(smoke_model, ml100k, tmp_path,
                                                                       capsys):
    """``--model A B``: the validation choices and the test figures from the ensemble of A and B (the same
    models on both splits: their engines carry over to the test split)."""
    import shutil

    from eval.generative import main as generative

    other = tmp_path / "seed-1"
    shutil.copytree(smoke_model, other)  # another directory: another member, whatever its weights
    argv = ["--data", ml100k.source["path"], "--retriever", "untrained", "--backend", "transformers",
            "--weights", "1", "--llm-shares", "0", "10", "--users", "40", "--output", str(tmp_path / "out")]
    assert generative([*argv, "--model", str(smoke_model), str(other)]) == 0
    chosen = json.loads((tmp_path / "out" / "generative.json").read_text())
    assert chosen["models"]["validation"] == [str(smoke_model), str(other)]
    assert chosen["retriever_weight"] == 1.0 and chosen["llm_share"] in (0, 10)
    assert set(chosen["sampled_hr@1"]) == {"retriever", "genllm", "fused", "fused at the sampled weight"}
    out = capsys.readouterr().out
    assert "chosen on validation" in out and "candidate recall@50" in out

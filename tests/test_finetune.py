"""LoRA fine-tuning: training examples from fit data only, the answer-only loss, adapters and their checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_llm_ranker import MOVIES, ScriptedBackend

from finetune.data import ExampleConfig, build_examples, prefix
from finetune.trainer import RankTrainer, collate_examples, encode_rows, length_grouped_order, merge_prompts
from finetune.validate import FrozenTrunkCache, candidate_metrics
from llmrec.artifacts import write_manifest
from llmrec.data import Catalog, Dataset, Interactions
from llmrec.errors import ArtifactError, ConfigError
from llmrec.history import histories
from llmrec.llm.adapters import ADAPTER_KIND, load_adapter, model_fingerprint
from llmrec.llm.ranker import LABELS, LLMRanker, LLMRankerConfig
from llmrec.split import leave_last_out, target_items


@pytest.fixture(scope="module")
def movies() -> Dataset:
    """Six users with 7 interactions each over the 8 movies (each user misses one)."""
    import pandas as pd

    catalog = Catalog(pd.DataFrame({"item": range(1, 9), "title": MOVIES, "year": [1995] * 8,
                                    "genres": ["Drama"] * 8}).set_index("item"))
    rows = [(u, i, 4.0, 10 * k) for u in range(1, 7)
            for k, i in enumerate([i for i in np.random.default_rng(u).permutation(range(1, 9))
                                   if i != u + 1])]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog)


def examples(movies: Dataset, **cfg) -> list:
    val = leave_last_out(movies, "validation")
    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=ScriptedBackend()).fit(val.train)
    return build_examples(ranker, val, ExampleConfig(**{"per_user": 10, "min_history": 1, **cfg}))


def test_no_validation_or_test_item_is_ever_a_training_target(movies):
    held = {(u, i) for split in ("validation", "test")
            for u, i in target_items(leave_last_out(movies, split)).items()}
    exs = examples(movies)
    assert len(exs) == 6 * 4  # 7 interactions - 2 held out - 1 needed as history, per user
    assert not {(e.user, e.target) for e in exs} & held
    full = histories(movies.interactions)
    assert all(e.position < len(full[e.user]) - 2 for e in exs)


def test_retriever_examples_are_the_retrievers_own_candidates_never_a_target_put_in(movies):
    val = leave_last_out(movies, "validation")
    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=ScriptedBackend()).fit(val.train)
    full = histories(movies.interactions)
    exs = build_examples(ranker, val, ExampleConfig(per_user=10, min_history=1, negatives="retriever"))
    proposed = {(e.user, e.position): set(ranker.retriever.candidates(prefix(full[e.user], e.position), k=4)
                                          .items.tolist()) for e in exs}
    assert exs and all(set(e.candidates.tolist()) == proposed[(e.user, e.position)] for e in exs)
    assert len(exs) < 24  # the targets the retriever missed are left out


def test_with_retriever_order_retriever_candidates_keep_the_order_they_are_served_in(movies):
    val = leave_last_out(movies, "validation")
    ranker = LLMRanker(LLMRankerConfig(candidates=4), backend=ScriptedBackend()).fit(val.train)
    full = histories(movies.interactions)
    exs = build_examples(ranker, val, ExampleConfig(per_user=10, min_history=1, negatives="retriever",
                                                    retriever_order=True))
    served = [ranker.retriever.candidates(prefix(full[e.user], e.position), k=4).items.tolist() for e in exs]
    assert exs and [e.candidates.tolist() for e in exs] == served


def test_the_answer_is_the_target_label_among_shuffled_candidates(movies):
    exs = examples(movies, negatives="retriever")
    for e in exs:
        assert len(e.candidates) == 4 and list(e.candidates).count(e.target) == 1
        assert e.candidates[e.answer] == e.target
        assert f"{LABELS[e.answer]}. {MOVIES[e.target - 1]}" in e.prompt
    assert len({e.answer for e in exs}) > 2  # the target's position carries no signal


def test_random_candidates_are_items_the_user_never_interacted_with(movies):
    full = histories(movies.interactions)
    for e in examples(movies, negatives="random"):
        others = [i for i in e.candidates if i != e.target]
        assert not np.isin(others, full[e.user].items[:e.position + 1]).any()
        assert e.source == "random"
    sources = {e.source for e in examples(movies)}
    assert sources == {"retriever", "random"}  # "mixed" alternates


def test_candidate_metrics_score_the_target_within_the_ranked_candidates():
    ranked = [np.array([3, 1, 2]), np.array([1, 2, 3]), np.array([4, 5, 6])]
    m = candidate_metrics(ranked, [3, 3, 9])
    assert m["hr@1"] == pytest.approx(1 / 3)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1 / np.log2(4)) / 3)
    assert m["in_candidates"] == pytest.approx(2 / 3)


# -- the trainer on a tiny randomly initialised llama --------------------------------------------------------
class CharTokenizer:
    """Byte-level: every character is one token."""

    pad_token, eos_token, pad_token_id, padding_side = "\0", "\0", 0, "left"

    def __call__(self, texts, return_tensors=None, padding=False, add_special_tokens=False):
        if isinstance(texts, str):
            return {"input_ids": [ord(c) % 128 for c in texts]}
        width = max(len(t) for t in texts)
        ids = [[0] * (width - len(t)) + [ord(c) % 128 for c in t] for t in texts]
        mask = [[0] * (width - len(t)) + [1] * len(t) for t in texts]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}


@pytest.fixture
def tiny_llm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64))


def _trainer(model, tmp_path, rows, loss="labels", steps=1, lr=1e-2, against=None):
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=len(rows), max_steps=steps,
                             learning_rate=lr, report_to=[], use_cpu=True, save_strategy="no",
                             remove_unused_columns=False, disable_tqdm=True, logging_steps=1)
    return RankTrainer(model=model, args=args, train_dataset=rows,
                       data_collator=collate_examples(CharTokenizer()), label_ids=[ord(c) for c in "ABC"],
                       loss=loss, validator=None, against=against)


def test_the_loss_is_the_answer_label_cross_entropy_at_the_last_position(tiny_llm, tmp_path):
    rows = [{"prompt": "xy: A B C?", "answer": 2}, {"prompt": "q: A B C?", "answer": 0}]
    trainer = _trainer(tiny_llm, tmp_path, rows)
    batch = collate_examples(CharTokenizer())(rows)
    with torch.no_grad():
        loss = trainer.compute_loss(tiny_llm, dict(batch))
        logits = tiny_llm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, -1]
    label_logits = logits[:, [ord("A"), ord("B"), ord("C")]]
    expected = torch.nn.functional.cross_entropy(label_logits, batch["answer"]).item()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        vocab = _trainer(tiny_llm, tmp_path, rows, loss="vocab").compute_loss(tiny_llm, dict(batch))
    assert vocab.item() == pytest.approx(torch.nn.functional.cross_entropy(
        logits, torch.tensor([ord("C"), ord("A")])).item(), rel=1e-5)


def test_explanation_rows_are_trained_on_their_completion_tokens_only(tiny_llm, tmp_path):
    rank_row, explain_row = {"prompt": "q: A B C?", "answer": 1}, {"prompt": "xy: A B C?", "completion": "AB"}
    trainer = _trainer(tiny_llm, tmp_path, [rank_row, explain_row])
    batch = collate_examples(CharTokenizer())([rank_row, explain_row])
    assert batch["answer"].tolist() == [1, -1] and batch["completion_len"].tolist() == [0, 3]  # "AB" + EOS
    ce = torch.nn.functional.cross_entropy
    with torch.no_grad():
        mixed = trainer.compute_loss(tiny_llm, dict(batch)).item()
        ids = torch.tensor([[ord(c) for c in "xy: A B C?AB"] + [0]])
        logits = tiny_llm(input_ids=ids).logits[0]
        explain = ce(logits[-4:-1], ids[0, -3:]).item()  # the positions before "A", "B" and EOS
        one = collate_examples(CharTokenizer())([rank_row])
        rank = ce(tiny_llm(input_ids=one["input_ids"]).logits[:, -1, [ord("A"), ord("B"), ord("C")]],
                  torch.tensor([1])).item()
    assert mixed == pytest.approx((explain + rank) / 2, rel=1e-4)


def test_encoded_rows_collate_exactly_like_text_rows():
    rows = [{"prompt": "q: A B C?", "answer": 1}, {"prompt": "xy: A B C?", "completion": "AB"},
            {"input_ids": [ord(c) for c in "h: a! b!"], "positions": [4, 7], "answer": 0}]
    encoded = encode_rows(rows, CharTokenizer())
    assert encoded[1] == {"input_ids": [ord(c) for c in "xy: A B C?AB"] + [0], "answer": -1,
                          "completion_len": 3}
    assert encoded[2] is rows[2]
    a, b = collate_examples(CharTokenizer())(rows), collate_examples(CharTokenizer())(encoded)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_length_grouped_batches_pad_less_and_still_cover_every_row_in_random_order():
    rng = np.random.default_rng(0)
    lengths = rng.choice([230, 250, 420, 450], 400).tolist()  # ranking rows and ~2x longer explanation rows
    order = length_grouped_order(lengths, batch_size=8, seed=0, group=10)
    assert sorted(order) == list(range(400))
    assert order == length_grouped_order(lengths, batch_size=8, seed=0, group=10)
    assert order != length_grouped_order(lengths, batch_size=8, seed=1, group=10)

    def padded(o):
        return sum(8 * max(lengths[i] for i in o[s:s + 8]) for s in range(0, len(o), 8))
    assert padded(order) < 0.85 * padded(rng.permutation(400).tolist())
    batch_max = [max(lengths[i] for i in order[s:s + 8]) for s in range(0, 400, 8)]
    assert batch_max != sorted(batch_max, reverse=True)  # long and short batches are interleaved at random


def test_an_explanation_continuing_a_ranking_prompt_shares_its_row_and_trains_both_answers(
        tiny_llm, tmp_path):
    marks = {"input_ids": [ord(c) for c in "h: a! b! c!"], "positions": [4, 7, 10], "answer": 1}
    explain = {"prompt": "h: a! b! c!why b?", "completion": "AB", "example": 0}
    other = {"input_ids": [ord(c) for c in "q: x! y!"], "positions": [4, 7], "answer": 0}
    rows, merged = merge_prompts([marks, other], [explain], CharTokenizer())
    assert merged == 1 and len(rows) == 2 and rows[1] == other
    assert rows[0] == {"input_ids": [ord(c) for c in "h: a! b! c!why b?AB"] + [0], "positions": [4, 7, 10],
                       "answer": 1, "completion_len": 3}
    collate = collate_examples(CharTokenizer())
    with torch.no_grad():
        trainer = _trainer(tiny_llm, tmp_path, rows, against=ord("?"))
        shared = trainer.compute_loss(tiny_llm, dict(collate(rows[:1]))).item()
        apart = encode_rows([marks, explain], CharTokenizer())
        two = trainer.compute_loss(tiny_llm, dict(collate(apart))).item()
    # the same two losses, summed over one row instead of two
    assert shared == pytest.approx(2 * two, rel=1e-4)


def test_an_explanation_that_does_not_continue_its_ranking_prompt_token_for_token_stays_a_row_of_its_own():
    marks = {"input_ids": [ord(c) for c in "h: a! b! c!"], "positions": [4, 7, 10], "answer": 1}
    explain = {"prompt": "h: a! b? c!why b?", "completion": "AB", "example": 0}
    rows, merged = merge_prompts([marks], [explain], CharTokenizer())
    assert merged == 0 and rows == [marks, encode_rows([explain], CharTokenizer())[0]]


@pytest.mark.parametrize("against", [None, ord("?")])
def test_marks_rows_are_trained_on_the_softmax_over_their_marks_scores(tiny_llm, tmp_path, against):
    """A mark's score is its log-probability, or (with ``against``) its log-odds against that token."""
    marks = {"input_ids": [ord(c) for c in "h: a! b! c!"], "positions": [4, 7, 10], "answer": 1}
    short = {"input_ids": [ord(c) for c in "q: x! y!"], "positions": [4, 7], "answer": 0}
    batch = collate_examples(CharTokenizer())([marks, short])
    assert batch["positions"].tolist() == [[4, 7, 10], [3 + 4, 3 + 7, -1]]  # shifted by the left padding
    with torch.no_grad():
        trainer = _trainer(tiny_llm, tmp_path, [marks, short], against=against)
        loss = trainer.compute_loss(tiny_llm, dict(batch)).item()
        expected = []
        for row in (marks, short):
            ids = torch.tensor([row["input_ids"]])
            lp = torch.log_softmax(tiny_llm(input_ids=ids).logits[0], -1)  # position j - 1 predicts token j
            scores = torch.stack([lp[j - 1, ids[0, j]] - (lp[j - 1, against] if against else 0)
                                  for j in row["positions"]])
            expected.append(torch.nn.functional.cross_entropy(scores[None],
                                                              torch.tensor([row["answer"]])).item())
    assert loss == pytest.approx(sum(expected) / 2, rel=1e-4)


def test_marks_log_odds_do_not_saturate_when_every_mark_becomes_certain(tiny_llm):
    """If the model puts ~all mass on the mark token everywhere, log-probabilities tie at ~0 (a flat,
    gradient-less listwise loss) while log-odds against another token still order the candidates."""
    from llmrec.llm.backends import position_logprobs

    head = tiny_llm.get_output_embeddings()
    with torch.no_grad():
        head.bias = torch.nn.Parameter(torch.zeros(128))
        head.bias[ord("!")] = 60.0  # "!" (the mark) is certain after anything
    ids = torch.tensor([[ord(c) for c in "h: a! b! c!"]])
    rows, cols = torch.zeros(3, dtype=torch.long), torch.tensor([4, 7, 10])
    with torch.no_grad():
        lp = position_logprobs(tiny_llm, ids, torch.ones_like(ids), rows, cols)
        odds = position_logprobs(tiny_llm, ids, torch.ones_like(ids), rows, cols, against=ord("?"))
    assert lp.abs().max() < 1e-6  # saturated: every candidate scores 0
    assert odds.min() > 50 and (odds.max() - odds.min()) > 1e-3  # still a usable, distinct score


def test_the_backends_prefix_scoring_matches_one_pass_scoring(tiny_llm):
    from llmrec.llm.backends import TransformersBackend, prefix_token_logprobs

    backend = TransformersBackend.from_model(tiny_llm, CharTokenizer(), batch_size=2)
    prompts = [[ord(c) for c in "h: a! b! c!"], [ord(c) for c in "q: x! y!"], [ord(c) for c in "z!"]]
    positions = [[4, 7, 10], [4, 7], [1]]
    for against in (None, ord("?")):
        one_pass = backend.token_logprobs(prompts, positions, against=against)
        prefixes = prefix_token_logprobs(backend.label_logprobs, prompts, positions, against=against)
        assert [len(r) for r in one_pass] == [3, 2, 1]
        for a, b in zip(one_pass, prefixes):
            np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="positions"):
        backend.token_logprobs([[1, 2]], [[2]])


def test_the_reference_backend_batches_by_length_and_answers_in_input_order(tiny_llm):
    from llmrec.llm.backends import TransformersBackend

    batched = TransformersBackend.from_model(tiny_llm, CharTokenizer(), batch_size=2)
    prompts = [[ord(c) for c in p] for p in ("a long prompt, longest", "mid prompt", "long prompt: x", "ab")]
    assert list(batched._by_length(prompts)) == [[3, 1], [2, 0]]  # similar lengths share a batch
    ids = [ord(c) for c in "xyz!"]
    alone = np.concatenate([batched.label_logprobs([p], ids) for p in prompts])
    np.testing.assert_allclose(batched.label_logprobs(prompts, ids), alone, atol=1e-5)


def _last_layer_lora(tiny_llm):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_llm, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                                                layers_to_transform=[1], task_type="CAUSAL_LM"))
    model.eval()
    return model


def test_validation_reuses_the_frozen_layers_and_still_sees_the_trained_ones_change(tiny_llm):
    from llmrec.llm.backends import position_logprobs

    model = _last_layer_lora(tiny_llm)
    cached = FrozenTrunkCache(model, first=1)
    ids = torch.tensor([[0, 0, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6]])
    mask = (torch.arange(6) >= torch.tensor([[2], [0]])).long()
    rows, cols = torch.tensor([0, 0, 1]), torch.tensor([4, 5, 3])
    with torch.no_grad():
        for step in range(3):
            if step == 2:  # training moved the LoRA weights of the trained layer
                for name, p in model.named_parameters():
                    if "lora_B" in name:
                        p.add_(0.5)
            full = position_logprobs(model, ids, mask, rows, cols)
            assert torch.allclose(position_logprobs(cached, ids, mask, rows, cols), full, atol=1e-5)
    assert cached.checked is True and cached.hits == 2 and len(cached.states) == 1
    assert cached.get_output_embeddings() is model.get_output_embeddings()


def test_a_shortcut_that_does_not_reproduce_the_full_pass_turns_itself_off(tiny_llm, monkeypatch):
    model = _last_layer_lora(tiny_llm)
    cached = FrozenTrunkCache(model, first=1)
    ids, mask = torch.tensor([[1, 2, 3]]), torch.ones(1, 3, dtype=torch.long)
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask).logits
        cached(input_ids=ids, attention_mask=mask)
        monkeypatch.setattr(cached, "_top", lambda h, m, **kw: model(inputs_embeds=h + 1.0, attention_mask=m,
                                                                    output_hidden_states=True))
        again = cached(input_ids=ids, attention_mask=mask).logits
    assert cached.checked is False and not cached.states and cached.hits == 0
    assert torch.allclose(again, full)


def test_lora_training_learns_the_answers(tiny_llm, tmp_path):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_llm, LoraConfig(r=8, lora_alpha=16,
                                                target_modules=["q_proj", "v_proj", "o_proj", "up_proj",
                                                                "down_proj"],
                                                task_type="CAUSAL_LM"))
    rows = [{"prompt": f"A B C? {w}", "answer": a} for w, a in [("cat", 0), ("dog", 1), ("eel", 2)]]
    batch = collate_examples(CharTokenizer())(rows)
    trainer = _trainer(model, tmp_path, rows, steps=60, lr=1e-2)
    before = trainer.compute_loss(model, dict(batch)).item()
    trainer.train()
    model.eval()
    with torch.no_grad():
        after = trainer.compute_loss(model, dict(batch)).item()
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, -1]
    assert after < 0.8 * before
    assert logits[:, [ord("A"), ord("B"), ord("C")]].argmax(-1).tolist() == [0, 1, 2]
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)


# -- adapters ------------------------------------------------------------------------------------------------
def _adapter_dir(tmp_path, base_fingerprint: str):
    d = tmp_path / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": 8, "base_model_name_or_path": "x"}))
    (d / "adapter_model.safetensors").write_bytes(b"weights")
    write_manifest(d, ADAPTER_KIND, name="my adapter!", base_model="base", base_fingerprint=base_fingerprint)
    return d


def _model_dir(tmp_path, weights: bytes):
    d = tmp_path / f"model-{len(weights)}"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_bytes(weights)
    return str(d)


def test_an_adapter_for_another_base_model_is_refused_naming_both(tmp_path):
    base, other = _model_dir(tmp_path, b"base"), _model_dir(tmp_path, b"other model")
    d = _adapter_dir(tmp_path, model_fingerprint(base))
    adapter = load_adapter(d, base)
    assert adapter.name == "my-adapter" and adapter.rank == 8
    with pytest.raises(ArtifactError, match=f"trained on base model base .*but the LLM here is {other}"):
        load_adapter(d, other)


def test_an_adapter_keys_the_memo_of_scored_prompts(tmp_path):
    """The fusion-weight choice (python -m eval.fusion) scores through a MemoBackend keyed by the adapter: an
    adapter is hashable (its manifest, a dict, is not part of its identity) and each prompt is scored once."""
    from llmrec.llm.memo import MemoBackend

    base = _model_dir(tmp_path, b"base")
    adapter = load_adapter(_adapter_dir(tmp_path, model_fingerprint(base)), base)
    assert adapter.manifest and hash(adapter) == hash(load_adapter(tmp_path / "adapter", base))

    class Counting:
        tokenizer, calls = None, 0

        def token_logprobs(self, prompts, positions, *, adapter=None, against=None):
            Counting.calls += len(prompts)
            return [np.zeros(len(p)) for p in positions]

    memo = MemoBackend(Counting())
    for _ in range(2):
        memo.token_logprobs([[1, 2, 3]], [[2]], adapter=adapter, against=7)
    assert Counting.calls == 1 and memo.hits == 1


def test_a_corrupt_adapter_is_refused(tmp_path):
    base = _model_dir(tmp_path, b"base")
    d = _adapter_dir(tmp_path, model_fingerprint(base))
    (d / "adapter_model.safetensors").write_bytes(b"changed")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_adapter(d, base)
    with pytest.raises(ArtifactError, match="not a peft LoRA adapter"):
        load_adapter(tmp_path, base)


def test_a_ranker_serving_an_adapter_writes_the_prompt_it_was_trained_on_and_refuses_another(tmp_path):
    d = tmp_path / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text('{"r": 8}')
    write_manifest(d, ADAPTER_KIND, name="a", scoring="marks", details="full")
    ranker = LLMRanker(LLMRankerConfig(adapter=str(d)), backend=ScriptedBackend())
    assert (ranker.config.scoring, ranker.config.details) == ("marks", "full")
    with pytest.raises(ConfigError, match="trained for details='full' but the ranker is configured with "
                                          "details='titles'"):
        LLMRanker(LLMRankerConfig(adapter=str(d), details="titles"),
                  backend=ScriptedBackend())._check_adapter_fields()
    write_manifest(d, ADAPTER_KIND, name="older")  # adapters from before the fields: letters, titles
    older = LLMRanker(LLMRankerConfig(adapter=str(d)), backend=ScriptedBackend())
    assert (older.config.scoring, older.config.details) == ("letters", "titles")


def test_4bit_quantisation_is_refused_clearly_without_cuda(tmp_path):
    from finetune.config import SaveConfig, TrainingConfig
    from finetune.lora import LoraTrainConfig, load_base_model

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    cfg = LoraTrainConfig(save=SaveConfig(output=str(tmp_path)), training=TrainingConfig(quantize="4bit"))
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        load_base_model("unused", cfg.training.quantize)


# -- end to end: --smoke on MovieLens-100K with SmolLM2, then served by vLLM ---------------------------------
@pytest.fixture(scope="module")
def smoke_adapter(ml100k, tmp_path_factory):
    from finetune.lora import main
    from llmrec.data import default_data_path

    out = tmp_path_factory.mktemp("lora") / "smoke"
    assert main(["--smoke", "--retriever", "untrained", "--data", str(default_data_path()),
                 "--output", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.e2e
def test_smoke_training_writes_a_verified_adapter_with_a_card(smoke_adapter):
    from llmrec.models import resolve_llm

    adapter = load_adapter(smoke_adapter, resolve_llm(None))
    card = json.loads((smoke_adapter / "card.json").read_text())
    assert adapter.rank == 4 and (smoke_adapter / "adapter_model.safetensors").is_file()
    assert card["training"]["steps"] == 6 and card["training"]["examples"] == 24 + 4  # ranking + explanation
    assert card["data"]["explanation_examples"] == 4
    assert {"ndcg@10", "hr@1"} <= set(card["validation"]) and "ndcg@10" in card["validation_zero_shot"]
    assert card["prompt_version"].startswith("rank_marks@") and card["scoring"] == "marks"
    assert "base_model:" in (smoke_adapter / "README.md").read_text()
    checkpoints = smoke_adapter.with_name("smoke.checkpoints")
    # kept beside the adapter for --resume
    assert (checkpoints / "checkpoint-6" / "trainer_state.json").is_file()


@pytest.mark.e2e
def test_the_adapter_changes_the_scores_and_vllm_serves_it_like_peft(smoke_adapter, ml100k):
    from llmrec.llm.backends import TransformersBackend, TransformersConfig, VLLMBackend, VLLMConfig

    hs = [histories(ml100k.interactions)[u] for u in (1, 2)]
    base = LLMRanker(LLMRankerConfig(candidates=8, retriever=None),
                     backend=TransformersBackend(TransformersConfig())).fit(ml100k)
    jobs = [base.request(h) for h in hs]
    prompts = [base.prompts(r.history, r.candidates)[0][0] for r in jobs]
    ids = base.label_ids[:8]
    peft = TransformersBackend(TransformersConfig(adapters=(str(smoke_adapter),)))
    vllm = VLLMBackend(VLLMConfig(adapters=(str(smoke_adapter),)))
    plain = base.backend.label_logprobs(prompts, ids)
    tuned_peft = peft.label_logprobs(prompts, ids, adapter=str(smoke_adapter))
    try:
        tuned_vllm = vllm.label_logprobs(prompts, ids, adapter="smoke")
        untuned_vllm = vllm.label_logprobs(prompts, ids)
    finally:
        vllm.close()
    assert np.abs(tuned_peft - plain).max() > 1e-3  # the adapter changes the ranking scores
    assert np.abs(tuned_vllm - tuned_peft).max() < 0.1  # and vLLM serves it as peft computes it
    assert np.abs(untuned_vllm - plain).max() < 0.1  # no adapter: the base model
    assert np.abs(peft.label_logprobs(prompts, ids) - plain).max() < 1e-4


@pytest.mark.e2e
def test_vllm_serves_a_marks_adapter_like_peft(smoke_adapter, ml100k):
    from llmrec.llm.backends import TransformersBackend, TransformersConfig, VLLMBackend, VLLMConfig

    hs = [histories(ml100k.interactions)[u] for u in (1, 2)]
    peft = TransformersBackend(TransformersConfig(adapters=(str(smoke_adapter),)))
    ranker = LLMRanker(LLMRankerConfig(candidates=8, scoring="marks"), backend=peft).fit(ml100k)
    encoded = [ranker.encode(h, ranker.recall(h).items) for h in hs]
    prompts, positions = [e[0] for e in encoded], [e[1] for e in encoded]
    tuned_peft = np.array(peft.token_logprobs(prompts, positions, adapter="smoke"))
    plain = np.array(peft.token_logprobs(prompts, positions))
    vllm = VLLMBackend(VLLMConfig(adapters=(str(smoke_adapter),)))
    try:
        tuned_vllm = np.array(vllm.token_logprobs(prompts, positions, adapter="smoke"))
    finally:
        vllm.close()
    assert np.abs(tuned_peft - plain).max() > 1e-3  # the marks adapter changes the mark scores
    assert np.abs(tuned_vllm - tuned_peft).max() < 0.1  # and vLLM (prefix requests, LoRA) agrees with peft

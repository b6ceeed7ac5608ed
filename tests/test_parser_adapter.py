"""The LoRA parser adapter (issue 24): its labels, its data's separation from the test templates, a tiny
training run, and the engine serving it beside the ranking adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.conversation_data import generate
from finetune.parser_data import PHRASES, build_rows, clause_key, derive_labels, held_out_clauses, query_of
from llmrec.artifacts import write_manifest
from llmrec.converse import Conversations, ConverseConfig, RequestParser
from llmrec.llm.adapters import ADAPTER_KIND, AdapterSet
from llmrec.testing import ScriptedLLM

HANDWRITTEN = ["tests/data/requests_handwritten.jsonl", "tests/data/requests_handwritten_blind.jsonl"]


@pytest.fixture(scope="module")
def popularity(ml100k) -> dict[int, int]:
    counts = ml100k.interactions.frame["item"].value_counts()
    return {int(i): int(c) for i, c in counts.items()}


@pytest.fixture(scope="module")
def parser(ml100k, popularity) -> RequestParser:
    return RequestParser(ml100k.catalog, popularity)


@pytest.fixture(scope="module")
def rows(ml100k, parser, popularity):
    return build_rows(parser, ml100k.catalog, popularity, n=1500, handwritten=HANDWRITTEN)


def test_derived_labels_give_the_true_parse_for_every_train_case_they_label(ml100k, parser, popularity):
    cases = generate(ml100k.catalog, n=600, seed=0, split="train", popularity=popularity)
    labelled = 0
    for case in cases:
        labels = derive_labels(parser, case.text, case.parse)
        if labels is None:
            continue
        labelled += 1
        intents = [None if intent == "none" else intent for _, _, intent in labels]
        assert query_of(parser, case.text, intents).to_parse() == case.parse, case.text
    assert labelled >= 0.9 * len(cases)


def test_a_loose_intent_is_labelled_with_its_letter_and_noise_with_none(ml100k, parser):
    truth = parser.parse("a comedy").query.to_parse()
    assert derive_labels(parser, "a comedy, with my girlfriend", truth) == [("with my girlfriend", False,
                                                                              "none")]
    sad = {**truth, "genres_all": ["Comedy", "Drama"]}
    assert derive_labels(parser, "a comedy, bring tissues", sad) == [("bring tissues", False, "sad")]
    not_sad = {**truth, "genres_none": ["Drama"]}  # a negation cue in the clause flips the intent
    assert derive_labels(parser, "a comedy, nothing depressing", not_sad) == [("nothing depressing", True,
                                                                                "sad")]


def test_no_training_row_comes_from_a_test_template_or_a_hand_written_request(ml100k, parser, popularity,
                                                                              rows):
    forbidden, test_texts = held_out_clauses(parser, ml100k.catalog, popularity)
    keys = {clause_key(r.clause) for r in rows.fit + rows.validation}
    assert not keys & forbidden
    used = {r.source.removeprefix("template:") for r in rows.fit + rows.validation
            if r.source.startswith("template:")}
    assert not used - set(rows.train_templates) - set(rows.validation_templates)
    from eval.conversation_data import split_templates

    assert not (set(rows.train_templates) | set(rows.validation_templates)) & split_templates(0)[1]
    phrases = json.loads(PHRASES.read_text(encoding="utf-8"))
    written = [p for by_lang in [*phrases["intents"].values(), phrases["none"]] for ps in by_lang.values()
               for p in ps]
    assert not [p for p in written if any(clause_key(p) in t for t in test_texts)]
    from finetune.parser_data import handwritten_clauses

    assert not keys & handwritten_clauses(parser, HANDWRITTEN)


def test_the_rows_cover_every_intent_and_language_and_validation_is_held_out(rows):
    fit = rows.summary()["fit"]
    from llmrec.converse.reader import INTENT_ORDER

    assert set(fit["intents"]) == set(INTENT_ORDER)
    assert set(fit["languages"]) == {"en", "es", "fr", "de"}
    assert not {(clause_key(r.clause), r.negated) for r in rows.fit} & {(clause_key(r.clause), r.negated)
                                                                        for r in rows.validation}
    assert not set(rows.train_templates) & set(rows.validation_templates)


# -- a tiny training run -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A randomly initialised two-layer llama with the bundled SmolLM2 tokenizer (chat template, letters)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from llmrec.models import resolve_llm

    path = tmp_path_factory.mktemp("tiny-llm")
    tok = AutoTokenizer.from_pretrained(resolve_llm(None))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=512, tie_word_embeddings=True))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_a_tiny_training_run_writes_a_verified_parser_adapter_with_a_card(tiny_model, tmp_path):
    from finetune.parser import main
    from llmrec.data import default_data_path
    from llmrec.llm.adapters import load_adapter

    out = tmp_path / "parser-lora"
    assert main(["--smoke", "--model", str(tiny_model), "--data", str(default_data_path()),
                 "--output", str(out), "--precision", "fp32", "--no-progress"]) == 0
    adapter = load_adapter(out, str(tiny_model))
    card = json.loads((out / "card.json").read_text())
    assert adapter.name == "parser-lora" and adapter.manifest["task"] == "parser" and adapter.rank == 4
    assert card["training"]["steps"] == 4 and card["prompt_version"].startswith("parse_intent@")
    assert card["data"]["train_templates"] and card["data"]["test_templates_excluded"]
    assert not set(card["data"]["train_templates"]) & set(card["data"]["test_templates_excluded"])
    assert {"accuracy", "accuracy_intents", "accuracy_none"} <= set(card["validation"])
    assert "accuracy" in card["validation_zero_shot"]
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert rows and {r["split"] for r in rows} == {"fit", "validation"}


# -- serving: the engine passes the parser adapter to its backend and its reader ---------------------------
def _fake_adapter(path, name: str):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    write_manifest(path, ADAPTER_KIND, name=name, base_model="smollm2-135m-instruct", base_fingerprint="x")
    return path


class _RecordingLLM(ScriptedLLM):
    def __init__(self):
        super().__init__()
        self.adapters: list = []

    def label_logprobs(self, prompts, token_ids, *, adapter=None):
        self.adapters.append(adapter)
        return super().label_logprobs(prompts, token_ids, adapter=adapter)


class _FakeRanker:
    """What Conversations needs of the LLM ranker, with a scripted backend."""

    def __init__(self, params, retriever):
        self.params, self.backend, self.retriever, self.progress = params, _RecordingLLM(), retriever, None

    def start(self, **kwargs):
        return self

    def fit(self, data):
        return self

    def close(self):
        pass


def test_the_engine_serves_the_parser_adapter_beside_the_ranking_one_and_reads_with_it(ml100k, tmp_path,
                                                                                      monkeypatch):
    from llmrec import recommenders
    from llmrec.llm.ranker import LLMRanker, LLMRankerConfig

    parser_dir = _fake_adapter(tmp_path / "parser-lora", "parser-lora")
    rank_dir = _fake_adapter(tmp_path / "lora", "lora")
    retriever = recommenders.create_recommender("dense", {"retriever": None})
    made, original = {}, recommenders.create_recommender

    def create(name, params=None):
        if name == "llm":
            made["ranker"] = _FakeRanker(params, retriever)
            return made["ranker"]
        return original(name, params)

    monkeypatch.setattr(recommenders, "create_recommender", create)
    config = ConverseConfig(retriever=None, ranker={"adapter": str(rank_dir)}, parser_adapter=str(parser_dir))
    conv = Conversations(ml100k, config)
    try:
        ranker = made["ranker"]
        assert ranker.params["extra_adapters"] == [str(parser_dir)]
        assert ranker.params["adapter"] == str(rank_dir)
        assert conv.read_loose  # on by default with a parser adapter
        # one engine: the backend config the ranker starts carries both adapters
        backend = LLMRanker(LLMRankerConfig(**ranker.params)).backend_config()
        assert [a.name for a in AdapterSet(backend.adapters)] == ["lora", "parser-lora"]
        query, reason = conv._read_loose(conv.parser.parse("a comedy").query, [("bring tissues", False)])
        assert reason is None and ranker.backend.adapters == ["parser-lora"] and query.constraints.genres_all
        conv._read_loose(conv.parser.parse("a comedy").query, [("bring tissues", False)],
                         conv._intent_reader(zero_shot=True))
        assert ranker.backend.adapters[-1] is None  # the zero-shot reader: the base model
    finally:
        conv.close()
    with Conversations(ml100k, ConverseConfig(retriever=None), ranker=_FakeRanker({}, retriever)) as plain:
        assert not plain.read_loose  # without a parser adapter the LLM reads nothing unless asked


def test_scores_of_the_reader_are_renormalised_over_the_letters(ml100k):
    from llmrec.converse.reader import IntentReader, ReaderConfig

    reader = IntentReader(_RecordingLLM(), ReaderConfig(adapter="parser-lora"))
    lp = reader.scores(["bring tissues", "tonight"])
    assert lp.shape == (2, 9) and np.allclose(np.exp(lp).sum(1), 1)

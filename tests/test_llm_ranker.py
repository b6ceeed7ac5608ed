"""The LLM ranker's logic with a scripted backend: labels, one pass per order, position bias, fusion."""

import re

import numpy as np
import pandas as pd
import pytest

from llmrec.data import Catalog, Dataset, Interactions
from llmrec.errors import ConfigError, LLMUnavailable
from llmrec.history import histories
from llmrec.items import ItemList
from llmrec.llm.backends import label_token_ids
from llmrec.llm.rank_config import ZERO_SHOT_RETRIEVER_WEIGHT
from llmrec.llm.ranker import MARK, NOT_MARK, LLMRanker, LLMRankerConfig
from llmrec.prompts import load_prompt
from llmrec.request import Request

MOVIES = ["Toy Story", "Finding Nemo", "Halloween", "Scream", "Alien", "The Shining", "Heat", "Fargo"]


MARK_ID, NOT_MARK_ID = 1000, 1001


class LetterTokenizer:
    """Chat template = role-tagged lines; each character is one token (id = its code point), except the mark
    " yes" (one token, id 1000) and " no" (1001)."""

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        return "".join(f"<{m['role']}>{m['content']}\n" for m in messages) + "<assistant>"

    def encode(self, text, add_special_tokens=False):
        if text == NOT_MARK:
            return [NOT_MARK_ID]
        pieces = text.split(MARK)
        return [t for n, piece in enumerate(pieces)
                for t in ([MARK_ID] if n else []) + [ord(c) for c in piece]]

    def decode(self, ids):
        return "".join({MARK_ID: MARK, NOT_MARK_ID: NOT_MARK}.get(t) or chr(t) for t in ids)


class ScriptedBackend:
    """Likes "Fargo" (log-odds +3) but, like small LLMs, likes label A more (+4); counts its calls."""

    def __init__(self):
        self.tokenizer = LetterTokenizer()
        self.calls = 0

    def label_logprobs(self, prompts, token_ids, adapter=None):
        self.calls += 1
        rows = []
        for p in prompts:
            labels = dict(re.findall(r"^([A-Z])\. (.+)$", p, flags=re.MULTILINE))
            logits = np.array([(3.0 if labels[chr(t)].startswith("Fargo") else 0.0)
                               + (4.0 if chr(t) == "A" else 0)
                               for t in token_ids])
            rows.append(logits - np.logaddexp.reduce(logits))
        return np.array(rows)

    def token_logprobs(self, prompts, positions, adapter=None, against=None):
        """Marks: the same taste, read from the candidate line ending at each mark (the first line is liked
        more), as log-odds against " no"."""
        assert against == NOT_MARK_ID
        self.calls += 1
        rows = []
        for ids, pos in zip(prompts, positions):
            assert all(ids[j] == MARK_ID for j in pos)
            lines = [self.tokenizer.decode(ids[:j]).split("\n")[-2:] for j in pos]  # (line before, own line)
            rows.append(np.array([(3.0 if line.startswith("Fargo") else 0.0)
                                  + (4.0 if before == "Candidates:" else 0)
                                  - 10 for before, line in lines]))
        return rows


@pytest.fixture(scope="module")
def movies() -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": range(1, 9), "title": MOVIES, "year": [1995] * 8,
                                    "genres": ["Drama"] * 8}).set_index("item"))
    rows = [(u, i, 4.0, 10 * k) for u in range(1, 5) for k, i in enumerate([1, 2, 3])]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog)


def ranker(movies, **config) -> LLMRanker:
    """A ranker over a scripted backend; its order is the LLM's alone unless a test fuses the retriever's."""
    backend = ScriptedBackend()
    config = {"candidates": 5, "retriever_weight": 0.0, **config}
    return LLMRanker(LLMRankerConfig(**config), backend=backend).fit(movies)


def test_every_candidate_is_scored_from_one_forward_pass(movies):
    r = ranker(movies)
    out = r.rank(histories(movies.interactions)[1])
    assert r.backend.calls == 1 and len(out) == 5
    assert np.isclose(np.logaddexp.reduce(out.scores), 0.0)  # renormalised over the 5 labels


def test_marks_score_each_candidate_at_the_mark_ending_its_own_line_in_one_call(movies):
    r = ranker(movies, scoring="marks")
    h = histories(movies.interactions)[1]
    cands = r.recall(h).items
    ids, positions = r.encode(h, cands)
    assert len(positions) == 5 and all(ids[j] == MARK_ID for j in positions)
    lines = [r.backend.tokenizer.decode(ids[:j]).rsplit("\n", 1)[-1] for j in positions]
    assert lines == [f"{MOVIES[i - 1]}:" for i in cands]  # each mark right after its candidate
    out = r.rank(h)
    assert r.backend.calls == 1 and np.isclose(np.logaddexp.reduce(out.scores), 0.0)
    first, fargo = int(cands[0]), 8
    assert out.items[0] == first and (fargo not in cands or out.items[1] == fargo)  # +4 first line, +3 Fargo
    assert r.prompt.name == "rank_marks" and r.answer_text(fargo, np.array([7, 8])) == "Fargo"


def test_an_items_own_evidence_is_its_marks_log_odds_read_from_the_prompt_up_to_it(movies):
    r = ranker(movies, scoring="marks")
    h = histories(movies.interactions)[1]
    fargo, other = 8, 6
    cands = np.array([fargo, 4, 5, other, 7])
    calls = []
    read = r.backend.token_logprobs
    r.backend.token_logprobs = lambda prompts, positions, **kw: calls.append((prompts, positions)) or read(
        prompts, positions, **kw)
    assert (r.item_scores_many([Request(h, cands, fargo), Request(h, cands, other)]).tolist()
            == [3 + 4 - 10, -10])  # unnormalised
    [(prompts, positions)] = calls  # one call, one mark per prompt, each prompt ending at the item's mark
    ids, marks = r.encode(h, cands)
    assert prompts == [ids[: marks[0] + 1], ids[: marks[3] + 1]] and positions == [[marks[0]], [marks[3]]]
    with pytest.raises(ValueError, match="not among the candidates"):
        r.item_scores_many([Request(h, cands, 1)])


def test_with_letters_an_items_evidence_is_its_label_score_and_one_list_is_scored_once(movies):
    r = ranker(movies)
    h = histories(movies.interactions)[1]
    cands = np.array([8, 4, 5, 6, 7])
    scores = r.item_scores_many([Request(h, cands, 8), Request(h, cands, 6)])
    assert r.backend.calls == 1 and np.allclose(scores, r.llm_scores_many([Request(h, cands)])[0][[0, 3]])


def test_an_adapter_trained_for_the_other_read_out_is_refused(movies, tmp_path):
    from llmrec.artifacts import write_manifest
    from llmrec.llm.adapters import ADAPTER_KIND

    (tmp_path / "adapter_config.json").write_text('{"r": 8}')
    write_manifest(tmp_path, ADAPTER_KIND, name="a", scoring="letters")
    with pytest.raises(ConfigError, match="trained for scoring='letters'.*--scoring letters"):
        ranker(movies, scoring="marks", adapter=str(tmp_path))
    assert ranker(movies, adapter=str(tmp_path)).config.scoring == "letters"  # unset: the adapter's read-out
    assert ranker(movies).config.scoring == "letters"  # no adapter: letters


def test_cyclic_shifts_cancel_position_bias(movies, monkeypatch):
    h = histories(movies.interactions)[1]
    fixed = ItemList(np.array([4, 5, 6, 7, 8]), np.array([5.0, 4, 3, 2, 1]))  # Fargo (8) last
    one_order = ranker(movies, permutations=1)
    monkeypatch.setattr(one_order, "recall", lambda history, text=None: fixed)
    assert one_order.rank(h).items[0] == 4  # label A wins with a single order
    all_orders = ranker(movies, permutations=5)
    monkeypatch.setattr(all_orders, "recall", lambda history, text=None: fixed)
    assert all_orders.rank(h).items[0] == 8  # Fargo, once every candidate has held label A
    assert all_orders.backend.calls == 1  # the 5 orders go to the backend as one batch


def test_the_bundled_zero_shot_model_breaks_a_trained_retrievers_ties_and_any_other_ranks_alone():
    def weight(**config):
        return LLMRanker(LLMRankerConfig(**config), backend=ScriptedBackend()).config.retriever_weight

    assert weight(retriever="auto") == ZERO_SHOT_RETRIEVER_WEIGHT == 8.0  # chosen on validation (eval.fusion)
    assert weight(retriever="runs/retriever") == 8.0
    assert weight() == weight(retriever="untrained") == 0.0  # the text channel alone: the LLM ranks alone
    assert weight(retriever="auto", model="some/other-model") == 0.0
    assert weight(retriever="auto", retriever_weight=0.0) == 0.0
    assert weight(model="m", retriever_weight=2.0) == 2.0


def test_the_retriever_weight_fuses_the_retriever_order(movies):
    h = histories(movies.interactions)[1]
    fused = ranker(movies, permutations=5, llm_weight=0.0, retriever_weight=1.0)
    assert fused.rank(h).items.tolist() == fused.recall(h).items.tolist()


def test_full_ranking_puts_the_reranked_candidates_above_all_other_items(movies):
    r = ranker(movies, permutations=5)
    h = histories(movies.interactions)[1]
    items = np.array([4, 5, 6, 7, 8])
    scores = r.score(h, items)
    assert items[np.argmax(scores)] == 8
    assert np.isfinite(scores).all()


def test_labels_must_be_single_tokens():
    class WordTokenizer(LetterTokenizer):
        def encode(self, text, add_special_tokens=False):
            return [1, 2] if text == "B" else [ord(text)]

    with pytest.raises(ConfigError, match="'B' is 2 tokens"):
        label_token_ids(WordTokenizer(), ["A", "B"])


def test_the_prompt_carries_a_version_and_refuses_missing_variables():
    prompt = load_prompt("rank")
    assert prompt.version.startswith("rank@") and len(prompt.version) == len("rank@") + 12
    with pytest.raises(ConfigError, match="candidates"):
        prompt.messages(history="1. Heat (1995)")
    with pytest.raises(ConfigError, match="no prompt named 'nope'"):
        load_prompt("nope")


def test_a_generated_ranking_is_parsed_back_to_candidates_and_completed():
    from llmrec.llm.listwise import parse_label_list

    assert parse_label_list("C, A, C, Z, B", ["A", "B", "C", "D"]) == ([2, 0, 1, 3], 3)
    assert parse_label_list("I think the answer is", ["A", "B"]) == ([0, 1], 0)


def test_prepare_scores_many_users_in_one_call_with_the_same_result(movies):
    hs = list(histories(movies.interactions).values())
    one_by_one = ranker(movies, permutations=2)
    expected = [one_by_one.rank(h) for h in hs]
    batched = ranker(movies, permutations=2)
    batched.prepare(hs)
    assert batched.backend.calls == 1
    for h, want in zip(hs, expected):
        got = batched.rank(h)
        assert got.items.tolist() == want.items.tolist() and np.allclose(got.scores, want.scores)
    assert batched.backend.calls == 1  # nothing was scored twice
    assert batched.stats()["llm_users"] == len(hs)


class DownBackend(ScriptedBackend):
    """Answers until ``fail_after`` calls, then behaves like a stopped server (or a malformed answer)."""

    def __init__(self, fail_after: int, malformed: bool = False):
        super().__init__()
        self.fail_after, self.malformed = fail_after, malformed

    def label_logprobs(self, prompts, token_ids, adapter=None):
        if self.calls >= self.fail_after:
            self.calls += 1
            if self.malformed:
                return np.full((len(prompts), len(token_ids)), -np.inf)
            raise LLMUnavailable("http://127.0.0.1:9/v1: connection refused", url="http://127.0.0.1:9/v1",
                                 cause="connection refused")
        return super().label_logprobs(prompts, token_ids, adapter)


@pytest.mark.parametrize("malformed", [False, True], ids=["server down", "malformed answer"])
def test_when_the_llm_fails_a_request_gets_the_retriever_order_marked_degraded(movies, malformed, caplog):
    r = LLMRanker(LLMRankerConfig(candidates=5, shuffle_candidates=True),
                  backend=DownBackend(fail_after=1, malformed=malformed)).fit(movies)
    h = histories(movies.interactions)[1]
    assert not r.rank(h).meta.get("degraded")
    with caplog.at_level("WARNING"):
        out = r.rank(h)
    assert out.meta["degraded"] is True and out.meta["reason"]
    # retriever order, not shuffled
    assert out.items.tolist() == r.retriever.candidates(h, k=5).items.tolist()
    assert "degraded" in caplog.text and r.stats()["degraded_users"] == 1


def test_a_failed_batch_degrades_every_user_in_it(movies):
    r = LLMRanker(LLMRankerConfig(candidates=5), backend=DownBackend(fail_after=0)).fit(movies)
    hs = list(histories(movies.interactions).values())
    r.prepare(hs)
    assert all(r.rank(h).meta["degraded"] for h in hs) and r.stats()["degraded_users"] == len(hs)


@pytest.mark.parametrize("scoring", ["letters", "marks"])
def test_the_fusion_weight_is_chosen_on_a_split_with_each_prompt_scored_once(movies, scoring):
    from eval.fusion import select_fusion_weight
    from llmrec.split import leave_last_out

    held = leave_last_out(movies, "validation")
    backend = ScriptedBackend()
    rows, best = select_fusion_weight(LLMRankerConfig(candidates=5, scoring=scoring), held, [0.0, 1.0, 8.0],
                                      backend, progress=False)
    assert [r[0] for r in rows] == ["retriever order", 0.0, 1.0, 8.0]
    assert (best in (0.0, 1.0, 8.0)
            and rows[[r[0] for r in rows].index(best)][2] == max(r[2] for r in rows[1:]))
    assert backend.calls == 1  # one batch of LLM calls; the other weights reuse the memo


def test_given_items_are_scored_exactly_in_one_call_for_many_users(movies):
    r = ranker(movies, permutations=3)  # every item holds label A once
    hs = list(histories(movies.interactions).values())
    items = [np.array([8, 4, 5]), np.array([6, 7, 8])]
    scores = r.score_many(hs[:2], items)
    assert r.backend.calls == 1 and [len(s) for s in scores] == [3, 3]
    assert all(i[np.argmax(s)] == 8 for i, s in zip(items, scores))  # Fargo, wherever the list put it


def test_fitted_again_on_another_split_the_ranker_refits_its_retriever():
    """A ranker fitted on the validation split's data and then on the test split's recalls from the test
    split's fit data (its retriever is fitted again), not the first one's."""
    from llmrec.split import leave_last_out
    from llmrec.testing import ScriptedLLM, conformance_dataset

    data = conformance_dataset()
    fits = []

    class Counting:
        trained = False

        def is_trained(self):
            return self.trained

        def fit(self, d):
            fits.append(d.interactions.fingerprint())
            self.trained = True
            return self

    ranker = LLMRanker(LLMRankerConfig(candidates=5), backend=ScriptedLLM(), retriever=Counting())
    validation, test = leave_last_out(data, "validation").train, leave_last_out(data, "test").train
    ranker.fit(validation)
    ranker.fit(validation)  # the same data: nothing to refit
    ranker.fit(test)
    assert fits == [validation.interactions.fingerprint(), test.interactions.fingerprint()]

"""The item-token LLM as a conversation's ranker (ConverseConfig.items_model): every item the turn allows is
scored, the retriever's request-aware score fused with the model's, the constraints still hold, and a model
that cannot score gives the retriever's order, flagged, never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from llmrec.converse import Conversations, ConverseConfig
from llmrec.converse.itemrank import BoundedCache, ItemTokenRanking
from llmrec.errors import LLMUnavailable
from llmrec.history import histories
from llmrec.items import ItemList
from llmrec.llm.generative import GenLLM, GenLLMConfig, zscore
from llmrec.testing import ScriptedItemLLM, item_model_stub

USER = 1


class _TitleRankerNotUsed:
    """The title-reading LLM ranker, which must not rank when an item-token model does."""

    def __init__(self, retriever) -> None:
        self.retriever, self.progress = retriever, None

    def start(self, **kwargs):
        return self

    def fit(self, data):
        return self

    def rank_candidates(self, request, candidates):
        raise AssertionError("the title rerank ran although an item-token model ranks")

    def close(self) -> None:
        pass


class _DownItemLLM:
    def __init__(self) -> None:
        self.calls = 0

    def allowed_logprobs(self, prompts, token_ids):
        self.calls += 1
        raise LLMUnavailable("item-token engine stopped")


@pytest.fixture(scope="module")
def plain(ml100k):
    """Deterministic parsing and the untrained text retriever, no LLM: the baseline and its retriever."""
    with Conversations(ml100k, ConverseConfig(retriever=None, llm=False)) as c:
        yield c


@pytest.fixture(scope="module")
def stub(ml100k, tmp_path_factory):
    return item_model_stub(tmp_path_factory.mktemp("item-model"), ml100k.catalog)


def _conversations(ml100k, plain, stub, weight, backend=None, **config):
    genllm = GenLLM(GenLLMConfig(model=stub), backend=backend or ScriptedItemLLM())
    config = ConverseConfig(retriever=None, items_model=stub, items_weight=weight, **config)
    return Conversations(ml100k, config, ranker=_TitleRankerNotUsed(plain.retriever),
                         items=ItemTokenRanking(stub, weight, genllm=genllm))


def test_an_ensemble_of_item_token_models_ranks_with_the_mean_of_their_scores(ml100k, plain, stub,
                                                                             tmp_path):
    other = item_model_stub(tmp_path / "seed-1", ml100k.catalog)
    config = ConverseConfig(retriever=None, items_model=stub, items_ensemble=[other], items_weight=1.0)
    with Conversations(ml100k, config, ranker=_TitleRankerNotUsed(plain.retriever)) as conv:
        genllm = conv.items.genllm
        assert [m.config.model for m in genllm.members] == [other]
        assert conv.health()["item_token_ensemble"] == [other]
        genllm.backend, genllm.members[0].backend = ScriptedItemLLM(stub), ScriptedItemLLM(other)
        history = conv.history(USER)
        alone = [GenLLM(GenLLMConfig(model=m), backend=ScriptedItemLLM(m)).fit(ml100k)
                 .item_logprobs([history]) for m in (stub, other)]
        expected = log_softmax((alone[0] + alone[1]) / 2, axis=1)
        np.testing.assert_allclose(genllm.item_logprobs([history]), expected)
        turn = conv.recommend("a comedy", user=USER, k=5)
        assert len(turn.items) == 5 and genllm.members[0].backend.calls == 1


def _expected(conv, text, k, weight):
    """The fused order computed here: every allowed unseen item's retriever score and LLM log-probability."""
    history = conv.history(USER)
    allowed = conv.parser.parse(text).query.constraints.mask(conv.catalog)
    allowed = allowed[~np.isin(allowed, history.items)]
    recalled = conv.retriever.search(history, allowed, len(allowed), request="Comedy")
    llm = conv.items.genllm.item_logprobs([history])[0][conv.items.genllm.vocab.positions(recalled.items)]
    fused = zscore(recalled.scores) + weight * zscore(llm)
    return recalled.items[np.argsort(-fused, kind="stable")[:k]].tolist(), recalled.items[:20].tolist()


def test_the_item_token_model_ranks_every_allowed_item_fused_with_the_retrievers_score(ml100k, plain, stub):
    with _conversations(ml100k, plain, stub, 0.5) as conv:
        turn = conv.recommend("a comedy from the 90s", user=USER, k=5)
        expected, _ = _expected(conv, "a comedy from the 90s", 5, 0.5)
        assert conv.health()["item_token_model"] == stub
    assert not turn.degraded
    assert [it.item for it in turn.items] == expected
    assert all("Comedy" in it.genres and 1990 <= it.year <= 1999 for it in turn.items)


def test_the_model_lifts_allowed_items_the_retriever_placed_below_its_top_k(ml100k, plain, stub):
    with _conversations(ml100k, plain, stub, 100.0) as conv:  # the LLM's order, nearly alone
        turn = conv.recommend("a comedy from the 90s", user=USER, k=5)
        expected, retriever_top = _expected(conv, "a comedy from the 90s", 5, 100.0)
    shown = [it.item for it in turn.items]
    assert shown == expected
    assert set(shown) - set(retriever_top)  # recall is no longer the retriever's top 20


def test_at_weight_zero_the_answer_is_the_retrievers_order(ml100k, plain, stub):
    with _conversations(ml100k, plain, stub, 0.0) as conv:
        turn = conv.recommend("a comedy from the 90s", user=USER, k=8)
    baseline = plain.recommend("a comedy from the 90s", user=USER, k=8)
    assert [it.item for it in turn.items] == [it.item for it in baseline.items]


def test_a_turn_that_names_like_x_items_takes_the_seed_weight(ml100k, plain, stub):
    """items_seed_weight 0: "like X" is answered in the retriever's seeded order; other turns keep the LLM."""
    with _conversations(ml100k, plain, stub, 100.0, items_seed_weight=0.0) as conv:
        seeded = conv.recommend("something like Toy Story", user=USER, k=8)
        assert conv.items.genllm.backend.calls == 0  # weight 0: no forward pass
        unseeded = conv.recommend("a comedy from the 90s", user=USER, k=8)
        assert conv.items.genllm.backend.calls == 1
    assert "like Toy Story" in seeded.interpretation  # the request named an item
    assert [it.item for it in seeded.items] == [
        it.item for it in plain.recommend("something like Toy Story", user=USER, k=8).items]
    assert [it.item for it in unseeded.items] != [
        it.item for it in plain.recommend("a comedy from the 90s", user=USER, k=8).items]


def test_a_model_that_cannot_score_gives_the_retrievers_order_flagged_and_rests(ml100k, plain, stub):
    down = _DownItemLLM()
    with _conversations(ml100k, plain, stub, 0.5, backend=down, llm_retry_after=60.0) as conv:
        first = conv.recommend("a western", user=USER, k=5)
        second = conv.recommend("a western", user=USER, k=5)
        assert conv.health()["status"] == "degraded"
    baseline = plain.recommend("a western", user=USER, k=5)
    assert first.degraded and second.degraded and "item-token engine stopped" in first.reason
    assert down.calls == 1  # the second turn did not wait for the engine again
    assert [it.item for it in first.items] == [it.item for it in second.items] == [
        it.item for it in baseline.items]


def test_an_item_the_model_has_no_token_for_is_placed_by_the_retriever_alone(ml100k, stub):
    ranking = ItemTokenRanking(stub, 1.0, genllm=GenLLM(GenLLMConfig(model=stub), backend=ScriptedItemLLM()))
    ranking.fit(ml100k)
    history = histories(ml100k.interactions)[USER]
    items = np.array([5, 7, 99_999, 11])  # 99,999: added after training, no token
    retr = np.array([0.9, 0.1, 0.5, 0.3])
    out = ranking.rank(history, ItemList(items, retr, {}), n=4)
    llm = ranking.genllm.item_logprobs([history])[0][ranking.genllm.vocab.positions(np.array([5, 7, 11]))]
    fused = zscore(retr) + np.insert(zscore(llm), 2, 0.0)
    got = dict(zip(out.items.tolist(), out.scores.tolist()))
    assert got == pytest.approx(dict(zip(items.tolist(), fused)))


def test_the_item_model_is_made_from_the_config_and_refused_for_another_catalog(ml100k, plain, tmp_path):
    from llmrec.errors import ArtifactError
    from llmrec.testing import conformance_dataset

    stub = item_model_stub(tmp_path / "m", ml100k.catalog)
    with Conversations(ml100k, ConverseConfig(retriever=None, items_model=stub),
                       ranker=_TitleRankerNotUsed(plain.retriever)) as conv:
        assert conv.items.genllm.config.model == stub and conv.items.weight == 8.0
        assert isinstance(conv.items.genllm._cache, BoundedCache)  # a long-running service stays bounded
    other = item_model_stub(tmp_path / "other", conformance_dataset().catalog)
    with pytest.raises(ArtifactError, match="another catalog"):
        Conversations(ml100k, ConverseConfig(retriever=None, items_model=other),
                      ranker=_TitleRankerNotUsed(plain.retriever))
    with Conversations(ml100k, ConverseConfig(retriever=None, llm=False, items_model=stub)) as conv:
        assert conv.items is None  # no LLM at all: the retriever's order


def test_simulated_users_with_the_item_token_pipeline_get_no_violation_and_its_own_offline_list(ml100k, stub):
    from eval.simulate import simulate
    from llmrec.split import leave_last_out

    held = leave_last_out(ml100k, "test")
    genllm = GenLLM(GenLLMConfig(model=stub), backend=ScriptedItemLLM())
    with Conversations(held.train, ConverseConfig(retriever=None, llm=False)) as plain_held:
        config = ConverseConfig(retriever=None, items_model=stub)
        with Conversations(held.train, config, ranker=_TitleRankerNotUsed(plain_held.retriever),
                           items=ItemTokenRanking(stub, 0.5, genllm=genllm)) as conv:
            report = simulate(held, {"items": conv, "no LLM": plain_held}, users=12, seed=1, offline=conv,
                              progress=False)
            calls = genllm.stats()["llm_users"]
    for name in ("items", "no LLM"):
        s = report["systems"][name]
        assert s["violations"] == 0 and s["rejected_reappeared"] == 0
    assert report["systems"]["items"]["degraded"] == 0  # (answers without any LLM are flagged degraded)
    assert report["systems"]["offline top-k, no request"]["turns"] == 12
    assert calls >= 12  # the offline list and every turn were scored by the item-token model


def test_the_score_cache_keeps_only_the_most_recent_histories():
    cache = BoundedCache(2)
    cache["a"], cache["b"], cache["a"], cache["c"] = 1, 2, 3, 4  # "a" written again: now the newest but one
    assert list(cache) == ["a", "c"] and cache["a"] == 3


def test_like_x_seeds_are_read_by_the_model_as_if_watched_last(ml100k, stub):
    from llmrec.history import History

    ranking = ItemTokenRanking(stub, 1.0, genllm=GenLLM(GenLLMConfig(model=stub), backend=ScriptedItemLLM()))
    ranking.fit(ml100k)
    history = histories(ml100k.interactions)[USER]
    items, retr = np.array([5, 7, 11, 13]), np.array([0.9, 0.1, 0.5, 0.3])
    seed = int(next(i for i in ml100k.catalog.item_ids if i not in set(history.items.tolist())))
    seeded = ranking.rank(history, ItemList(items, retr, {}), n=4, seeds=np.array([seed]))
    written = History(history.user, np.r_[history.items, seed], np.r_[history.ratings, np.nan],
                      np.r_[history.timestamps, history.timestamps[-1]])
    llm = ranking.genllm.item_logprobs([written])[0][ranking.genllm.vocab.positions(items)]
    got = dict(zip(seeded.items.tolist(), seeded.scores.tolist()))
    assert got == pytest.approx(dict(zip(items.tolist(), zscore(retr) + zscore(llm))))
    plain = ranking.rank(history, ItemList(items, retr, {}), n=4)
    assert dict(zip(plain.items.tolist(), plain.scores.tolist())) != pytest.approx(got)
    first = int(history.items[0])  # a seed the history holds is moved to its end
    moved = ranking.rank(history, ItemList(items, retr, {}), n=4, seeds=np.array([first]))
    reordered = History(history.user, np.r_[history.items[1:], first], np.r_[history.ratings[1:],
                        history.ratings[0]], np.r_[history.timestamps[1:], history.timestamps[-1]])
    llm = ranking.genllm.item_logprobs([reordered])[0][ranking.genllm.vocab.positions(items)]
    assert dict(zip(moved.items.tolist(), moved.scores.tolist())) == pytest.approx(
        dict(zip(items.tolist(), zscore(retr) + zscore(llm))))


def test_a_weight_left_unset_on_the_command_line_is_the_engines_default(ml100k):
    from llmrec.converse import open_converser

    with open_converser(ml100k, retriever=None, llm=False, items_weight=None, items_seed_weight=None,
                        items_model=None) as conv:
        assert conv.config.items_weight == ConverseConfig().items_weight
        assert conv.config.items_seed_weight == ConverseConfig().items_seed_weight
    with open_converser(ml100k, retriever=None, llm=False, items_weight=2.5) as conv:
        assert conv.config.items_weight == 2.5

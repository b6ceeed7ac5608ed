"""Cold-start protocols: what the fit data loses, who is evaluated, and what a pre-trained model may see."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_dataset

from eval.cli import main
from eval.protocols import protocol_retriever
from llmrec.artifacts import write_manifest
from llmrec.errors import ConfigError
from llmrec.evaluation.report import Report, compare_reports
from llmrec.protocols import (
    ColdStart,
    cold_item_set,
    cold_items,
    cold_user_set,
    cold_users,
    pretraining_splits,
)
from llmrec.split import leave_last_out, target_items


@pytest.fixture
def small():
    """20 users with 6 interactions each over 20 items (user u watches items u, u+1, ..., mod 20)."""
    rows = [(u, (u + j) % 20 + 1, 5 - j % 5, 100 * j) for u in range(1, 21) for j in range(6)]
    return make_dataset(rows, n_items=20)


def _pairs(data):
    return set(map(tuple, data.interactions.frame[["user", "item"]].to_numpy().tolist()))


def test_a_seeded_share_of_the_catalog_is_cold_and_the_same_seed_gives_the_same_items(small):
    cold = cold_item_set(small, share=0.2, seed=0)
    assert len(cold) == 4 and set(cold) <= set(small.catalog.item_ids)
    assert np.array_equal(cold, cold_item_set(small, share=0.2, seed=0))
    assert not np.array_equal(cold, cold_item_set(small, share=0.2, seed=1))


@pytest.mark.parametrize("split", ["validation", "test"])
def test_cold_items_lose_every_fit_interaction_and_only_their_held_out_users_are_evaluated(small, split):
    cold = set(cold_item_set(small, share=0.2).tolist())
    held, plain = cold_items(small, split, share=0.2), leave_last_out(small, split)
    assert not cold & set(held.train.interactions.frame["item"])
    # everything else of the leave-last-out fit data is kept
    assert _pairs(held.train) == {(u, i) for u, i in _pairs(plain.train) if i not in cold}
    # the held-out item is leave-last-out's, for exactly the users whose item is cold
    assert target_items(held) == {u: i for u, i in target_items(plain).items() if i in cold}
    assert held.n_users > 0


@pytest.mark.parametrize("length", [1, 3])
def test_cold_users_keep_only_their_first_interactions_and_others_keep_everything(small, length):
    held, plain = cold_users(small, "test", length, share=0.25), leave_last_out(small, "test")
    cold = set(cold_user_set(small, share=0.25).tolist())
    assert len(cold) == 5 and set(target_items(held)) == cold
    assert target_items(held) == {u: i for u, i in target_items(plain).items() if u in cold}
    fit, full = held.train.interactions.ordered(), plain.train.interactions.ordered()
    for user in cold:  # the first `length` by timestamp: items user, user+1, ...
        assert fit[fit.user == user]["item"].tolist() == full[full.user == user]["item"].tolist()[:length]
    others = fit[~fit.user.isin(cold)]
    assert len(others) == len(full[~full.user.isin(cold)])


def test_both_cold_user_splits_evaluate_the_same_users_on_their_own_held_out_items(small):
    test, val = cold_users(small, "test", 3), cold_users(small, "validation", 3)
    assert set(target_items(test)) == set(target_items(val))
    assert target_items(val) == {u: i for u, i in target_items(leave_last_out(small, "validation")).items()
                                 if u in target_items(test)}


def test_pretraining_never_sees_a_cold_items_interaction_not_even_as_a_validation_target(small):
    protocol = ColdStart("cold-items", share=0.2)
    cold = set(cold_item_set(small, share=0.2).tolist())
    val, test = pretraining_splits(small, protocol)
    for held in (val, test):
        assert not cold & set(held.train.interactions.frame["item"])
        assert not cold & set(held.targets["item"])
    # the test fit data is the protocol's own, so the cached retriever is found for it by fingerprint
    assert test.train.interactions.fingerprint() == \
        cold_items(small, "test", share=0.2).train.interactions.fingerprint()


def test_pretraining_for_cold_users_leaves_them_out_entirely(small):
    val, test = pretraining_splits(small, ColdStart("cold-users", share=0.25))
    cold = set(cold_user_set(small, share=0.25).tolist())
    for held in (val, test):
        assert not cold & set(held.train.interactions.frame["user"])
        assert not cold & set(held.targets["user"])


@pytest.mark.parametrize(("kwargs", "bad"), [({"share": 0.0}, "0.0"), ({"share": 1.5}, "1.5"),
                                             ({"history_length": 0}, "0")])
def test_bad_protocol_settings_are_refused_naming_the_value(kwargs, bad):
    with pytest.raises(ConfigError, match=bad):
        ColdStart("cold-users", **kwargs)


def test_a_retriever_trained_on_the_whole_log_is_refused_under_a_cold_protocol(small, tmp_path):
    write_manifest(tmp_path, "retriever", dataset=small.interactions.fingerprint())
    with pytest.raises(ConfigError, match="whole interaction log"):
        protocol_retriever(str(tmp_path), small, ColdStart("cold-items"))
    assert protocol_retriever(None, small, ColdStart("cold-items")) is None


def test_an_item_token_model_not_trained_on_the_protocols_pretraining_data_is_refused(small, tmp_path):
    from eval.protocols import check_item_models

    protocol = ColdStart("cold-users")
    _, test = pretraining_splits(small, protocol)
    own = tmp_path / "own"
    write_manifest(own, "item-token-model", trained_on=test.train.interactions.fingerprint())
    check_item_models({"model": str(own)}, small, protocol, "test")  # the protocol's own: accepted
    whole = tmp_path / "whole"
    write_manifest(whole, "item-token-model",
                   trained_on=leave_last_out(small, "test").train.interactions.fingerprint())
    other = tmp_path / "other"  # another protocol's pretraining data
    write_manifest(other, "item-token-model", trained_on=pretraining_splits(
        small, ColdStart("cold-items"))[1].train.interactions.fingerprint())
    for bad in (whole, other):
        with pytest.raises(ConfigError, match="not trained on the cold-users protocol's pretraining data"):
            check_item_models({"model": str(own), "ensemble": [str(bad)]}, small, protocol, "test")
    with pytest.raises(ConfigError, match="--cold-seed 1"):
        check_item_models({"model": str(own)}, small, ColdStart("cold-users", seed=1), "test")
    check_item_models({}, small, protocol, "test")  # no item-token model: nothing to check


def test_cold_items_cli_reports_the_protocol_and_popularity_never_recalls_a_cold_item(ml100k, tmp_path,
                                                                                     capsys):
    out = tmp_path / "knn.json"
    assert main(["--data", ml100k.source["path"], "--protocol", "cold-items", "--recommender", "itemknn",
                 "--split", "validation", "--no-progress", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cold-items: share 0.1, seed 0 (validation)" in printed
    knn, pop = Report.load(out), Report.load(tmp_path / "knn.popularity--reference.json")
    assert knn.extra["protocol"] == pop.extra["protocol"] == "cold-items: share 0.1, seed 0"
    assert knn.n_users == pop.n_users > 50
    # neither can score an item with no interactions above the catalog's warm items
    assert knn.metrics["recall@100"] == pop.metrics["recall@100"] == 0.0
    assert compare_reports(pop, knn).attrs["n_users"] == knn.n_users


def test_cold_users_cli_writes_one_report_per_history_length_and_compare_refuses_mixing_them(
        ml100k, tmp_path, capsys):
    out = tmp_path / "pop.json"
    assert main(["--data", ml100k.source["path"], "--protocol", "cold-users", "--history-lengths", "1", "5",
                 "--recommender", "popularity", "--no-progress", "--output", str(out)]) == 0
    one, five = Report.load(tmp_path / "pop.h1.json"), Report.load(tmp_path / "pop.h5.json")
    assert one.n_users == five.n_users == 94
    assert one.extra["protocol"].startswith("cold-users: first 1 interactions")
    assert main(["--compare", str(tmp_path / "pop.h1.json"), str(tmp_path / "pop.h5.json")]) == 2
    assert "different protocols" in capsys.readouterr().err


def test_replay_is_dispatched_to_its_module_and_a_missing_one_is_a_clear_error(ml100k, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "eval.replay", None)  # as if eval/replay.py did not exist
    assert main(["--data", ml100k.source["path"], "--protocol", "replay", "--no-progress"]) == 2
    assert "eval/replay.py" in capsys.readouterr().err


def test_a_lora_adapter_is_refused_under_a_cold_protocol(ml100k, capsys):
    assert main(["--data", ml100k.source["path"], "--protocol", "cold-items", "--recommender", "llm",
                 "--adapter", "runs/lora", "--no-progress"]) == 2
    assert "adapter" in capsys.readouterr().err


def test_the_llm_rankers_retriever_takes_the_text_weight_given_to_the_llm_run():
    from eval.protocols import _llm_retriever
    from llmrec.llm.rank_config import LLMRankerConfig

    assert _llm_retriever(LLMRankerConfig(), None) is None
    retriever = _llm_retriever(LLMRankerConfig(retriever="untrained"), 8.0)
    assert retriever.name == "dense" and retriever.config.text_weight == 8.0


def test_auto_is_a_retriever_trained_once_on_the_protocols_pretraining_splits(small, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path))
    from llmrec.artifacts import read_manifest

    protocol = ColdStart("cold-items", share=0.2)
    val, test = pretraining_splits(small, protocol)
    path = protocol_retriever("auto", small, protocol, progress=False)
    manifest = read_manifest(path, "retriever")
    assert manifest["fits"] == {"validation": val.train.interactions.fingerprint(),
                                "final": test.train.interactions.fingerprint()}
    assert manifest["dataset"] != small.interactions.fingerprint()  # never taken for the whole log's
    written = (Path(path) / "manifest.json").stat().st_mtime_ns
    assert protocol_retriever("auto", small, protocol, progress=False) == path  # cached: not trained again
    assert (Path(path) / "manifest.json").stat().st_mtime_ns == written
    assert [p.name for p in (tmp_path / "retrievers").iterdir()] == [test.train.interactions.fingerprint()]

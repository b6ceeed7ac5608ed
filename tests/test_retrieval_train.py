"""``python -m retrieval.train`` end to end on a small table dataset, and its training pairs."""

import json

import numpy as np
import pandas as pd
import pytest

from llmrec.artifacts import read_manifest
from llmrec.data import load_dataset
from llmrec.history import History, histories
from llmrec.split import leave_last_out
from retrieval import train
from retrieval.retriever import RETRIEVER_KIND, DenseConfig, DenseRetriever
from retrieval.text import item_text, query_text
from retrieval.text_train import training_pairs

GENRES = ["Comedy", "Horror", "Drama", "Sci-Fi"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Twelve users walking through a 12-movie catalog in genre-coherent orders."""
    root = tmp_path_factory.mktemp("tables")
    items = pd.DataFrame({"item": range(1, 13), "title": [f"Film number {i}" for i in range(1, 13)],
                          "year": [1980 + i for i in range(1, 13)],
                          "genres": [GENRES[i % 4] for i in range(1, 13)]})
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 4.0, 100 * k) for u in range(1, 13)
            for k, i in enumerate(rng.permutation(np.arange(1, 13))[:6])]
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(
        root / "ratings.csv", index=False)
    items.to_csv(root / "items.csv", index=False)
    return root / "ratings.csv", root / "items.csv"


def test_training_pairs_are_each_history_prefix_and_the_item_that_followed(tables):
    data = load_dataset(*tables)
    h = histories(data.interactions)[1].last(3)
    pairs = training_pairs({1: h}, data.catalog, n=10, seed=0)
    expected = [(query_text(History(1, h.items[:t], h.ratings[:t], h.timestamps[:t]), data.catalog),
                 item_text(data.catalog, int(h.items[t]))) for t in (1, 2)]
    assert sorted((p["anchor"], p["positive"]) for p in pairs) == sorted(expected)
    # newest first
    assert expected[1][0].startswith("Watched: " + data.catalog.display_title(int(h.items[1])))


def test_train_writes_a_retriever_that_keeps_validation_items_out_of_validation(tables, tmp_path):
    out = tmp_path / "retriever"
    argv = ["--data", str(tables[0]), "--items", str(tables[1]), "--output", str(out), "--dim", "4",
            "--epochs", "1", "--members", "2", "--text-examples", "16", "--text-batch-size", "4",
            "--eval-steps", "2", "--hard-negatives", "1", "--text-weights", "0", "1", "--no-progress"]
    assert train.main(argv) == 0
    manifest = read_manifest(out, RETRIEVER_KIND)
    assert manifest["text"] == "text" and (out / "text").is_dir()
    assert manifest["text_weight"] in (0.0, 1.0)
    card = json.loads((out / "card.json").read_text())
    assert card["text_training"]["steps"] >= 1 and card["seconds"]["total"] > 0
    assert not (tmp_path / "retriever.checkpoints").exists()

    data = load_dataset(*tables)
    val, test = leave_last_out(data, "validation"), leave_last_out(data, "test")
    assert DenseRetriever._collab_file(manifest, val.train) == "collab-validation.pt"
    assert DenseRetriever._collab_file(manifest, test.train) == "collab-final.pt"
    recs = DenseRetriever(DenseConfig(retriever=str(out))).fit(test.train).candidates(
        histories(test.train.interactions)[1], k=3)
    assert len(recs) == 3


@pytest.mark.parametrize("flags, named", [
    (["--text-weights", "-1"], "--text-weights"), (["--epochs", "0"], "--epochs"),
    (["--attention-weight", "1.5"], "--attention-weight"), (["--dropout", "1"], "--dropout"),
    (["--lr", "0"], "--lr"),
])
def test_a_setting_no_run_can_use_is_refused_before_training(tmp_path, flags, named):
    from llmrec.errors import ConfigError

    with pytest.raises(ConfigError, match=named):
        train.main(["--output", str(tmp_path / "r"), *flags])
    assert not (tmp_path / "r").exists()


def test_an_ensemble_of_attention_members_alone_is_a_valid_setting():
    assert train.TrainConfig(output="r", members=0, attention_members=2).attention_members == 2

"""Self-attentive members of the collaborative channel: chunks, causality, weighted ensembles, artifacts."""

import numpy as np
import pytest
import torch

from llmrec.errors import ArtifactError
from retrieval.attention import AttentionModel, sequence_chunks, train_attention_model
from retrieval.collab import CollabConfig, CollabEnsemble, pad_window, train_collab

SEQUENCES = [np.array([0, 1, 2, 3, 4, 5, 6]), np.array([2, 3, 4]), np.array([5]), np.array([1, 2, 3, 4, 5])]


def test_chunks_hold_every_next_item_example_exactly_once():
    x, y = sequence_chunks(SEQUENCES, window=3)
    assert x.shape == y.shape and x.shape[1] == 3
    examples = sorted((int(c), int(t)) for row_x, row_y in zip(x, y) for c, t in zip(row_x, row_y) if t > 0)
    expected = sorted((int(s[t - 1]) + 1, int(s[t]) + 1) for s in SEQUENCES for t in range(1, len(s)))
    assert examples == expected  # (item, the item after it) pairs, +1 shifted
    assert int((y > 0).sum()) == sum(len(s) - 1 for s in SEQUENCES)


def test_a_chunk_is_a_contiguous_stretch_of_its_sequence_left_padded():
    x, y = sequence_chunks([np.arange(8)], window=3)
    rows = [(r.tolist(), t.tolist()) for r, t in zip(x, y)]
    assert rows == [([5, 6, 7], [6, 7, 8]), ([2, 3, 4], [3, 4, 5]), ([0, 0, 1], [0, 0, 2])]


def test_sequences_too_short_to_train_on_are_refused():
    with pytest.raises(ValueError, match="fewer than two items"):
        sequence_chunks([np.array([3]), np.array([], dtype=np.int64)], window=4)


def test_the_output_at_a_position_never_reads_a_later_item():
    torch.manual_seed(0)
    model = AttentionModel(10, CollabConfig(dim=8, window=5, attention_heads=2)).eval()
    a = torch.tensor([[0, 1, 2, 3, 4]])
    b = torch.tensor([[0, 1, 2, 9, 7]])
    with torch.no_grad():
        ha, hb = model.hidden(a), model.hidden(b)
    assert torch.allclose(ha[:, :3], hb[:, :3], atol=1e-6)
    assert not torch.allclose(ha[:, 3:], hb[:, 3:])


def test_an_attention_member_learns_which_item_follows_which():
    order = [np.array([0, 1, 2, 3, 4, 5, 6, 7]) for _ in range(16)]
    config = CollabConfig(dim=16, window=4, attention_members=1, members=0, attention_epochs=30,
                          attention_lr=1e-2, attention_dropout=0.0, attention_batch_size=8)
    model = train_attention_model(order, 8, config, progress=False)
    with torch.no_grad():
        q = model.query(torch.from_numpy(pad_window(np.array([1, 2, 3]), 4)).unsqueeze(0))
        scores = (q @ model.item_vectors().T)[0]
    assert int(scores.argmax()) == 4


def test_a_mixed_ensemble_scores_the_weighted_mean_of_its_members():
    config = CollabConfig(dim=4, window=3, epochs=1, members=2, attention_members=1, attention_epochs=1,
                          attention_weight=0.3, attention_heads=2)
    ensemble = train_collab(SEQUENCES, 7, config, progress=False)
    assert [type(m).__name__ for m in ensemble.models] == ["SequenceModel", "SequenceModel", "AttentionModel"]
    assert ensemble.weights == pytest.approx([0.35, 0.35, 0.3])
    x = torch.tensor([[0, 1, 2], [3, 4, 5]])
    with torch.no_grad():
        linear = torch.stack([m(x) for m in ensemble.models[:2]]).mean(0)
        attention = ensemble.models[2].logits(ensemble.models[2].hidden(x)[:, -1])
    fused = ensemble.query(x) @ ensemble.item_vectors().T
    assert torch.allclose(fused, 0.7 * linear + 0.3 * attention, atol=1e-5)


def test_member_weights_give_each_kind_its_share():
    assert CollabConfig(members=4).member_weights() == [0.25] * 4
    assert CollabConfig(members=0, attention_members=2).member_weights() == [0.5, 0.5]
    assert CollabConfig(members=1, attention_members=2).member_weights() == [0.5, 0.25, 0.25]


@pytest.mark.parametrize("fields, message", [
    ({"members": 0}, "at least one member"),
    ({"attention_members": -1}, "at least one member"),
    ({"attention_weight": 1.5}, r"attention_weight must be in \[0, 1\]"),
    ({"dim": 6, "attention_heads": 4}, "multiple of attention_heads"),
])
def test_impossible_configurations_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        CollabConfig(**fields)


def test_a_mixed_ensemble_round_trips_and_a_file_its_manifest_does_not_describe_is_refused(tmp_path):
    config = CollabConfig(dim=4, window=3, epochs=1, members=1, attention_members=1, attention_epochs=1)
    ensemble = train_collab(SEQUENCES, 7, config, progress=False)
    ensemble.save(tmp_path / "c.pt")
    loaded = CollabEnsemble.load(tmp_path / "c.pt", 7, config)
    x = torch.tensor([[0, 1, 2]])
    assert torch.equal(loaded.item_vectors(), ensemble.item_vectors())
    assert torch.allclose(loaded.query(x), ensemble.query(x))
    with pytest.raises(ArtifactError, match="2 collaborative models, but its manifest describes 3 linear"):
        CollabEnsemble.load(tmp_path / "c.pt", 7, CollabConfig(dim=4, window=3, members=3))
    with pytest.raises(ArtifactError, match="member 2 is not the SequenceModel its manifest describes"):
        CollabEnsemble.load(tmp_path / "c.pt", 7, CollabConfig(dim=4, window=3, members=2))


def test_a_cached_retriever_of_an_older_recipe_is_passed_over(tmp_path, monkeypatch):
    import pandas as pd

    from llmrec.artifacts import write_manifest
    from llmrec.data import Catalog, Dataset, Interactions
    from retrieval import store

    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path))
    catalog = Catalog(pd.DataFrame({"item": [1, 2], "title": ["A", "B"], "year": [1990, 1991],
                                    "genres": ["Drama", "Comedy"]}).set_index("item"))
    data = Dataset(Interactions(pd.DataFrame({"user": [1, 1], "item": [1, 2], "rating": [4.0, 5.0],
                                              "timestamp": [1, 2]})), catalog)
    path = store.default_path(data)
    path.mkdir(parents=True)
    write_manifest(path, store.RETRIEVER_KIND, dataset=data.interactions.fingerprint(), fits={})
    assert store.find_cached(data) is None  # no recipe: the first one
    write_manifest(path, store.RETRIEVER_KIND, dataset=data.interactions.fingerprint(), fits={},
                   recipe=store.RECIPE)
    assert store.find_cached(data) == path


def test_only_the_default_configuration_is_labelled_with_the_recipe():
    from retrieval.store import RECIPE
    from retrieval.train import TrainConfig, recipe

    assert recipe(TrainConfig(output="r", seed=3, data="d")) == RECIPE
    assert recipe(TrainConfig(output="r", attention_members=0)) is None  # recipe 1's configuration
    assert recipe(TrainConfig(output="r", epochs=5)) is None

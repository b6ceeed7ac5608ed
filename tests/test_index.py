"""Specification of the item index (retrieval/index.py), on small random catalogs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest

from llmrec.errors import ArtifactError, ConfigError
from retrieval.index import IndexConfig, ItemIndex

DIM = 16
ENCODER = {"encoder_id": "test-encoder", "encoder_hash": "hash-a"}
KINDS = ["flat", "hnsw", "ivf"]


def make_catalog(n: int, dim: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random vectors with non-contiguous, shuffled catalog ids (e.g. 10, 23, 35, ...)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    ids = rng.permutation(9 + np.cumsum(rng.integers(1, 15, n))).astype(np.int64)
    return vectors, ids


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int):
    """The true top-k by cosine similarity, computed with numpy."""
    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = unit(queries.astype(np.float64)) @ unit(vectors.astype(np.float64)).T
    order = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cos, order, axis=1), ids[order]


def build(kind: str, n: int = 300, **config) -> tuple[ItemIndex, np.ndarray, np.ndarray]:
    vectors, ids = make_catalog(n)
    if kind == "ivf":
        config.setdefault("nlist", 4)
        config.setdefault("nprobe", 4)  # every list: exact, so results are deterministic
    return ItemIndex.build(vectors, ids, **ENCODER, config=IndexConfig(kind=kind, **config)), vectors, ids


def test_exact_search_returns_the_true_top_k_by_cosine():
    vectors, ids = make_catalog(500)
    index = ItemIndex.build(vectors * 3.0, ids, **ENCODER)  # scale is irrelevant: vectors are normalised
    assert index.kind == "flat" and len(index) == 500 and index.dim == DIM
    queries = np.random.default_rng(1).standard_normal((20, DIM)).astype(np.float32)
    scores, found = index.search(queries * 0.5, 10)
    want_scores, want_ids = exact_top_k(vectors, ids, queries, 10)
    assert scores.dtype == np.float32 and found.dtype == np.int64 and found.shape == (20, 10)
    np.testing.assert_array_equal(found, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_ids_map_back_to_catalog_ids(kind):
    index, vectors, ids = build(kind)
    scores, found = index.search(vectors[:50], 1)
    np.testing.assert_array_equal(found[:, 0], ids[:50])  # each item's own vector finds the item itself
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert set(index.item_ids.tolist()) == set(ids.tolist())


def test_auto_is_exact_up_to_exact_max_items_and_hnsw_above():
    vectors, ids = make_catalog(200)
    assert ItemIndex.build(vectors, ids, **ENCODER, config=IndexConfig(exact_max_items=200)).kind == "flat"
    assert ItemIndex.build(vectors, ids, **ENCODER, config=IndexConfig(exact_max_items=199)).kind == "hnsw"


def test_hnsw_recall_at_10_against_exact_is_at_least_0_9():
    vectors, ids = make_catalog(5000, dim=32, seed=2)
    queries = np.random.default_rng(3).standard_normal((200, 32)).astype(np.float32)
    hnsw = ItemIndex.build(vectors, ids, **ENCODER, config=IndexConfig(kind="hnsw"))
    _, found = hnsw.search(queries, 10)
    _, truth = exact_top_k(vectors, ids, queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found.tolist(), truth.tolist())])
    assert recall >= 0.9, recall


@pytest.mark.parametrize("kind", KINDS)
def test_exclude_leaves_items_out_and_still_fills_k(kind):
    index, vectors, ids = build(kind)
    queries = vectors[:5] + 0.1
    _, truth = exact_top_k(vectors, ids, queries, 8)
    excluded = [row[:3] for row in truth]  # the 3 best items of every query
    _, found = index.search(queries, 5, exclude=excluded)
    np.testing.assert_array_equal(found, truth[:, 3:8])


def test_fewer_items_than_k_pads_with_minus_inf_and_minus_one():
    vectors, ids = make_catalog(3)
    scores, found = ItemIndex.build(vectors, ids, **ENCODER).search(vectors[:2], 5)
    assert (found[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    assert set(found[0, :3].tolist()) == set(ids.tolist())


@pytest.mark.parametrize("kind", KINDS)
def test_added_items_are_found_without_rebuild(kind):
    index, _, _ = build(kind)
    new = np.random.default_rng(9).standard_normal((2, DIM)).astype(np.float32)
    index.add(new, np.array([100_001, 100_003]))
    _, found = index.search(new, 1)
    assert found[:, 0].tolist() == [100_001, 100_003] and len(index) == 302


@pytest.mark.parametrize("kind", KINDS)
def test_removed_items_are_never_returned(kind):
    index, vectors, ids = build(kind)
    gone = ids[::2]
    index.remove(gone)
    assert len(index) == 150 and set(index.item_ids.tolist()) == set(ids[1::2].tolist())
    assert index.n_tombstones == (150 if kind == "hnsw" else 0)  # HNSW cannot delete: tombstones
    scores, found = index.search(vectors[:20], 300)  # ask for everything: only live items come back
    for row in found:
        assert set(row[row >= 0].tolist()) == set(ids[1::2].tolist())
    assert (found[:, 150:] == -1).all() and np.isneginf(scores[:, 150:]).all()
    index.add(vectors[:1], ids[:1])  # a removed id can be added again
    assert index.search(vectors[:1], 1)[1][0, 0] == ids[0]


@pytest.mark.parametrize(("action", "message"), [
    (lambda index, v, ids: index.add(v[:1], ids[:1]), "already in the index"),
    (lambda index, v, ids: index.remove([12345678]), "not in the index: \\[12345678\\]"),
    (lambda index, v, ids: index.search(v[:, :8], 3), "dimension 8 but the index holds 16-d"),
    (lambda index, v, ids: index.search(v[0], 3), "2-D array"),
    (lambda index, v, ids: index.search(v[:2], 0), "k must be a positive integer"),
    (lambda index, v, ids: index.search(v[:2], 3, exclude=[ids[:1]]), "exclude has 1 entries for 2"),
])
def test_misuse_is_a_clear_error(action, message):
    index, vectors, ids = build("flat", n=20)
    with pytest.raises(ValueError, match=message):
        action(index, vectors, ids)


@pytest.mark.parametrize(("vectors", "ids", "message"), [
    (np.ones((3, DIM)), np.array([1, 2, 2]), "duplicate item ids: \\[2\\]"),
    (np.ones((3, DIM)), np.array([1, 2]), "of 3 ids, one per vector"),
    (np.where(np.arange(3)[:, None] == 1, np.nan, np.ones((3, DIM))), np.array([7, 8, 9]),
     "item ids \\[8\\]"),
    (np.zeros((2, DIM)), np.array([1, 2]), "all zero"),
    (np.ones((3, DIM)), np.array([1.5, 2, 3]), "must be integers"),
])
def test_bad_build_input_is_refused(vectors, ids, message):
    with pytest.raises(ValueError, match=message):
        ItemIndex.build(vectors, ids, **ENCODER)


@pytest.mark.parametrize(("config", "message"), [
    ({"kind": "lsh"}, "'lsh'"),
    ({"m": 0}, "m must be a positive integer, got 0"),
    ({"ef_search": 2.5}, "got 2.5"),
    ({"nlist": -3}, "got -3"),
])
def test_invalid_config_shows_the_bad_value(config, message):
    with pytest.raises(ConfigError, match=message):
        IndexConfig(**config)


@pytest.mark.skipif(faiss.get_num_gpus() > 0, reason="this machine has a GPU")
def test_use_gpu_without_a_gpu_is_refused():
    with pytest.raises(ConfigError, match="use_gpu=True but FAISS sees no GPU"):
        IndexConfig(use_gpu=True)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_gives_identical_results(kind, tmp_path):
    index, vectors, ids = build(kind)
    index.remove(ids[:10])  # tombstones and id mapping survive too
    index.save(tmp_path / "index")
    loaded = ItemIndex.load(tmp_path / "index", expect_encoder_hash="hash-a",
                            expect_encoder_id="test-encoder")
    assert (loaded.kind, loaded.dim, len(loaded), loaded.encoder_id) == (kind, DIM, 290, "test-encoder")
    np.testing.assert_array_equal(loaded.item_ids, index.item_ids)
    for a, b in zip(index.search(vectors[:30], 10), loaded.search(vectors[:30], 10)):
        np.testing.assert_array_equal(a, b)


def _flip_bytes(name: str) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        data = bytearray((directory / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (directory / name).write_bytes(bytes(data))
    return damage


def _edit_manifest(**fields) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        manifest = json.loads((directory / "manifest.json").read_text())
        (directory / "manifest.json").write_text(json.dumps({**manifest, **fields}))
    return damage


@pytest.mark.parametrize(("damage", "expect", "message"), [
    (None, {"expect_encoder_hash": "hash-b"}, "encoder_hash='hash-a' does not match 'hash-b'"),
    (None, {"expect_encoder_id": "other-encoder"}, "encoder_id='test-encoder' does not match"),
    (_flip_bytes("index.faiss"), {}, "index.faiss is corrupt"),
    (_flip_bytes("slot_ids.npy"), {}, "slot_ids.npy is corrupt"),
    (lambda d: (d / "alive.npy").unlink(), {}, "alive.npy is listed in the manifest but missing"),
    (_edit_manifest(n_items=7), {}, "n_items=7 in the manifest"),
    (_edit_manifest(dim=32), {}, "dim=32"),
    (lambda d: (d / "manifest.json").unlink(), {}, "no manifest.json"),
])
def test_a_mismatched_or_damaged_index_is_refused(damage, expect, message, tmp_path):
    build("flat", n=50)[0].save(tmp_path / "index")
    if damage:
        damage(tmp_path / "index")
    with pytest.raises(ArtifactError, match=message) as err:
        ItemIndex.load(tmp_path / "index", **expect)
    if "manifest.json" not in message:
        assert "rebuild" in str(err.value)

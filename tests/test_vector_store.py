"""The item index behind one interface: FAISS and Milvus Lite give the same results on the same vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.errors import ArtifactError, ConfigError
from retrieval.index import IndexConfig, ItemIndex
from retrieval.milvus import MilvusConfig, MilvusIndex
from retrieval.vector_store import VectorIndex, build_index, load_index


def both(tmp_path, vectors, ids, metric="cosine"):
    faiss_index = build_index(vectors, ids, encoder_id="enc", encoder_hash="h1",
                              config=IndexConfig(kind="flat", metric=metric, use_gpu=False))
    milvus_index = build_index(vectors, ids, encoder_id="enc", encoder_hash="h1",
                               config=MilvusConfig(uri=str(tmp_path / "m" / "milvus.db"), metric=metric))
    return faiss_index, milvus_index


def same_top_k(a: tuple, b: tuple, tol: float = 1e-5) -> bool:
    """Equal ids, except where two items tie (equal scores within ``tol``) and swap places."""
    (sa, ia), (sb, ib) = a, b
    return bool(np.allclose(sa, sb, atol=tol) and ((ia == ib) | np.isclose(sa, sb, atol=tol)).all())


@pytest.fixture
def vectors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 24)).astype(np.float32), np.arange(1, 301, dtype=np.int64) * 7, rng


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_exact_milvus_and_faiss_return_the_same_top_k(tmp_path, vectors, metric):
    x, ids, rng = vectors
    f, m = both(tmp_path, x, ids, metric)
    assert isinstance(f, VectorIndex) and isinstance(m, VectorIndex)
    q = rng.normal(size=(20, 24)).astype(np.float32)
    assert same_top_k(f.search(q, 20), m.search(q, 20))


def test_exclusions_and_an_allowed_set_filter_both_alike(tmp_path, vectors):
    x, ids, rng = vectors
    f, m = both(tmp_path, x, ids)
    q = rng.normal(size=(4, 24)).astype(np.float32)
    exclude = [f.search(q[i:i + 1], 3)[1][0] for i in range(4)]  # each query's own best three
    allowed = ids[::3]
    for kwargs in ({"exclude": exclude}, {"only": allowed}, {"exclude": exclude, "only": allowed}):
        sf, idf = f.search(q, 10, **kwargs)
        assert same_top_k((sf, idf), m.search(q, 10, **kwargs))
        if "only" in kwargs:
            assert np.isin(idf, allowed).all()
        if "exclude" in kwargs:
            assert not any(np.isin(idf[i], exclude[i]).any() for i in range(4))


def test_added_items_are_found_at_once_and_removed_ones_never(tmp_path, vectors):
    x, ids, rng = vectors
    for index in both(tmp_path, x, ids):
        new = rng.normal(size=(2, 24)).astype(np.float32)
        index.add(new, np.array([5000, 5001]))
        assert index.search(new, 1)[1][:, 0].tolist() == [5000, 5001]
        index.remove([5000, int(ids[0])])
        assert 5000 not in index.search(new, 5)[1] and int(ids[0]) not in index.search(x[:1], 5)[1]
        assert len(index) == len(ids)
        with pytest.raises(ValueError, match="already in the index"):
            index.add(new[1:], np.array([5001]))
        with pytest.raises(ValueError, match="not in the index"):
            index.remove([5000])


def test_a_saved_index_of_either_backend_loads_and_a_mismatch_is_refused(tmp_path, vectors):
    x, ids, rng = vectors
    f = build_index(x, ids, encoder_id="enc", encoder_hash="h1")
    f.save(tmp_path / "faiss")
    m = build_index(x, ids, encoder_id="enc", encoder_hash="h1",
                    config=MilvusConfig(uri=str(tmp_path / "milvus" / "milvus.db")))
    m.save(tmp_path / "milvus")
    m.close()
    q = rng.normal(size=(3, 24)).astype(np.float32)
    loaded = load_index(tmp_path / "milvus", expect_encoder_hash="h1")
    assert isinstance(loaded, MilvusIndex) and isinstance(load_index(tmp_path / "faiss"), ItemIndex)
    assert same_top_k(loaded.search(q, 10), load_index(tmp_path / "faiss").search(q, 10))
    with pytest.raises(ArtifactError, match="encoder_hash"):
        load_index(tmp_path / "milvus", expect_encoder_hash="other")
    loaded.close()
    manifest = json.loads((tmp_path / "milvus" / "manifest.json").read_text())
    (tmp_path / "milvus" / "manifest.json").write_text(json.dumps({**manifest, "n_items": 7}))
    with pytest.raises(ArtifactError, match="n_items=7"):
        load_index(tmp_path / "milvus")


def test_a_lite_index_is_saved_only_where_its_database_is(tmp_path, vectors):
    x, ids, _ = vectors
    m = build_index(x, ids, encoder_id="enc", encoder_hash="h1",
                    config=MilvusConfig(uri=str(tmp_path / "a" / "milvus.db")))
    with pytest.raises(ArtifactError, match="uri="):
        m.save(tmp_path / "b")


@pytest.mark.parametrize("bad", [{"index_type": "IVF_PQ"}, {"nlist": 0}, {"collection": "drop table"}])
def test_bad_milvus_settings_are_refused_by_name(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        MilvusConfig(uri="x.db", **bad)


def test_every_movielens_test_user_gets_the_same_top_20_from_milvus_and_faiss(ml100k, tmp_path):
    """The target: exact indexes of both backends over the dense retriever's item vectors (its text
    channel), queried with each held-out test user's query vector."""
    from llmrec.history import histories
    from llmrec.split import leave_last_out
    from retrieval.retriever import DenseRetriever

    held = leave_last_out(ml100k, "test")
    retriever = DenseRetriever().fit(held.train)
    hist = histories(held.train.interactions)
    users = held.targets["user"].tolist()
    retriever.prepare([hist[u] for u in users])
    q = np.stack([retriever.query_vector(hist[u]) for u in users])
    items = held.train.catalog.item_ids
    f, m = both(tmp_path, retriever.item_vectors(items), items, metric="ip")
    assert len(users) == 943
    assert same_top_k(f.search(q, 20), m.search(q, 20))


def test_the_retriever_searches_through_milvus_as_through_faiss_and_adds_items_to_it(ml100k, tmp_path):
    """``DenseRetriever.use_index`` on either backend: the same top-20 for users with and without a mask,
    and a new item's vector joins the Milvus collection without a rebuild."""
    from dataclasses import replace

    from llmrec.data import Catalog, Dataset
    from llmrec.history import histories
    from retrieval.retriever import DenseRetriever

    data = Dataset(ml100k.interactions, Catalog(ml100k.catalog.frame), ml100k.name, dict(ml100k.source),
                   ml100k.users)
    retriever = DenseRetriever().fit(data)
    hist = histories(data.interactions)
    ids = data.catalog.item_ids
    masks = [ids, ids[::3]]
    lists = {}
    for name, config in (("faiss", None), ("milvus", MilvusConfig(uri=str(tmp_path / "m" / "milvus.db"),
                                                                 metric="ip"))):
        retriever.use_index(config)
        lists[name] = [retriever.search(hist[u], m, 20).items.tolist() for u in (1, 42, 500) for m in masks]
    assert lists["milvus"] == lists["faiss"]
    assert isinstance(retriever.index, MilvusIndex)
    new = int(ids[-1]) + 1
    data.catalog.append(new, "The Whales of Andromeda", 2001, ["Documentary"],
                        description="humpback whales sing to astronauts aboard a starship")
    retriever.add_items(np.array([new]))
    assert new in retriever.index.item_ids
    found = retriever.search(replace(hist[1], items=hist[1].items[:0], ratings=hist[1].ratings[:0],
                                     timestamps=hist[1].timestamps[:0]), data.catalog.item_ids, 3,
                             request="humpback whales singing to astronauts on a starship")
    assert found.items[0] == new


def test_the_conversational_engine_recalls_through_milvus_when_given_a_uri(ml100k, tmp_path):
    """``ConverseConfig(milvus_uri=...)`` (``llmrec serve --milvus``): the item index is a Milvus collection,
    and the answers are the FAISS index's."""
    from llmrec.converse import Conversations, ConverseConfig

    answers = {}
    for name, uri in (("faiss", None), ("milvus", str(tmp_path / "serve" / "items.db"))):
        config = ConverseConfig(retriever=None, llm=False, milvus_uri=uri,
                                db=str(tmp_path / f"{name}.sqlite"))
        with Conversations(ml100k, config) as conv:
            assert isinstance(conv.retriever.index, MilvusIndex) == (name == "milvus")
            answers[name] = [[it.item for it in conv.recommend(text, user=42, k=10).items]
                             for text in ("a comedy from the 90s", "westerns", "like Toy Story, no horror")]
    assert answers["milvus"] == answers["faiss"]


def test_use_index_takes_a_config_or_a_milvus_uri_not_both(tmp_path):
    from retrieval.retriever import DenseRetriever

    with pytest.raises(ValueError, match="not both"):
        DenseRetriever().use_index(MilvusConfig(uri="x.db"), milvus_uri="y.db")

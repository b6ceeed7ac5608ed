"""The dense retriever: item/query texts, cold users, cold items recalled by text alone."""

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec.artifacts import write_manifest
from llmrec.data import Catalog, Dataset, Interactions
from llmrec.history import History, histories
from retrieval.collab import CollabConfig, CollabEnsemble, train_collab
from retrieval.retriever import RETRIEVER_KIND, DenseConfig, DenseRetriever
from retrieval.text import item_text, query_text

TITLES = {1: ("Toy Story", "Animation|Children's|Comedy"), 2: ("Finding Nemo", "Animation|Children's"),
          3: ("Halloween", "Horror"), 4: ("Scream", "Horror|Thriller"), 5: ("Alien", "Sci-Fi|Horror"),
          6: ("The Shining", "Horror"), 7: ("", "")}


@pytest.fixture(scope="module")
def movies() -> Dataset:
    catalog = Catalog(pd.DataFrame({"item": list(TITLES), "title": [t for t, _ in TITLES.values()],
                                    "year": [1995, 2003, 1978, 1996, 1979, 1980, None],
                                    "genres": [g for _, g in TITLES.values()]}).set_index("item"))
    rows = [(u, i, 4.0, 10 * k) for u in range(1, 9)
            for k, i in enumerate([1, 2, 3, 4, 5] if u % 2 else [3, 4, 5])]
    return Dataset(Interactions(pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])), catalog)


def test_item_text_holds_title_year_and_genres(movies):
    assert item_text(movies.catalog, 3) == "Halloween (1978). Horror."


def test_an_item_without_text_falls_back_to_its_id(movies):
    assert item_text(movies.catalog, 7) == "item 7"


def test_query_text_is_the_recent_history_newest_first_then_the_request(movies):
    h = histories(movies.interactions)[2]
    assert query_text(h, movies.catalog, "something scary") == (
        "Watched: Alien (1979), Sci-Fi, Horror; Scream (1996), Horror, Thriller; Halloween (1978), Horror. "
        "Request: something scary")


def test_a_cold_user_without_a_request_has_no_query_text(movies):
    with pytest.raises(ValueError, match="no history and no request"):
        query_text(History.empty(99), movies.catalog)


@pytest.fixture(scope="module")
def untrained(movies):
    return DenseRetriever().fit(movies)


def test_a_cold_user_is_served_from_the_request_text(untrained):
    recs = untrained.candidates(History.empty(99), k=2,
                                request="a horror film in a haunted hotel, like The Shining")
    assert recs.items[0] == 6 and recs.meta["cold"]


def test_a_cold_user_without_a_request_falls_back_to_popularity(untrained, movies):
    recs = untrained.candidates(History.empty(99), k=3)
    assert recs.items.tolist() == [3, 4, 5]  # seen by all 8 users


@pytest.fixture(scope="module")
def trained(movies, tmp_path_factory):
    """A retriever directory whose collaborative channel never saw item 6 (The Shining)."""
    cat = movies.catalog
    seqs = [cat.positions(h.items) for h in histories(movies.interactions).values()]
    config = CollabConfig(dim=8, window=5, epochs=3, members=2)
    root = tmp_path_factory.mktemp("retriever")
    train_collab(seqs, len(cat), config, progress=False).save(root / "collab-validation.pt")
    np.save(root / "items.npy", cat.item_ids)
    from llmrec.models import resolve_embedder
    write_manifest(root, RETRIEVER_KIND, encoder=resolve_embedder(), collab=config.to_dict(), text_weight=4.0,
                   dataset="test", fits={"validation": movies.interactions.fingerprint()})
    return DenseRetriever(DenseConfig(retriever=str(root))).fit(movies)


def test_a_never_seen_item_with_only_text_is_recalled(trained, movies):
    horror_fan = histories(movies.interactions)[2]  # watched Halloween, Scream, Alien
    recs = trained.candidates(horror_fan, k=2, request="another horror movie")
    assert 6 in recs.items.tolist()


def test_prepared_queries_are_encoded_in_one_batch_and_rank_as_one_at_a_time(trained, movies, monkeypatch):
    hs = list(histories(movies.interactions).values())
    alone = [trained.candidates(h, k=3) for h in hs]
    trained._query_cache.clear()
    calls = []
    encode = trained.encoder.encode
    monkeypatch.setattr(trained.encoder, "encode",
                        lambda texts, **kw: calls.append(len(texts)) or encode(texts, **kw))
    trained.prepare(hs)
    batched = [trained.candidates(h, k=3) for h in hs]
    assert calls == [2]  # the two distinct histories, once, and nothing encoded one at a time afterwards
    for a, b in zip(alone, batched):
        assert a.items.tolist() == b.items.tolist()
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_a_corrupt_retriever_directory_is_refused(trained, movies, tmp_path):
    from llmrec.errors import ArtifactError
    root = tmp_path / "broken"
    root.mkdir()
    (root / "collab-validation.pt").write_bytes(b"x")
    write_manifest(root, RETRIEVER_KIND, encoder="x", collab={}, text_weight=1.0, dataset="d", fits={})
    (root / "collab-validation.pt").write_bytes(b"y")
    with pytest.raises(ArtifactError, match="corrupt"):
        DenseRetriever(DenseConfig(retriever=str(root))).fit(movies)


def test_the_ensemble_score_is_the_mean_of_its_members_scores(movies):
    cat = movies.catalog
    seqs = [cat.positions(h.items) for h in histories(movies.interactions).values()]
    ensemble = train_collab(seqs, len(cat), CollabConfig(dim=4, window=3, epochs=1, members=3),
                            progress=False)
    x = torch.tensor([[0, 1, 2], [3, 4, 5]])
    fused = ensemble.query(x) @ ensemble.item_vectors().T
    with torch.no_grad():
        mean = torch.stack([m(x) for m in ensemble.models]).mean(0)
    assert torch.allclose(fused, mean, atol=1e-5)
    assert len({float(m.out.weight.detach().sum()) for m in ensemble.models}) == 3  # one seed per member


def test_an_ensemble_round_trips_through_a_file(movies, tmp_path):
    cat = movies.catalog
    seqs = [cat.positions(h.items) for h in histories(movies.interactions).values()]
    config = CollabConfig(dim=4, window=3, epochs=1, members=2)
    ensemble = train_collab(seqs, len(cat), config, progress=False)
    ensemble.save(tmp_path / "c.pt")
    loaded = CollabEnsemble.load(tmp_path / "c.pt", len(cat), config)
    assert torch.equal(loaded.item_vectors(), ensemble.item_vectors())


def test_item_texts_are_encoded_once_per_encoder_and_texts_and_a_bad_cache_file_is_replaced(monkeypatch,
                                                                                              tmp_path):
    from retrieval.encoder import TextEncoder

    monkeypatch.setenv("LLMREC_CACHE", str(tmp_path))
    encoder = TextEncoder()
    texts = ["Toy Story (1995), Animation", "Heat (1995), Action"]
    first = encoder.encode_cached(texts)
    assert first.shape == (2, encoder.dim) and len(list((tmp_path / "embeddings").glob("*.npy"))) == 1
    calls = []
    encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda t, **kw: calls.append(list(t)) or encode(t))
    np.testing.assert_array_equal(encoder.encode_cached(texts), first)
    assert calls == []  # read from the cache
    encoder.encode_cached([*texts, "Fargo (1996), Crime"])
    assert len(calls) == 1  # other texts, another key
    path = tmp_path / "embeddings" / f"{encoder.cache_key(texts)}.npy"
    path.write_bytes(b"not an array")
    np.testing.assert_allclose(encoder.encode_cached(texts), first, atol=1e-6)
    assert len(calls) == 2 and np.load(path).shape == (2, encoder.dim)  # encoded again, file replaced

"""Real-time updates: interactions and new items posted to the service take effect on the next request, are
kept in the conversation store (schema v2) and survive a restart."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from llmrec.converse import Conversations, ConversationStore, ConverseConfig, RequestError
from llmrec.converse.events import (
    InteractionEvent,
    InvalidEvent,
    UnknownItem,
    interaction_event,
    item_event,
    with_interaction,
)
from llmrec.converse.state import SCHEMA_VERSION
from llmrec.data import Catalog
from llmrec.errors import ArtifactError, DataError
from llmrec.history import History
from llmrec.items import top_n
from service.app import ServiceConfig, create_app

WHALES = {"title": "The Whales of Andromeda", "year": 2001, "genres": ["Documentary", "Sci-Fi"],
          "description": "humpback whales sing to astronauts aboard a starship drifting past Andromeda"}
WHALES_REQUEST = "humpback whales singing to astronauts on a starship near Andromeda"


@pytest.fixture(scope="module")
def served(ml100k, tmp_path_factory):
    """The real service over the conversational recommender without an LLM (the untrained text retriever),
    its store in a file: (client, converser, db path)."""
    db = tmp_path_factory.mktemp("realtime") / "store.sqlite"
    with (Conversations(ml100k, ConverseConfig(retriever=None, llm=False, db=str(db))) as conv,
          TestClient(create_app(conv, ServiceConfig()), raise_server_exceptions=False) as client):
        yield client, conv, db


def titles(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [it["item"] for it in response.json()["items"]]


# -- the service -------------------------------------------------------------------------------------------
def test_an_interaction_changes_the_users_next_recommendation(served):
    client, conv, _ = served
    ask = {"request": "something good to watch tonight", "user": 7, "k": 10}
    before = titles(client.post("/v1/recommend", json=ask))
    seen = set(conv.history(7).items.tolist())
    new = next(i for i in (1, 94, 121, 172, 181, 222, 258, 313, 405, 450) if i not in seen | set(before))
    posted = client.post("/v1/events/interactions", json={"user": 7, "item": new, "rating": 5})
    assert posted.status_code == 201, posted.text
    assert posted.json()["history_length"] == len(seen) + 1
    after = titles(client.post("/v1/recommend", json=ask))
    assert after != before  # not by exclusion: the item was not in the list; the query read it
    assert new not in after and conv.history(7).items[-1] == new


def test_an_interaction_changes_the_next_turn_of_a_conversation(served):
    client, conv, _ = served
    cid = client.post("/v1/conversations", json={"user": 11}).json()["id"]
    first = titles(client.post(f"/v1/conversations/{cid}/turns", json={"text": "a drama", "k": 10}))
    seen = set(conv.history(11).items.tolist())
    new = next(i for i in (50, 56, 98, 127, 174, 195, 204, 318) if i not in seen | set(first))
    posted = client.post("/v1/events/interactions", json={"user": 11, "item": new, "rating": 4})
    assert posted.status_code == 201
    second = titles(client.post(f"/v1/conversations/{cid}/turns", json={"text": "a drama", "k": 10}))
    assert second != first and new not in second


def test_a_new_user_starts_with_the_posted_interactions(served):
    client, conv, _ = served
    user = 5000
    with pytest.raises(RequestError, match="unknown user"):
        conv.history(user)
    posted = client.post("/v1/events/interactions", json={"user": user, "item": 1, "rating": 5})
    assert posted.status_code == 201
    assert conv.history(user).items.tolist() == [1]
    assert titles(client.post("/v1/recommend", json={"request": "a film", "user": user, "k": 5}))


def test_a_new_item_is_recallable_on_the_next_request(served):
    client, conv, _ = served
    n, last = len(conv.catalog), int(conv.catalog.item_ids[-1])
    added = client.post("/v1/items", json=WHALES)
    assert added.status_code == 201, added.text
    item = added.json()["item"]
    assert item == last + 1 and added.json()["items"] == n + 1
    assert conv.retriever.index is not None and item in conv.retriever.index.item_ids  # added, not rebuilt
    recalled = titles(client.post("/v1/recommend", json={"request": WHALES_REQUEST, "k": 5}))
    assert recalled[0] == item
    # constraints see it too; users can interact with it at once
    assert item in titles(client.post("/v1/recommend", json={"request": f"a documentary, {WHALES_REQUEST}",
                                                             "k": 5}))
    assert client.post("/v1/events/interactions", json={"user": 3, "item": item}).status_code == 201
    assert conv.history(3).items[-1] == item


BAD_INTERACTIONS = [  # the schema refuses these: 422 naming the field
    ({"user": 1, "item": 1, "rating": "5"}, "rating"),
    ({"user": 1, "item": 1, "rating": 0}, "rating"),
    ({"user": 0, "item": 1}, "user"),
    ({"user": 2**60, "item": 1}, "user"),
    ({"item": 1}, "user"),
    ({"user": 1, "item": 1, "timestamp": -5}, "timestamp"),
    ({"user": 1, "item": "Toy Story"}, "item"),
    ({"user": 1, "item": 1, "extra": 1}, "extra"),
]


@pytest.mark.parametrize("body,field", BAD_INTERACTIONS, ids=[f"{f}-{i}" for i, (_, f) in
                                                              enumerate(BAD_INTERACTIONS)])
def test_a_bad_interaction_is_a_422_naming_the_field(served, body, field):
    client, conv, _ = served
    before = len(conv.store.interaction_events())
    r = client.post("/v1/events/interactions", json=body)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["message"]
    assert len(conv.store.interaction_events()) == before  # nothing recorded


def test_a_rating_above_the_datasets_scale_is_refused_naming_it(served):
    client, conv, _ = served
    before = len(conv.store.interaction_events())
    r = client.post("/v1/events/interactions", json={"user": 1, "item": 1, "rating": 7})
    assert r.status_code == 400 and "rating must be a number in (0, 5]" in r.json()["error"]["message"]
    assert len(conv.store.interaction_events()) == before


def test_an_interaction_with_an_unknown_item_is_a_404(served):
    client, _, _ = served
    r = client.post("/v1/events/interactions", json={"user": 1, "item": 99999})
    assert r.status_code == 404 and "unknown item 99999" in r.json()["error"]["message"]


BAD_ITEMS = [  # (body, field, status): 422 when the schema refuses it, 400 when the catalog does
    ({"title": "   "}, "title", 400),
    ({"title": "X" * 301}, "title", 422),
    ({"title": "X", "genres": ["Space Opera"]}, "genres", 400),
    ({"title": "X", "year": 3000}, "year", 422),
    ({"title": "X", "item": 5}, "item", 400),
    ({"title": "X", "genres": "Comedy"}, "genres", 422),
    ({"year": 2000}, "title", 422),
]


@pytest.mark.parametrize("body,field,status", BAD_ITEMS,
                         ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_ITEMS)])
def test_a_bad_item_is_refused_naming_the_field(served, body, field, status):
    client, conv, _ = served
    n = len(conv.catalog)
    r = client.post("/v1/items", json=body)
    assert r.status_code == status, r.text
    assert field in r.json()["error"]["message"] and len(conv.catalog) == n


def test_events_survive_a_restart(served, ml100k):
    client, conv, db = served
    item = client.post("/v1/items", json={"title": "Lighthouse Keepers of Patagonia", "year": 1998,
                                          "genres": ["Drama"],
                                          "description": "two lighthouse keepers at the end of the world"}
                       ).json()["item"]
    for n, it in enumerate((item, 2, 3)):
        assert client.post("/v1/events/interactions",
                           json={"user": 21, "item": it, "rating": 4, "timestamp": 2_000_000_000 + n}
                           ).status_code == 201
    history = conv.history(21)
    with Conversations(ml100k, ConverseConfig(retriever=None, llm=False, db=str(db))) as restarted:
        again = restarted.history(21)
        assert again.items.tolist() == history.items.tolist()
        assert np.array_equal(again.timestamps, history.timestamps)
        assert restarted.catalog.item_ids.tolist() == conv.catalog.item_ids.tolist()
        assert restarted.catalog.title(item) == "Lighthouse Keepers of Patagonia"
        turn = restarted.recommend("lighthouse keepers at the end of the world, Patagonia", k=3)
        assert turn.items[0].item == item
    assert item not in ml100k.catalog  # the caller's dataset is left as it was


def test_new_items_need_a_retriever_fitted_on_the_recommenders_own_catalog(served, ml100k):
    _, conv, _ = served
    borrowed = SimpleNamespace(retriever=conv.retriever)  # trained elsewhere, on another catalog object
    with Conversations(ml100k, ConverseConfig(retriever=None, llm=False, item_index=False),
                       ranker=borrowed) as other:
        with pytest.raises(RequestError, match="another catalog"):
            other.add_item("Anything", genres=["Drama"])
        assert other.store.item_events() == [] and len(other.catalog) == len(ml100k.catalog)


# -- the search path ---------------------------------------------------------------------------------------
def test_search_through_the_item_index_ranks_as_the_exact_scores(served):
    _, conv, _ = served
    retriever, catalog = conv.retriever, conv.catalog
    assert retriever.index is not None and retriever.index.kind == "flat"
    comedies = catalog.item_ids[[("Comedy" in catalog.genres(int(i))) for i in catalog.item_ids]]
    for user in (1, 42, 500, 900):
        history = conv.history(user)
        for allowed in (catalog.item_ids, comedies):
            allowed = allowed[~np.isin(allowed, history.items)]
            for request in (None, "a space adventure"):
                got = retriever.search(history, allowed, 20, request=request)
                want = top_n(allowed, retriever.score(history, allowed, request), 20)
                assert got.items.tolist() == want.items.tolist()
                assert np.allclose(got.scores, want.scores)


# -- the store ----------------------------------------------------------------------------------------------
V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, user INTEGER, created REAL NOT NULL, updated REAL NOT NULL, state TEXT NOT NULL);
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id), turn INTEGER NOT NULL, request TEXT NOT NULL,
    answer TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (conversation_id, turn));
INSERT INTO conversations VALUES ('c1', 42, 0, 0, '{"id": "c1", "user": 42, "turns": 3}');
PRAGMA user_version=1;
"""


def test_a_version_1_store_is_migrated_keeping_its_conversations(tmp_path):
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(V1)
    store = ConversationStore(path)
    assert store.version == SCHEMA_VERSION == 2
    assert store.load("c1").turns == 3 and store.load("c1").user == 42
    assert store.add_interaction(42, 1, 5.0, 100) == 1 and store.add_interaction(42, 2, None, 101) == 2
    store.add_item(2000, {"title": "New", "genres": []})
    store.close()
    reopened = ConversationStore(path)
    assert [(e["item"], e["rating"]) for e in reopened.interaction_events()] == [(1, 5.0), (2, None)]
    assert reopened.item_events() == [{"title": "New", "genres": [], "item": 2000}]
    with pytest.raises(ArtifactError, match="already added"):
        reopened.add_item(2000, {"title": "again"})
    reopened.close()


def test_a_store_of_an_unknown_version_is_refused(tmp_path):
    path = tmp_path / "v9.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=9")
    with pytest.raises(ArtifactError, match="version 9"):
        ConversationStore(path)


# -- events and the catalog ---------------------------------------------------------------------------------
def test_an_interaction_joins_the_history_in_timestamp_then_item_order():
    h = History(1, np.array([5, 3, 8]), np.array([4.0, 3.0, 5.0]), np.array([100, 200, 200]))
    for item, ts, where in ((9, 50, 0), (4, 200, 2), (9, 200, 3), (1, 300, 3)):
        out = with_interaction(h, InteractionEvent(1, item, None, ts))
        assert out.items.tolist() == np.insert(h.items, where, item).tolist()
        assert np.isnan(out.ratings[where]) and out.timestamps.tolist() == sorted(out.timestamps.tolist())


def test_appending_an_item_keeps_every_existing_position(tiny):
    catalog = Catalog(tiny.catalog.frame)
    ids = catalog.item_ids.copy()
    catalog.append(10, "Brand New", 2001, ["Comedy"], description="fresh")
    assert catalog.positions(ids).tolist() == list(range(len(ids)))
    assert catalog.positions([10]).tolist() == [len(ids)] and catalog.genres(10) == ("Comedy",)
    assert catalog.frame.at[1, "description"] == "" and catalog.display_title(10) == "Brand New (2001)"
    with pytest.raises(DataError, match="greater than every catalog id"):
        catalog.append(7, "Too Low")
    assert len(tiny.catalog) == 6


def test_events_are_checked_before_anything_is_written(tiny):
    catalog = tiny.catalog
    with pytest.raises(UnknownItem, match="unknown item 77"):
        interaction_event(catalog, user=1, item=77)
    with pytest.raises(InvalidEvent, match="rating"):
        interaction_event(catalog, user=1, item=1, rating=0)
    with pytest.raises(InvalidEvent, match="user"):
        interaction_event(catalog, user=True, item=1)
    assert interaction_event(catalog, user=1, item=1, timestamp=5) == InteractionEvent(1, 1, None, 5)
    assert item_event(catalog, title=" New ").item == 7
    with pytest.raises(InvalidEvent, match="already in the catalog"):
        item_event(catalog, title="X", item=6)
    with pytest.raises(InvalidEvent, match="text.title"):
        item_event(catalog, title="X", text={"title": "Y"})


def test_the_frame_of_an_appended_catalog_is_a_valid_catalog(tiny):
    catalog = Catalog(tiny.catalog.frame)
    catalog.append(8, "Eight", None, [])
    again = Catalog(pd.DataFrame(catalog.frame))
    assert again.item_ids.tolist() == [1, 2, 3, 4, 5, 6, 8] and again.year(8) is None

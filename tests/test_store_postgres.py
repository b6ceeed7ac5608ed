"""The conversation store on PostgreSQL (a real server, started by pgserver for these tests): the same schema
and behaviour as SQLite, shared by several processes, migrated once when replicas start together."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from llmrec.converse.sql import redact
from llmrec.converse.state import SCHEMA_VERSION, ConversationStore
from llmrec.errors import ArtifactError, ConfigError

pgserver = pytest.importorskip("pgserver")
psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory) -> Iterator[str]:
    """A local PostgreSQL server; its URL (Unix socket)."""
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def database(postgres: str) -> str:
    """A fresh, empty database on the server; its URL."""
    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres.replace("/postgres?", f"/{name}?")


def test_a_new_database_gets_the_current_schema(database):
    store = ConversationStore(database)
    assert store.version == SCHEMA_VERSION
    store.close()
    assert ConversationStore(database).version == SCHEMA_VERSION  # opened again: nothing to migrate


def test_a_conversation_written_by_one_replica_is_continued_by_another(database):
    first, second = ConversationStore(database), ConversationStore(database)
    state = first.create(user=42)
    state.turns, state.text = 1, "a comedy"
    first.save(state, "a comedy please", {"items": [1, 2]})
    seen = second.load(state.id)
    assert (seen.user, seen.turns, seen.text) == (42, 1, "a comedy")
    seen.turns = 2
    second.save(seen, "something older", {"items": [3]})
    assert [t["request"] for t in first.turns(state.id)] == ["a comedy please", "something older"]


def test_a_turn_number_is_recorded_once_even_across_replicas(database):
    first, second = ConversationStore(database), ConversationStore(database)
    state = first.create()
    state.turns = 1
    first.save(state, "x", {})
    with pytest.raises(psycopg.errors.UniqueViolation):
        second.save(state, "x again", {})  # the same turn twice: the transaction rolls back whole
    assert len(first.turns(state.id)) == 1


def test_events_are_numbered_in_arrival_order_and_an_item_is_added_once(database):
    store = ConversationStore(database)
    assert [store.add_interaction(7, 50, 4.0, 100), store.add_interaction(7, 51, None, 101)] == [1, 2]
    assert store.interaction_events() == [
        {"seq": 1, "user": 7, "item": 50, "rating": 4.0, "timestamp": 100},
        {"seq": 2, "user": 7, "item": 51, "rating": None, "timestamp": 101}]
    store.add_item(2000, {"title": "New Film"})
    with pytest.raises(ArtifactError, match="item 2000 was already added"):
        store.add_item(2000, {"title": "Again"})
    assert store.item_events() == [{"title": "New Film", "item": 2000}]


def test_replicas_starting_together_migrate_once(database):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ConversationStore(database).close()
        except BaseException as err:  # noqa: BLE001 - collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and ConversationStore(database).version == SCHEMA_VERSION


def test_a_newer_schema_is_refused(database):
    ConversationStore(database).close()
    with psycopg.connect(database, autocommit=True) as db:
        db.execute("UPDATE llmrec_schema SET version = 99")
    with pytest.raises(ArtifactError, match="schema version 99"):
        ConversationStore(database)


def test_an_unreachable_server_is_an_error_without_the_password():
    url = "postgresql://llmrec:s3cret@127.0.0.1:1/llmrec?connect_timeout=2"
    with pytest.raises(ArtifactError, match=r"postgresql://llmrec:\*\*\*@127\.0\.0\.1:1") as err:
        ConversationStore(url)
    assert "s3cret" not in str(err.value)
    assert redact(url) == "postgresql://llmrec:***@127.0.0.1:1/llmrec?connect_timeout=2"


def test_another_url_scheme_is_refused_by_name():
    with pytest.raises(ConfigError, match="mysql://"):
        ConversationStore("mysql://x/y")


def test_events_posted_to_one_replica_reach_the_others_next_request(database, ml100k):
    """Two conversational recommenders (no LLM, the untrained text retriever) on one PostgreSQL store: an
    interaction and a new item recorded by one are applied by the other before its next request."""
    from llmrec.converse import Conversations, ConverseConfig

    config = ConverseConfig(retriever=None, llm=False, db=database)
    with Conversations(ml100k, config) as one, Conversations(ml100k, config) as two:
        ask = "something good to watch tonight"
        before = [i.item for i in two.recommend(ask, user=7, k=10).items]
        seen = set(two.history(7).items.tolist())
        new = next(i for i in (1, 94, 121, 172, 181, 222, 258, 313, 405, 450) if i not in seen | set(before))
        one.add_interaction(7, new, 5)
        after = [i.item for i in two.recommend(ask, user=7, k=10).items]
        assert two.history(7).items[-1] == new and after != before
        added = one.add_item("The Whales of Andromeda", year=2001, genres=["Documentary", "Sci-Fi"],
                             text={"description": "humpback whales sing to astronauts on a starship"})
        found = two.recommend("humpback whales singing to astronauts on a starship", k=5).items
        assert found[0].item == added["item"]


def test_replicas_adding_items_one_after_the_other_each_get_a_new_id(database, ml100k):
    """The second replica has not seen the first one's new item when it adds its own: it applies it first and
    takes the next id (it used to take the same one, refused as already added)."""
    from llmrec.converse import Conversations, ConverseConfig
    from llmrec.converse.events import InvalidEvent

    config = ConverseConfig(retriever=None, llm=False, db=database)
    with Conversations(ml100k, config) as one, Conversations(ml100k, config) as two:
        first = one.add_item("The Whales of Andromeda", year=2001, genres=["Documentary"])
        second = two.add_item("The Moths of Titan", year=2002, genres=["Sci-Fi"])
        assert second["item"] == first["item"] + 1
        assert first["item"] in two.catalog and second["item"] in two.catalog
        with pytest.raises(InvalidEvent, match="already in the catalog"):  # an id given by the caller
            one.add_item("Another Whale Film", item=first["item"])

"""Conversation state and its store: SQLite (the embedded default) or PostgreSQL (shared by replicas), every
turn written in one transaction.

A :class:`ConversationState` holds what the conversation asked so far (one folded :class:`~llmrec.converse.
query.Query`, and for each constraint the turn it came from), the lists shown, and the items rejected and
accepted.  :class:`ConversationStore` keeps states and the turns' answers in two tables; ``save`` writes a
state and its new turn in one ``BEGIN IMMEDIATE`` transaction (WAL journal), so a process killed at any
point leaves either the turn fully recorded or not at all, and a restarted process continues every
conversation.  The schema carries a version (``PRAGMA user_version``; on PostgreSQL the table
``llmrec_schema``); an unknown version is refused, an older one migrated step by step
(:mod:`llmrec.converse.sql` holds the two dialects).

Version 2 adds the real-time events (:mod:`llmrec.converse.events`): ``interaction_events`` (user, item,
rating, timestamp, in arrival order) and ``item_events`` (new catalog items), each written in its own
transaction and replayed into memory when the recommender starts.  A version-1 file is migrated in place, in
one transaction (its conversations kept).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmrec.converse.query import Query
from llmrec.converse.sql import open_dialect, redact
from llmrec.converse.turn import UnknownConversation
from llmrec.errors import ArtifactError

__all__ = ["SCHEMA_VERSION", "ConversationState", "ConversationStore"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, "user" INTEGER, created REAL NOT NULL, updated REAL NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id), turn INTEGER NOT NULL, request TEXT NOT NULL,
    answer TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (conversation_id, turn));
"""
#: The statements that take a database from version ``v - 1`` to ``v``, run in one transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (("CREATE TABLE IF NOT EXISTS interaction_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
         "\"user\" INTEGER NOT NULL, item INTEGER NOT NULL, rating REAL, timestamp INTEGER NOT NULL, "
         "created REAL NOT NULL)"),
        ("CREATE TABLE IF NOT EXISTS item_events (item INTEGER PRIMARY KEY, data TEXT NOT NULL, "
         "created REAL NOT NULL)")),
}


@dataclass
class ConversationState:
    """Everything a conversation remembers between turns."""

    id: str
    user: int | None = None
    turns: int = 0
    query: dict[str, Any] = field(default_factory=lambda: Query().to_parse())  # folded constraints (parse)
    text: str = ""  # the latest soft request text
    provenance: dict[str, int] = field(default_factory=dict)  # "genres_none:Horror" -> turn it came from
    shown: list[list[int]] = field(default_factory=list)  # the list shown at each turn
    rejected: list[int] = field(default_factory=list)  # never shown again in this conversation
    accepted: list[int] = field(default_factory=list)
    focus: int | None = None  # the item "that one" refers to

    def current(self) -> Query:
        return Query.from_parse(self.query, self.text)

    def last_shown(self) -> list[int]:
        return self.shown[-1] if self.shown else []

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        return cls(**data)


def _atoms(parse: dict[str, Any]) -> set[str]:
    """The constraint atoms of a parse, as provenance keys."""
    out = set()
    for key in ("genres_all", "genres_any", "genres_none", "exclude_items", "seeds", "unsupported"):
        out.update(f"{key}:{v}" for v in parse.get(key) or ())
    for key in ("year_min", "year_max", "k"):
        if parse.get(key) is not None:
            out.add(f"{key}:{parse[key]}")
    return out


def update_provenance(state: ConversationState, new_parse: dict[str, Any]) -> None:
    """Record the turn each atom of ``new_parse`` first appeared in; forget atoms no longer there."""
    atoms = _atoms(new_parse)
    state.provenance = {a: state.provenance.get(a, state.turns) for a in sorted(atoms)}


class ConversationStore:
    """Conversation states in SQLite (``path``: a file; ``":memory:"`` keeps them in this process only) or in
    PostgreSQL (``path``: a ``postgresql://user:password@host/db`` URL; several processes share it)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self._lock = threading.Lock()
        self._sql = open_dialect(str(path))
        self.path = self._sql.location
        with self._lock:
            version = self._sql.version()
            if not 0 <= version <= SCHEMA_VERSION:
                self._sql.close()
                raise ArtifactError(f"{redact(self.path)}: conversation store schema version {version}, this "
                                    f"llmrec reads versions 1..{SCHEMA_VERSION}")
            while version < SCHEMA_VERSION:
                version = self._migrate_step()

    def _x(self, statement: str, params: tuple = ()) -> Any:
        return self._sql.execute(statement, params)

    def _migrate_step(self) -> int:
        """One migration step in one transaction (a failed step leaves the database at the version before
        it): version 0 (a new database) -> 1 creates the tables, ``v - 1 -> v`` runs ``_MIGRATIONS[v]``.
        The version is read again under the migration lock, so concurrent starts migrate once."""
        self._x(self._sql.begin)
        try:
            self._sql.lock_migrations()
            version = self._sql.version()
            if version < SCHEMA_VERSION:
                statements = ([s.strip() for s in _SCHEMA.split(";") if s.strip()] if version == 0
                              else list(_MIGRATIONS[version + 1]))
                for statement in statements:
                    self._x(self._sql.ddl(statement))
                version += 1
                self._sql.set_version(version)
                log.info("conversation_store_migrated db=%s to=%d", redact(self.path), version)
            self._x("COMMIT")
        except BaseException:
            self._x("ROLLBACK")
            raise
        return version

    @property
    def version(self) -> int:
        """The schema version of the open database."""
        with self._lock:
            return self._sql.version()

    def create(self, user: int | None = None) -> ConversationState:
        state = ConversationState(id=uuid.uuid4().hex, user=user)
        now = time.time()
        with self._lock:
            self._x("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                    (state.id, user, now, now, json.dumps(state.to_dict())))
        return state

    def load(self, conversation_id: str) -> ConversationState:
        with self._lock:
            row = self._x("SELECT state FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise UnknownConversation(f"no conversation {conversation_id!r}")
        return ConversationState.from_dict(json.loads(row[0]))

    def save(self, state: ConversationState, request: str, answer: dict[str, Any]) -> None:
        """Write ``state`` and its latest turn (number ``state.turns``) atomically."""
        now = time.time()
        with self._lock:
            self._x(self._sql.begin)
            try:
                self._x("UPDATE conversations SET state = ?, updated = ? WHERE id = ?",
                        (json.dumps(state.to_dict()), now, state.id))
                self._x("INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                        (state.id, state.turns, request, json.dumps(answer), now))
                self._x("COMMIT")
            except BaseException:
                self._x("ROLLBACK")
                raise

    def turns(self, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's turns, in order: ``{"turn", "request", "answer"}``."""
        with self._lock:
            rows = self._x("SELECT turn, request, answer FROM turns WHERE conversation_id = ? "
                           "ORDER BY turn", (conversation_id,)).fetchall()
        return [{"turn": t, "request": r, "answer": json.loads(a)} for t, r, a in rows]

    # -- real-time events ------------------------------------------------------------------------------
    def add_interaction(self, user: int, item: int, rating: float | None, timestamp: int) -> int:
        """Record an interaction event (one transaction); its sequence number (1, 2, ...)."""
        with self._lock:
            rating = None if rating is None else float(rating)
            row = self._x(
                'INSERT INTO interaction_events ("user", item, rating, timestamp, created) '
                "VALUES (?, ?, ?, ?, ?) RETURNING seq",
                (int(user), int(item), rating, int(timestamp), time.time())).fetchone()
            return int(row[0])

    def add_item(self, item: int, data: dict[str, Any]) -> None:
        """Record a new catalog item (its fields as JSON; one transaction); a recorded id: ArtifactError."""
        with self._lock:
            try:
                self._x("INSERT INTO item_events VALUES (?, ?, ?)",
                        (int(item), json.dumps(data), time.time()))
            except self._sql.integrity_errors:
                raise ArtifactError(f"{redact(self.path)}: item {item} was already added") from None

    @property
    def shared(self) -> bool:
        """Whether other processes may write to this store too (PostgreSQL: replicas of the service)."""
        return self._sql.name == "postgresql"

    def interaction_events(self, after: int = 0) -> list[dict[str, Any]]:
        """The recorded interaction events numbered above ``after`` (0: all), in arrival order: ``{"seq",
        "user", "item", "rating", "timestamp"}`` (rating None when not given)."""
        with self._lock:
            rows = self._x('SELECT seq, "user", item, rating, timestamp FROM interaction_events '
                           "WHERE seq > ? ORDER BY seq", (int(after),)).fetchall()
        return [dict(zip(("seq", "user", "item", "rating", "timestamp"), row)) for row in rows]

    def item_events(self) -> list[dict[str, Any]]:
        """Every recorded new item, by id: its fields as given to :meth:`add_item`, with ``"item"``."""
        with self._lock:
            rows = self._x("SELECT item, data FROM item_events ORDER BY item").fetchall()
        return [{**json.loads(data), "item": item} for item, data in rows]

    def close(self) -> None:
        with self._lock:
            self._sql.close()

"""The two databases the conversation store runs on: SQLite (embedded, the default) and PostgreSQL (shared by
several ``llmrec serve`` replicas), selected by the store's location — a file path or ``":memory:"``, or a
``postgresql://`` URL.

The store writes its SQL once, in SQLite's dialect (``?`` placeholders); a :class:`Dialect` opens the
connection, translates statements and DDL, keeps the schema version (SQLite: ``PRAGMA user_version``;
PostgreSQL: the one-row table ``llmrec_schema``) and says how a transaction begins.  Migrations on
PostgreSQL take a transaction-scoped advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from llmrec.errors import ArtifactError, ConfigError

__all__ = ["Dialect", "PostgresDialect", "SQLiteDialect", "open_dialect", "redact"]

_MIGRATION_LOCK = 74_021_206  # any constant: the advisory lock replicas share while migrating


def redact(location: str) -> str:
    """``location`` with any password in a URL replaced by ``***`` (for logs and errors)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", location)


class Dialect:
    name: str
    begin: str  # the statement that starts a write transaction
    integrity_errors: tuple[type[BaseException], ...]

    def __init__(self, location: str):
        self.location = location
        self.db: Any = None

    def sql(self, statement: str) -> str:
        return statement

    def ddl(self, statement: str) -> str:
        return statement

    def version(self) -> int:
        raise NotImplementedError

    def set_version(self, version: int) -> None:
        """Inside a migration transaction: record ``version``."""
        raise NotImplementedError

    def lock_migrations(self) -> None:
        """Inside a migration transaction: keep other processes from migrating at the same time."""

    def execute(self, statement: str, params: tuple = ()) -> Any:
        return self.db.execute(self.sql(statement), params)

    def close(self) -> None:
        self.db.close()


class SQLiteDialect(Dialect):
    name = "sqlite"
    begin = "BEGIN IMMEDIATE"
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, location: str):
        if location != ":memory:":
            path = Path(location).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            location = str(path)
        super().__init__(location)
        self.db = sqlite3.connect(location, isolation_level=None, check_same_thread=False, timeout=30)
        if location != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")

    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def set_version(self, version: int) -> None:
        self.db.execute(f"PRAGMA user_version={int(version)}")


class PostgresDialect(Dialect):
    name = "postgresql"
    begin = "BEGIN"

    def __init__(self, location: str):
        try:
            import psycopg
        except ImportError as err:
            raise ConfigError("a postgresql:// store needs psycopg: pip install 'psycopg[binary]'") from err
        super().__init__(location)
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        try:
            self.db = psycopg.connect(location, autocommit=True)
        except psycopg.OperationalError as err:
            raise ArtifactError(f"cannot connect to the conversation store at {redact(location)}: "
                                f"{str(err).strip().splitlines()[0]}") from None

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def ddl(self, statement: str) -> str:
        """SQLite DDL as PostgreSQL reads it: 64-bit integers, double precision, a serial key."""
        statement = statement.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        statement = re.sub(r"\bINTEGER\b", "BIGINT", statement)
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)

    def version(self) -> int:
        exists = self.db.execute("SELECT to_regclass('llmrec_schema')").fetchone()[0]
        if exists is None:
            return 0
        row = self.db.execute("SELECT version FROM llmrec_schema").fetchone()
        return int(row[0]) if row else 0

    def set_version(self, version: int) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS llmrec_schema (version INTEGER NOT NULL)")
        self.db.execute("DELETE FROM llmrec_schema")
        self.db.execute("INSERT INTO llmrec_schema VALUES (%s)", (int(version),))

    def lock_migrations(self) -> None:
        self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))


def open_dialect(location: str) -> Dialect:
    """The database at ``location``: a ``postgresql://`` (or ``postgres://``) URL, else a SQLite file."""
    if location.startswith(("postgresql://", "postgres://")):
        return PostgresDialect(location)
    if "://" in location:
        raise ConfigError(f"conversation store {redact(location)!r}: use a SQLite file path or a "
                          "postgresql:// URL")
    return SQLiteDialect(location)

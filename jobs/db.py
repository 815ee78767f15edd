"""The database: engine creation, schema migration, the readiness ping, and what counts as an outage."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Result, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# What the database driver raises, through SQLAlchemy; is_unavailable tells an outage from a bug.
DatabaseError = DBAPIError


def make_engine(url: str) -> Engine:
    """An engine for the URL: SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL pre-pings."""
    if url.startswith("sqlite"):
        create_private(make_url(url).database)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def create_private(path: str | None) -> None:
    """Create a new SQLite file readable and writable by its owner only (mode 600, whatever the umask): it holds
    password hashes and token digests. SQLite gives its -wal and -shm files the database file's mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError):  # there already, or no folder (SQLite says so when it opens)
        pass


@dataclass(frozen=True)
class Database:
    """One engine and its session factory, shared by every store of the process."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str) -> Database:
        engine = make_engine(url)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def ping(self) -> None:
        ping(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (SQLAlchemy returns a CursorResult for them, typed as Result)."""
    return cast(CursorResult[Any], result).rowcount


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the database to the latest revision, on a connection of the given engine."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def ping(engine: Engine) -> None:
    """Raises if the database does not answer."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database can't be reached right now (down, restarting, connection lost)."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )

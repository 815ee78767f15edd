"""A test's new database brought to the head revision quickly: the migrations run once per session, into a
template, and each test's database is a copy of it.

Running alembic's 13 migrations for every test cost 0.3-0.6 s a test (on SQLite and on PostgreSQL alike), more
than many tests themselves. The copies hold what the migrations made:
- SQLite: the migrated file, copied byte for byte (mode 600, as the service creates its file).
- PostgreSQL: the migrated template schema as pg_dump writes it (tables, data such as the built-in errors and
  alembic's revision, sequences, indexes, trigger functions), replayed into the test's schema with the
  template's name replaced by the test's (the trigger functions name their schema in `SET search_path`).
  Without a pg_dump next to the server's binaries, each schema is migrated as before.
Tests that check the migrations themselves run them on databases of their own, as before.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from jobs.db import create_private, make_engine, upgrade


def schema_of(url: URL) -> str:
    """The schema a test's PostgreSQL URL puts first on the search path (conftest's database_url)."""
    return url.query["options"].split("=", 1)[1]  # type: ignore[union-attr]


def pg_dump() -> str | None:
    """The newest installed pg_dump (the one scripts/postgres's server comes with), else one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which("pg_dump")


class MigratedTemplates:
    """One migrated template per kind of database, made on first use."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._sqlite: Path | None = None
        self._postgres: tuple[str, str] | None = None  # (template schema's name, its dump)

    def migrate(self, database_url: str) -> None:
        """Bring the test's new, empty database (a SQLite file not yet there, or an empty schema) to head."""
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            create_private(url.database)  # copyfile keeps the mode of the file it writes into
            shutil.copyfile(self.sqlite(), url.database)
        elif url.get_backend_name() == "postgresql" and "options" in url.query and pg_dump():
            name, dump = self.postgres(url)
            engine = create_engine(url.difference_update_query(["options"]), poolclass=NullPool)
            # A connection of its own (the dump changes session settings, search_path among them), and the
            # driver's own cursor: the dump is sent as it is, its statements in one go, no placeholders read.
            raw = engine.raw_connection()
            try:
                raw.cursor().execute(dump.replace(name, schema_of(url)))
                raw.commit()
            finally:
                raw.close()
                engine.dispose()
        else:
            engine = make_engine(database_url)
            upgrade(engine)
            engine.dispose()

    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self.folder / "head.db"
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
            # Closing the last connection checkpointed the write-ahead log: the file alone is the database.
            assert not path.with_name(path.name + "-wal").exists()
            self._sqlite = path
        return self._sqlite

    def postgres(self, url: URL) -> tuple[str, str]:
        if self._postgres is None:
            name = f"m_{uuid.uuid4().hex[:12]}"  # unique: replaced as plain text in the dump
            server = url.difference_update_query(["options"])
            admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{name}"'))
            try:
                engine = make_engine(
                    server.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)
                )
                upgrade(engine)
                engine.dispose()
                command = [str(pg_dump()), "--schema", name, "--inserts", "--no-owner", "--no-privileges"]
                command += ["-h", str(server.host), "-p", str(server.port or 5432), "-U", str(server.username)]
                command += ["-d", str(server.database)]
                env = {"PGPASSWORD": server.password} if server.password else {}
                done = subprocess.run(
                    command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=120
                )
                assert done.returncode == 0, f"pg_dump failed: {done.stderr}"
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
                admin.dispose()
            # psql's meta-commands (\restrict) are not SQL; the test's schema exists already (database_url).
            lines = [line for line in done.stdout.splitlines() if not line.startswith("\\")]
            dump = "\n".join(line for line in lines if line != f"CREATE SCHEMA {name};")
            assert f"{name}.jobs" in dump, "the dump holds no jobs table"
            self._postgres = (name, dump)
        return self._postgres

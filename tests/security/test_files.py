"""Attack: read the SQLite database (password hashes, token digests) as another local user, through the group
and other bits a umask of 022 leaves. A new database file is created mode 600 whatever the umask."""

from __future__ import annotations

import os
import stat

from jobs.db import make_engine, upgrade


def test_a_new_sqlite_database_is_private(tmp_path):
    path = tmp_path / "scale.db"
    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
    finally:
        os.umask(old)
    for name in ("scale.db", "scale.db-wal", "scale.db-shm"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

"""`python -m accounts` as operators run it (a subprocess, configured from the environment), and what it changes
seen through the API: logins, personal tokens, disabling, resets and revocations."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from falcon import testing

from api.app import create_app
from api.services import Services
from core.times import utcnow
from jobs.stores import Stores
from tests.ui_session import UiSession

ROOT = Path(__file__).resolve().parents[1]
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z"  # core.times.format_datetime's form
parse_datetime = datetime.fromisoformat


@pytest.fixture
def accounts(database_url, tmp_path):
    """Run the command line on the test's database (it migrates a database that needs it, as the service does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "READ_TOKEN")}
    env.update(DATABASE_URL=database_url, DATA_DIR=str(tmp_path / "data"))

    def run(*args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "accounts", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        assert (done.returncode == 0) is ok, (args, done.returncode, done.stdout, done.stderr)
        return done

    return run


@pytest.fixture
def api(database_url, sql_settings, clock):
    stores = Stores.open(database_url, clock)
    yield testing.TestClient(create_app(Services(stores), sql_settings, clock))
    stores.close()


def test_the_command_line_manages_users_and_tokens(accounts, api, tmp_path):
    secret = "correct horse battery staple"
    done = accounts(
        "user",
        "add",
        "alice",
        "--staff",
        "--first-name",
        "Alice",
        "--email",
        "a@example.org",
        "--password-stdin",
        stdin=secret + "\n",
    )
    assert done.stdout.startswith("added alice  staff  active  last login never  Alice  a@example.org")
    accounts("user", "add", "bob", "--password-stdin", stdin="bob's password\n")
    accounts("user", "add", "robot", "--no-password")
    listing = accounts("user", "list").stdout.splitlines()
    assert [line.split()[:3] for line in listing] == [
        ["alice", "staff", "active"],
        ["bob", "read-only", "active"],
        ["robot", "read-only", "active"],
    ]
    assert "no password (tokens only)" in listing[2]

    ui = UiSession(api)
    before = utcnow()
    r = ui.log_in("alice", secret)
    after = utcnow()
    assert r.status_code == 200 and r.json["first_name"] == "Alice" and r.json["is_staff"] is True
    shown = re.search(
        rf"^alice  staff  active  last login ({ISO})  Alice  a@example.org", accounts("user", "show", "alice").stdout
    )
    assert shown and before <= parse_datetime(shown[1]) <= after, shown

    created = accounts("token", "create", "robot", "--name", "nightly")
    token = created.stdout.strip()
    assert token.startswith("scale_") and "not shown again" in created.stderr and token not in created.stderr
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.simulate_get("/v6/accounts/profile/", headers=bearer).json["username"] == "robot"
    listed = accounts("token", "list", "robot").stdout
    assert "nightly" in listed and token[:12] in listed and token not in listed
    token_id = listed.split()[0]

    # Staff or not, changed at once.
    assert api.simulate_post("/v6/jobs/cancel/", json={}, headers=bearer).status_code == 403
    accounts("user", "update", "robot", "--staff")
    assert api.simulate_post("/v6/jobs/cancel/", json={}, headers=bearer).status_code == 202

    accounts("user", "disable", "alice")
    assert ui.get("/v6/accounts/profile/").status_code == 401  # the session ended
    assert ui.log_in("alice", secret).status_code == 401
    accounts("user", "enable", "alice")
    accounts("user", "reset", "alice", "--password-stdin", stdin="a brand new one\n")
    assert ui.log_in("alice", secret).status_code == 401
    assert ui.log_in("alice", "a brand new one").status_code == 200

    before = utcnow()
    assert accounts("token", "revoke", token_id).stdout == f"revoked token {token_id} (nightly) of robot\n"
    after = utcnow()
    assert api.simulate_get("/v6/accounts/profile/", headers=bearer).status_code == 403
    row = re.fullmatch(
        rf"{token_id}  robot  nightly  {re.escape(token[:12])}\.\.\.  user  created ({ISO})  revoked ({ISO})\n",
        accounts("token", "list").stdout,
    )
    assert row and parse_datetime(row[1]) <= before <= parse_datetime(row[2]) <= after, row

    # Mistakes are one line on stderr and exit status 1; nothing ever prints a password.
    assert "already exists" in accounts("user", "add", "alice", "--no-password", ok=False).stderr
    assert "no such user nobody" in accounts("user", "disable", "nobody", ok=False).stderr
    assert "reserved" in accounts("user", "add", "admin", "--no-password", ok=False).stderr
    assert "no such token 999" in accounts("token", "revoke", "999", ok=False).stderr
    everything = accounts("user", "list").stdout + accounts("token", "list").stdout
    for text in (secret, "bob's password", "a brand new one", "argon2", token):
        assert text not in everything


def test_executor_tokens_from_the_command_line(accounts, api):
    accounts("user", "add", "runners", "--no-password")
    created = accounts("token", "create", "runners", "--name", "n1", "--executor", "--node", "node-1", "--days", "7")
    token = created.stdout.strip()
    assert "executor token of node node-1" in created.stderr and "expires 20" in created.stderr
    listed = accounts("token", "list", "runners").stdout
    assert "executor@node-1" in listed and "active until 20" in listed
    bearer = {"Authorization": f"Bearer {token}"}
    r = api.simulate_post("/v6/jobs/cancel/", json={}, headers=bearer)
    assert r.status_code == 403 and "executor token" in r.json["detail"]
    assert (
        "--node needs --executor"
        in accounts("token", "create", "runners", "--name", "x", "--node", "n", ok=False).stderr
    )
    assert "1 to 3660 days" in accounts("token", "create", "runners", "--name", "x", "--days", "0", ok=False).stderr

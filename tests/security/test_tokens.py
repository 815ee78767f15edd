"""Attacks on the service's own tokens: guessing a short API_TOKEN or READ_TOKEN (the API started with any
value, "x" included), and reading the admin token from the terminal `make run` printed it on (scrollback, a CI
log, a screen share)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from settings import MIN_TOKEN_LENGTH, Settings, check_service_tokens
from tests.es_node import connection_env
from tests.reliability.harness import ROOT, VENV_BIN, free_port, wait_until

RUN = ROOT / "scripts" / "run"
STRONG = "Z8kq2-Vd0pL_u7xN4bR1mT6wY9sE3cJ5aH"


def service_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "READ_TOKEN", "DATABASE_URL", "PORT")}
    env.update(DATA_DIR=str(tmp_path), WORKERS="1", LOG_LEVEL="WARNING", **variables)
    return env


@pytest.mark.parametrize(
    "variables, named",
    [
        ({"API_TOKEN": "x"}, "API_TOKEN"),
        ({"API_TOKEN": "secret-secret-secret-secret-secret"}, "API_TOKEN"),  # 34 characters, 6 different
        ({"API_TOKEN": STRONG, "READ_TOKEN": "reader-token"}, "READ_TOKEN"),
    ],
)
def test_the_api_refuses_to_start_with_a_guessable_token(tmp_path, variables, named):
    env = service_env(tmp_path, PORT=str(free_port()), **variables)
    try:
        done = subprocess.run(
            [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "api.wsgi:app"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"gunicorn started with {named}={variables[named]!r}")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"gunicorn: {named} is too weak to guard the API: it needs at least 32 characters")
    assert variables[named] not in done.stderr
    # scripts/run (make run) says the same before it starts anything.
    run = subprocess.run([str(RUN)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith(f"scripts/run: {named} is too weak")
    assert not (tmp_path / "elasticsearch").exists()


def test_token_rules(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    check_service_tokens(settings)  # the generated one
    assert len(settings.api_token) >= MIN_TOKEN_LENGTH
    same = Settings.from_env({"DATA_DIR": str(tmp_path), "API_TOKEN": STRONG, "READ_TOKEN": STRONG})
    with pytest.raises(ValueError, match="READ_TOKEN must differ from API_TOKEN"):
        check_service_tokens(same)
    check_service_tokens(Settings.from_env({"DATA_DIR": str(tmp_path), "API_TOKEN": "0123456789abcdef" * 2}))


def test_make_run_names_the_token_file_and_never_prints_the_token(tmp_path, elasticsearch_url):
    env = service_env(tmp_path, PORT="0", **connection_env(elasticsearch_url), LOG_INDEX_PREFIX="test-run-token")
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([str(RUN)], env=env, stdout=o, stderr=e, start_new_session=True)
    try:

        def ready() -> str | None:
            assert proc.poll() is None, err.read_text()[-3000:]
            found = re.search(r"ready at (http://\S+)", out.read_text())
            return found.group(1) if found else None

        url = wait_until(ready, 120, 0.2, "scripts/run ready")
        token = (tmp_path / "api_token").read_text().strip()
        assert (tmp_path / "api_token").stat().st_mode & 0o777 == 0o600
        printed = out.read_text() + err.read_text()
        assert token not in printed
        assert f"Admin token (Authorization: Bearer ...): in {tmp_path}/api_token (mode 600)\n" in printed
        assert f"SCALE_TOKEN_FILE={tmp_path}/api_token;" in printed
        # The file's token is the one the API takes.
        request = urllib.request.Request(f"{url}/v6/accounts/profile/", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

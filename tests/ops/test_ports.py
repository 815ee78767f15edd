"""A taken port gives one line or a free port, never a stack trace (scripts/elasticsearch, scripts/run).

The ports are held by a plain socket of the test, or by another node started by the launcher. When a variable is
unset the scripts try ES_PORT_DEFAULT / PORT_DEFAULT (9200 / 8000 unless set), so the tests name a port they hold
instead of taking 9200 or 8000 from whoever uses them on this machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.es_node import LaunchedNode
from tests.reliability.harness import LOOPBACK, free_port, wait_until

# Every command here runs in clean_env, without DATABASE_URL (scripts/run's API uses its DATA_DIR's SQLite), and no
# test uses a database fixture: on PostgreSQL they would run exactly as on SQLite, so that run of CI leaves them out.
pytestmark = pytest.mark.sql_free

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "elasticsearch"
RUN = ROOT / "scripts" / "run"
SOCKET_HOLDS = "by something that does not answer HTTP"
NODE_HOLDS = "by Elasticsearch 8.19.0 of cluster scalelogs-embedded"


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without anything that picks a port, a node or a database, plus variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ES_", "ELASTICSEARCH_"))
        and k not in ("PORT", "PORT_DEFAULT", "HOST", "WORKER", "WORKER_METRICS_PORT", "DATABASE_URL", "API_TOKEN")
    }
    env.update(variables)
    return env


def launcher(home: Path, command: str = "start", **variables: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(ES_HOME=str(home), **variables)
    return subprocess.run([str(LAUNCHER), command], env=env, capture_output=True, text=True, timeout=600)


def root_info(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def free_port_before_a_held_one() -> tuple[int, socket.socket]:
    """A free port, and a listening socket on the next one (for the ports scripts derive as PORT+1)."""
    while True:
        port = free_port()
        holder = socket.socket()
        try:
            holder.bind((LOOPBACK, port + 1))
        except OSError:
            holder.close()  # port+1 is someone else's: try another
            continue
        holder.listen()
        return port, holder


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port bound and listening by a plain socket that never answers."""
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def home(tmp_path) -> Iterator[Path]:
    """An Elasticsearch home for one test, whose node (if any started) is stopped afterwards."""
    yield tmp_path / "es"
    launcher(tmp_path / "es", "stop")


@pytest.fixture(scope="module")
def other_node(tmp_path_factory) -> Iterator[int]:
    """Another node started by the launcher (as a second checkout's would be): its port."""
    other = tmp_path_factory.mktemp("other-node")
    started = launcher(other, ES_PORT="0")
    assert started.returncode == 0, started.stderr
    yield int(started.stdout.strip().rsplit(":", 1)[1])
    launcher(other, "stop")


# --- scripts/ports.py: what both scripts call --------------------------------------------------------------


def choose(variable: str, value: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["python3", str(ROOT / "scripts" / "ports.py"), "choose", variable, value, "8000", "the API"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_zero_is_any_free_port_and_a_word_is_refused():
    any_port = choose("PORT", "0")
    assert any_port.returncode == 0 and any_port.stderr == ""
    port = int(any_port.stdout)
    assert port != 0
    with socket.socket() as proof:
        proof.bind((LOOPBACK, port))  # free indeed

    word = choose("PORT", "eighty")
    assert word.returncode == 1
    assert (word.stdout, word.stderr) == ("", "PORT must be a port number (0 = any free port), not 'eighty'\n")


# --- scripts/elasticsearch ----------------------------------------------------------------------------------


def test_es_port_held_by_a_socket_gives_one_line_and_starts_nothing(home, held_port):
    done = launcher(home, ES_PORT=str(held_port))

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"ES_PORT={held_port} is taken (by something that does not answer HTTP): set ES_PORT=0 to start a node on "
        "any free port, or ELASTICSEARCH_URL to use a node you run\n"
    )
    assert not (home / "pid").exists()


def test_es_port_held_by_another_node_names_its_version_and_url(home, other_node):
    done = launcher(home, ES_PORT=str(other_node))

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"ES_PORT={other_node} is taken (by Elasticsearch 8.19.0 of cluster scalelogs-embedded): set ES_PORT=0 to "
        f"start a node on any free port, or ELASTICSEARCH_URL=http://127.0.0.1:{other_node} to use that node\n"
    )
    assert not (home / "pid").exists()


@pytest.mark.slow
def test_es_port_held_by_a_secured_node_says_so_without_credentials(home, tmp_path):
    """Elasticsearch 8's own distribution is secured by default: it answers 401 over HTTPS, which is enough to
    name it (its version needs credentials)."""
    secured = LaunchedNode(tmp_path / "secured", security=True)
    secured.start()
    try:
        done = launcher(home, ES_PORT=str(secured.port))
    finally:
        secured.stop()

    assert done.returncode == 1
    assert done.stderr == (
        f"ES_PORT={secured.port} is taken (by a secured Elasticsearch (HTTPS)): set ES_PORT=0 to start a node on any "
        f"free port, or ELASTICSEARCH_URL=https://127.0.0.1:{secured.port} to use that node\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("holder", ["socket", "node"])
def test_unset_es_port_with_the_default_taken_starts_on_a_free_port_and_says_so(home, holder, request):
    default = request.getfixturevalue("held_port" if holder == "socket" else "other_node")

    done = launcher(home, ES_PORT_DEFAULT=str(default))

    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert done.stdout == f"{url}\n" and re.fullmatch(r"http://127\.0\.0\.1:\d+", url)  # stdout: the URL alone
    port = int(url.rsplit(":", 1)[1])
    assert port != default
    words = SOCKET_HOLDS if holder == "socket" else NODE_HOLDS
    assert done.stderr == f"port {default} is taken ({words}); Elasticsearch uses free port {port} instead\n"
    assert root_info(url)["tagline"] == "You Know, for Search"


@pytest.mark.slow
def test_a_port_taken_after_the_check_still_gives_a_free_port_and_one_line(home):
    """The port is free when the launcher checks it and taken before the JVM binds it: the node's bind failure
    becomes the same line (no stack trace: stderr holds that line alone), and the node starts on a free port."""
    default = free_port()
    proc = subprocess.Popen(
        [str(LAUNCHER), "start"],
        env=clean_env(ES_HOME=str(home), ES_PORT_DEFAULT=str(default)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with socket.socket() as late:
        # The pid file is written once the JVM is launched, after the check; the JVM binds seconds later.
        wait_until(lambda: (home / "pid").exists() or proc.poll() is not None, 120, 0.01, "the JVM launched")
        late.bind((LOOPBACK, default))
        late.listen()
        stdout, stderr = proc.communicate(timeout=600)

    assert proc.returncode == 0, stderr
    port = int(stdout.strip().rsplit(":", 1)[1])
    assert stderr == f"port {default} is taken ({SOCKET_HOLDS}); Elasticsearch uses free port {port} instead\n"
    assert root_info(f"http://127.0.0.1:{port}")["cluster_name"] == "scalelogs-embedded"


def test_a_cluster_port_that_es_port_gives_and_that_is_taken_gives_one_line(home):
    first, holder = free_port_before_a_held_one()  # node-2's port (ES_PORT+1) is the taken one
    with holder:
        done = launcher(home, ES_PORT=str(first), ES_NODES="2")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"ES_PORT={first} gives node-2 port {first + 1}, which is taken (by something that does not answer HTTP): "
        "set ES_PORT=0 to start the nodes on free ports, or ELASTICSEARCH_URL to use a cluster you run\n"
    )
    assert not (home / "node-1" / "pid").exists()
    assert not (home / "launcher.conf").exists()  # the home is as it was: a later start may choose other nodes


@pytest.mark.slow
def test_a_test_node_whose_kept_port_was_taken_meanwhile_fails_with_one_line(tmp_path):
    """The tests' own nodes (tests/es_node.py) keep their port across restarts; if it is taken meanwhile, the
    fixture's error holds the one line, not the JVM's stack trace."""
    node = LaunchedNode(tmp_path / "node", security=False)
    node.start()
    node.stop()
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stopped node's connections may linger
        holder.bind((LOOPBACK, node.port))
        holder.listen()
        with pytest.raises(RuntimeError) as failed:
            node.start()

    assert str(failed.value) == (
        f"scripts/elasticsearch start failed:\nES_PORT={node.port} is taken (by something that does not answer "
        "HTTP): set ES_PORT=0 to start a node on any free port, or ELASTICSEARCH_URL to use a node you run\n"
    )


# --- scripts/run --------------------------------------------------------------------------------------------


def run_env(data_dir: Path, **variables: str) -> dict[str, str]:
    return clean_env(DATA_DIR=str(data_dir), WORKERS="1", LOG_LEVEL="WARNING", **variables)


@pytest.mark.parametrize("variable", ["PORT", "WORKER_METRICS_PORT"])
def test_a_taken_api_port_gives_one_line_before_anything_starts(tmp_path, held_port, variable):
    # PORT=0 unless PORT is the one held: no line about 8000 from whoever holds it on this machine.
    env = run_env(tmp_path, WORKER="1", **{"PORT": "0", variable: str(held_port)})

    done = subprocess.run([str(RUN)], env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"{variable}={held_port} is taken (by something that does not answer HTTP): set {variable}=0 for any "
        f"free port, or another {variable}\n"
    )
    assert not (tmp_path / "elasticsearch").exists()


def test_a_taken_es_port_stops_run_with_one_line_before_gunicorn_starts(tmp_path, held_port):
    done = subprocess.run(
        [str(RUN)], env=run_env(tmp_path, PORT="0", ES_PORT=str(held_port)), capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 1
    assert done.stdout == f"starting Elasticsearch (data in {tmp_path}/elasticsearch)...\nstopped\n"
    assert done.stderr == (
        f"ES_PORT={held_port} is taken (by something that does not answer HTTP): set ES_PORT=0 to start a node on "
        "any free port, or ELASTICSEARCH_URL to use a node you run\n"
    )


class Run:
    """scripts/run in its own process group, its output in files."""

    def __init__(self, data_dir: Path, env: dict[str, str]):
        data_dir.mkdir(parents=True)
        self.data_dir = data_dir
        self.out, self.err = data_dir / "run.out", data_dir / "run.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([str(RUN)], env=env, stdout=out, stderr=err, start_new_session=True)

    def wait_ready(self) -> str:
        def ready() -> str | None:
            assert self.proc.poll() is None, f"scripts/run exited: {self.err.read_text()[-3000:]}"
            found = re.search(r"ready at (http://\S+)", self.out.read_text())
            return found.group(1) if found else None

        return wait_until(ready, 300, 0.2, "scripts/run ready")

    def taken_lines(self) -> list[str]:
        return [line for line in self.err.read_text().splitlines() if " is taken " in line]

    def stop(self) -> None:
        """Ctrl-C's path (the script's trap stops gunicorn and its node); then anything left in its group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is empty: everything stopped
        self.proc.wait(timeout=10)


def ready_status(url: str) -> int:
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as answer:
        return answer.status


@pytest.mark.slow
def test_two_runs_from_two_checkouts_each_come_up_with_their_own_node_and_urls(tmp_path):
    """Two scripts/run with their own DATA_DIR (as two checkouts have) and the same defaults: the first takes the
    default ports, the second free ones, each says which, and each serves with its own node."""
    # The first run's worker metrics default to PORT+1: held here, so it takes a free port and says so.
    api_default, metrics_holder = free_port_before_a_held_one()
    es_default = free_port()
    defaults = {"PORT_DEFAULT": str(api_default), "ES_PORT_DEFAULT": str(es_default)}
    first = second = None
    with metrics_holder:
        try:
            first = Run(tmp_path / "one", run_env(tmp_path / "one", WORKER="1", **defaults))
            first_url = first.wait_ready()
            second = Run(tmp_path / "two", run_env(tmp_path / "two", **defaults))
            second_url = second.wait_ready()

            assert first_url == f"http://127.0.0.1:{api_default}"
            [metrics_line] = first.taken_lines()
            metrics_port = int(metrics_line.rsplit("free port ", 1)[1].split()[0])
            assert metrics_line == (
                f"port {api_default + 1} is taken ({SOCKET_HOLDS}); the local worker's metrics endpoint uses free "
                f"port {metrics_port} instead"
            )
            first_out = first.out.read_text()
            assert f"Elasticsearch: http://127.0.0.1:{es_default} (no credentials)\n" in first_out
            assert f"(local worker: http://127.0.0.1:{metrics_port}/metrics)" in first_out

            api_line, es_line = second.taken_lines()
            api_port = int(second_url.rsplit(":", 1)[1])
            es_port = int(es_line.rsplit("free port ", 1)[1].split()[0])
            assert api_line == (
                f"port {api_default} is taken (by an HTTP server (gunicorn), not Elasticsearch); the API uses free "
                f"port {api_port} instead"
            )
            assert (
                es_line == f"port {es_default} is taken ({NODE_HOLDS}); Elasticsearch uses free port {es_port} instead"
            )
            assert api_port != api_default and es_port != es_default
            assert f"Elasticsearch: http://127.0.0.1:{es_port} (no credentials)\n" in second.out.read_text()

            assert ready_status(first_url) == 200
            assert ready_status(second_url) == 200
            assert root_info(f"http://127.0.0.1:{es_port}")["cluster_name"] == "scalelogs-embedded"
        finally:
            for run in (second, first):
                if run is not None:
                    run.stop()

    for run in (first, second):
        assert run.out.read_text().endswith("stopped\n")
        status = launcher(run.data_dir / "elasticsearch", "status")
        assert status.returncode == 3  # its node was stopped with it

"""Attack: hold many `follow=true` reads open at once, anonymously, to take every gunicorn thread and stall the
service (2 workers x 16 threads: 32 follows used to be enough). Now each worker runs at most
LONG_READS_PER_WORKER long reads and at most LONG_READS_PER_CLIENT from one address; the rest are 429 with
Retry-After, and the job routes keep answering while the follows are held."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import LOOPBACK, Gunicorn

FOLLOWS = 40


@pytest.fixture
def server(settings, tmp_path):
    g = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        settings.log_index_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={"FOLLOW_MAX_SECONDS": "120", "LONG_READS_PER_CLIENT": "4", "LONG_READS_PER_WORKER": "8"},
    )
    g.start()
    yield g
    g.stop()


def open_follow(port: int, path: str) -> tuple[socket.socket, int, dict, bytes]:
    """Send one follow (SSE: its first bytes come at once) and read its status and headers; the socket is left
    open, so the follow is held."""
    sock = socket.create_connection((LOOPBACK, port), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nAccept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if status != 200:  # a refusal: its whole body (it may come in a later packet than the headers)
        while len(rest) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return sock, status, headers, rest


def test_forty_follows_cannot_stall_the_job_routes(server, execution):
    path = f"/v6/job-executions/{execution.id}/logs/combined/?follow=true"
    held: list[socket.socket] = []
    statuses: list[int] = []
    refusal = None
    try:
        for _ in range(FOLLOWS):
            sock, status, headers, rest = open_follow(server.port, path)
            statuses.append(status)
            if status == 200:
                held.append(sock)  # the follow goes on: its thread is taken until we let go
            else:
                refusal = refusal or (status, headers, rest)
                sock.close()
        # Every request came from one address: 4 per worker at most, so 8 in all (2 workers).
        assert statuses.count(200) <= 8 and statuses.count(429) == FOLLOWS - statuses.count(200), statuses
        assert statuses.count(200) >= 4, statuses  # a worker does take some
        status, headers, rest = refusal
        assert headers["retry-after"] == "10"
        assert "cap" in json.loads(rest[: int(headers["content-length"])])["detail"]
        # The job routes answer while the follows are held: every worker still has free threads.
        for _ in range(20):
            conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=10)
            conn.request("GET", "/v6/jobs/")
            answer = conn.getresponse()
            assert answer.status == 200
            answer.read()
            conn.close()
    finally:
        for sock in held:
            sock.close()

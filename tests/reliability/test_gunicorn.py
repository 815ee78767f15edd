"""The production gunicorn configuration on loopback: a worker SIGKILLed in the middle of a request is replaced
by the master and the next requests succeed; bodies without a length are still size-limited."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import LOOPBACK, Gunicorn, assert_clean_error, ndjson, pid_serving, wait_until
from tests.reliability.seed import lines, seed_jobs


@pytest.fixture
def server(settings, tmp_path):
    g = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        settings.log_index_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={"FOLLOW_MAX_SECONDS": "30", "MAX_BODY_BYTES": "65536", "MAX_LOG_LINE_BYTES": "1024"},
    )
    g.start()
    yield g
    g.stop()


def test_a_worker_killed_mid_request_is_replaced_and_the_next_requests_succeed(server, stores, figures, sized):
    seeded = seed_jobs(stores, types=1, jobs=4, running=2, finished=1)
    exe = seeded.running[0]
    api = server.client(token=ADMIN_TOKEN)
    r = api.post(
        f"/v6/job-executions/{exe.id}/logs/", ndjson(lines(20)), headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status == 202, r.body
    workers_before = server.worker_pids()
    kills = sized(1, 3)
    requests_after = resends = 0
    for round_ in range(kills):
        # A followed log: the response has started and the worker is busy with it.
        conn = http.client.HTTPConnection(LOOPBACK, server.port, timeout=30)
        conn.request("GET", f"/v6/job-executions/{exe.id}/logs/combined/?follow=true&format=ndjson")
        resp = conn.getresponse()
        assert resp.status == 200
        first = resp.readline()
        assert b'"line 1"' in first
        serving = wait_until(
            lambda: pid_serving(conn.sock.getsockname()[1], server.worker_pids()),
            5,
            what="the worker serving the follow",
        )
        os.kill(serving, signal.SIGKILL)
        started = time.monotonic()
        cut = False
        try:
            while resp.read(65536):  # the cut body must end promptly, not hang
                pass
        except (http.client.IncompleteRead, ConnectionError, http.client.HTTPException):
            cut = True
        assert time.monotonic() - started < 10
        assert cut, "a SIGKILLed worker cannot have ended the chunked body properly"
        conn.close()
        assert server.proc.poll() is None, "the master died with its worker"
        wait_until(
            lambda: len(server.worker_pids()) == server.workers and serving not in server.worker_pids(),
            20,
            what="the master replacing the killed worker",
        )
        # Every next request succeeds, on fresh and on kept-alive connections.
        for n in range(60):
            client = server.client() if n % 3 == 0 else api
            for path in ("/v6/jobs/", f"/v6/jobs/{exe.job_id}/", f"/v6/job-executions/{exe.id}/logs/combined/?limit=5"):
                answer = client.get(path)
                assert answer.status == 200, (round_, path, answer.status)
                requests_after += 1
            resends += client.resends if client is not api else 0
            client.close()
    resends += api.resends
    assert set(server.worker_pids()) != set(workers_before)
    # The kept-alive client `api` may have been connected to a killed worker: it sees the closed connection
    # before sending (a reconnect, not a re-send). A GET sent in the instant the worker died is re-sent at most
    # once per kill; nothing else ever is.
    assert resends <= kills, f"{resends} requests re-sent for {kills} killed workers"
    figures.setdefault("faults", {})["gunicorn_worker_kill"] = {
        "kills": kills,
        "workers_replaced": len(set(workers_before) - set(server.worker_pids())),
        "requests_after": requests_after,
        "resends": resends,
        "reconnects": api.reconnects,
    }


def test_bodies_are_limited_with_and_without_content_length(server, stores):
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    path = f"/v6/job-executions/{exe.id}/logs/"
    line = b'{"message": "' + b"x" * 500 + b'", "stream": "stdout"}\n'

    def raw(headers: list[str], body: bytes) -> tuple[int, bytes]:
        with socket.create_connection((LOOPBACK, server.port), timeout=30) as s:
            head = [
                f"POST {path} HTTP/1.1",
                f"Host: {LOOPBACK}",
                f"Authorization: Bearer {ADMIN_TOKEN}",
                "Content-Type: application/x-ndjson",
                "Connection: close",
                *headers,
            ]
            s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            try:
                s.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading it all: fine
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data.split(b"\r\n\r\n", 1)[1]

    def chunked(body: bytes, size: int = 4096) -> bytes:
        out = b""
        for i in range(0, len(body), size):
            part = body[i : i + size]
            out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
        return out + b"0\r\n\r\n"

    small = line * 10
    assert raw([f"Content-Length: {len(small)}"], small)[0] == 202
    assert raw(["Transfer-Encoding: chunked"], chunked(small))[0] == 202
    big = line * 200  # ~100 KB > MAX_BODY_BYTES=64 KiB
    for headers, body in (
        ([f"Content-Length: {len(big)}"], big),
        (["Transfer-Encoding: chunked"], chunked(big)),
        (["Content-Length: 99999999999"], b""),
    ):
        status, answer = raw(headers, body)
        assert status == 413, (headers, status, answer[:200])
        if answer.strip() and b"{" in answer:
            assert_clean_error(answer[answer.index(b"{") : answer.rindex(b"}") + 1], 413)
    long_line = b'{"message": "' + b"y" * 2000 + b'", "stream": "stdout"}\n'  # > MAX_LOG_LINE_BYTES=1024
    assert raw(["Transfer-Encoding: chunked"], chunked(long_line))[0] == 413
    # The server is fine afterwards.
    assert server.client().get("/v6/jobs/").status == 200

"""The test relay itself (tests/proxy.py): after `cut()` returns, no connection passes anything, not even one whose
upstream connection was being set up while cut() ran. Tests that cut the relay assert on what the service does
while Elasticsearch is unreachable; a connection outliving the cut lets a worker reach the node all the same."""

from __future__ import annotations

import socket

from tests.proxy import Relay
from tests.reliability.harness import LOOPBACK, tcp_table, wait_until

SYN_SENT = "02"


def test_a_connection_being_set_up_during_a_cut_does_not_outlive_it():
    # A target whose accept queue is full: the relay's connect to it stays in SYN_SENT until the queue has room.
    target = socket.create_server((LOOPBACK, 0), backlog=0)
    target_port = target.getsockname()[1]
    filler = socket.create_connection((LOOPBACK, target_port))
    relay = Relay(f"http://{LOOPBACK}:{target_port}")
    client = socket.create_connection((LOOPBACK, relay.port), timeout=10)
    try:
        # The relay accepted the client and is connecting upstream: the moment a worker's request can straddle a cut.
        wait_until(
            lambda: any(r["remote_port"] == target_port and r["state"] == SYN_SENT for r in tcp_table()),
            10,
            0.01,
            what="the relay connecting to the target",
        )
        relay.cut()
        target.accept()[0].close()  # the filler: now the relay's connect completes (its SYN is sent again)
        target.settimeout(10)
        upstream, _ = target.accept()
        upstream.settimeout(10)
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        try:
            passed = upstream.recv(100)
        except ConnectionResetError:
            passed = b""
        assert passed == b"", "a connection set up while the relay was being cut still carries requests"
        upstream.close()
    finally:
        client.close()
        filler.close()
        relay.close()
        target.close()


def test_a_cut_closes_open_connections_at_once():
    target = socket.create_server((LOOPBACK, 0))
    relay = Relay(f"http://{LOOPBACK}:{target.getsockname()[1]}")
    client = socket.create_connection((LOOPBACK, relay.port), timeout=10)
    try:
        target.settimeout(10)
        upstream, _ = target.accept()
        upstream.settimeout(10)
        client.sendall(b"ping")
        assert upstream.recv(4) == b"ping"
        # Both ends are told now (a pipe thread blocked reading a socket kept it open until its next request).
        relay.cut()
        assert client.recv(4) == b""
        assert upstream.recv(4) == b""
        upstream.close()
    finally:
        client.close()
        relay.close()
        target.close()

"""Real servers on loopback for the alert tests: a webhook receiver (http.server in a thread) that records each
body and answers with the statuses it is told to, and an SMTP server (aiosmtpd) that keeps each message."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Receiver:
    """Bodies posted to http://127.0.0.1:<port>/hooks/..., in order; `fail_next` statuses are answered first."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.attempts = 0
        self.fail_next: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver.fail_next.pop(0) if receiver.fail_next else 200
                    if status == 200:
                        receiver.bodies.append(json.loads(raw))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet: pytest shows failures, not every request
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{self.base}/hooks/scale"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Mailbox:
    def __init__(self):
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


SMTP_USER, SMTP_PASSWORD = "scale", "the-smtp-password-7f3a"


@pytest.fixture
def guarded_mailbox():
    """An SMTP server that wants a login (over plain text, loopback only) and takes only SMTP_USER/SMTP_PASSWORD."""
    box = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers a failure with 535

    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def wait_for(condition, what: str, timeout: float = 60.0, every: float = 0.1):
    """Poll until condition() is truthy (returned); fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)

"""A TCP relay on loopback in front of a real Elasticsearch, for faults a running node can't be asked for:
`refuse` (connections are refused: the node looks down, at once and back at once) and `delay` (each chunk
of the node's answers waits that long: a slow node). The node itself answers every request it gets."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit


class Relay:
    def __init__(self, target_url: str):
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.refuse = False
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Refuse new connections and close the open ones (the node seems to be gone). When this returns nothing
        passes any more: not even a connection the relay was still connecting upstream for (see _accept)."""
        with self._lock:
            self.refuse = True
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)

    def restore(self) -> None:
        with self._lock:
            self.refuse = False

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                # An immediate reset: what a client sees from a closed port.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _close(client)
                continue
            with self._lock:
                # Checked again under the lock cut() takes: a cut while we were connecting upstream has already
                # swept the open connections, and this one must not be piped after it.
                refused = self.refuse
                if not refused:
                    self._conns += [client, upstream]
            if refused:
                _close(client)
                _close(upstream)
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self.delay:
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(conn: socket.socket) -> None:
    # shutdown first: close() alone leaves the socket open while a pipe thread is blocked reading it, so the peer
    # would only notice at its next request; shutdown ends it now and wakes that thread.
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        conn.close()
    except OSError:
        pass

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
        """Refuse new connections and close the open ones (the node seems to be gone)."""
        self.refuse = True
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _close(conn)

    def restore(self) -> None:
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
                self._conns += [client, upstream]
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
    try:
        conn.close()
    except OSError:
        pass

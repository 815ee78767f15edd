"""Ports on 127.0.0.1 for scripts/run and scripts/elasticsearch: which one to bind, and a single line when the
asked-for one is taken. Standard library only: scripts/elasticsearch runs it with the system's python3.

    python3 scripts/ports.py choose VAR VALUE DEFAULT USER
        The port that USER (e.g. "Elasticsearch", "the API") should bind, on stdout. VALUE is what the variable VAR
        holds ("" when unset). Unset: DEFAULT when it is free, else a free port, and on stderr one line naming
        what holds DEFAULT. "0": a free port. A number: that port when free; else one line on stderr (the port,
        what holds it, the ways out) and exit status 1.
    python3 scripts/ports.py holder PORT
        What holds PORT, as the lines above say it ("" when the port is free).

A port counts as taken when binding 127.0.0.1:PORT fails as it would for the server (SO_REUSEADDR, as
Elasticsearch's netty and gunicorn set it, so connections of an earlier server in TIME_WAIT do not count).
What holds it is told from GET / on it: Elasticsearch answers with its version and cluster name.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys

LOOPBACK = "127.0.0.1"
# What holds a port is asked over HTTP; a holder that accepts connections but never answers must not stall
# the start for long.
ANSWER_SECONDS = 2.0


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _get_root(port: int, tls: bool) -> tuple[int, dict[str, str], bytes]:
    if tls:
        # Only to recognise a secured Elasticsearch: nothing is sent but GET /, so the certificate is not checked.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            LOOPBACK, port, timeout=ANSWER_SECONDS, context=context
        )
    else:
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=ANSWER_SECONDS)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():  # a secured node sends WWW-Authenticate three times
            headers[name.lower()] = f"{headers[name.lower()]}, {value}" if name.lower() in headers else value
        return response.status, headers, response.read(65536)
    finally:
        conn.close()


def _is_elasticsearch(status: int, headers: dict[str, str]) -> bool:
    if headers.get("x-elastic-product") == "Elasticsearch":
        return True
    # A secured node answers 401 without credentials, naming its realm.
    return status == 401 and 'realm="security"' in headers.get("www-authenticate", "")


def holder(port: int) -> tuple[str, str | None]:
    """What holds port, in words ("" when it is free), and the URL of the Elasticsearch that answers there."""
    if is_free(port):
        return "", None
    for scheme in ("http", "https"):
        try:
            status, headers, body = _get_root(port, scheme == "https")
        except TimeoutError:
            break  # it takes the connection but says nothing: no use waiting for a TLS handshake too
        except (OSError, http.client.HTTPException):
            continue  # not HTTP (a TLS server drops plain HTTP): try HTTPS next
        if not _is_elasticsearch(status, headers):
            server = f" ({headers['server']})" if headers.get("server") else ""
            return f"by an HTTP server{server}, not Elasticsearch", None
        url = f"{scheme}://{LOOPBACK}:{port}"
        if status != 200:
            return f"by a secured Elasticsearch ({scheme.upper()})", url
        try:
            root = json.loads(body)
            return f"by Elasticsearch {root['version']['number']} of cluster {root['cluster_name']}", url
        except (ValueError, KeyError, TypeError):
            return "by an Elasticsearch", url
    return "by something that does not answer HTTP", None


def refusal(var: str, port: int) -> str:
    """The line for a port that VAR asked for and that is taken: the port, what holds it, the ways out."""
    words, url = holder(port)
    if var == "ES_PORT":
        use = f"ELASTICSEARCH_URL={url} to use that node" if url else "ELASTICSEARCH_URL to use a node you run"
        return f"ES_PORT={port} is taken ({words}): set ES_PORT=0 to start a node on any free port, or {use}"
    return f"{var}={port} is taken ({words}): set {var}=0 for any free port, or another {var}"


def choose(var: str, value: str, default: int, user: str) -> int:
    if value == "":
        if is_free(default):
            return default
        chosen, words = free_port(), holder(default)[0]
        print(f"port {default} is taken ({words}); {user} uses free port {chosen} instead", file=sys.stderr)
        return chosen
    if not value.isdigit() or int(value) > 65535:
        sys.exit(f"{var} must be a port number (0 = any free port), not '{value}'")
    port = int(value)
    if port == 0:
        return free_port()
    if is_free(port):
        return port
    print(refusal(var, port), file=sys.stderr)
    sys.exit(1)


def main(args: list[str]) -> None:
    if len(args) == 5 and args[0] == "choose" and args[3].isdigit():
        print(choose(args[1], args[2], int(args[3]), args[4]))
    elif len(args) == 2 and args[0] == "holder" and args[1].isdigit():
        print(holder(int(args[1]))[0])
    else:
        sys.exit("usage: ports.py choose VAR VALUE DEFAULT USER | holder PORT")


if __name__ == "__main__":
    main(sys.argv[1:])

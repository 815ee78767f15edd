"""Finding a real Elasticsearch for the tests: ELASTICSEARCH_URL, else testcontainers, else our launcher."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "scripts" / "elasticsearch"
IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.19.0"


class LaunchedNode:
    """A node started by scripts/elasticsearch in its own home directory; can be stopped and restarted."""

    def __init__(self, home: Path, port: int = 0):
        self.home = home
        self.port = port
        self.url: str | None = None

    def _run(self, command: str) -> str:
        env = dict(os.environ, ES_HOME=str(self.home), ES_PORT=str(self.port))
        done = subprocess.run([str(LAUNCHER), command], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/elasticsearch {command} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> str:
        self.url = self._run("start")
        # Keep the port across restarts so clients configured with the URL reconnect.
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def stop(self) -> None:
        self._run("stop")


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no client, no socket, no engine: all mean "no Docker here"
        return False


@contextmanager
def elasticsearch_for_tests(tmp_home: Path) -> Iterator[str]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        yield url.rstrip("/")
        return
    if docker_answers():
        from testcontainers.community.elasticsearch import ElasticSearchContainer

        with ElasticSearchContainer(IMAGE, mem_limit="1g") as container:
            yield container.get_url()
        return
    node = LaunchedNode(tmp_home)
    node.start()
    try:
        yield node.url
    finally:
        node.stop()

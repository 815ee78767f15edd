"""The engine's watches list again when the API server answers 410 Gone (the version to resume from was
compacted away), then go on from the new list's version: shown on the real API server and etcd, with a version
made stale on purpose by compacting etcd past it.

The watch here is of Events because the API server serves them from etcd (no watch cache), so a compaction makes
a version stale at once. The engine's watches of Jobs and pods are the same Watcher; the API server answers them
from its watch cache, whose window only moves on with time and traffic (a 410 after a long disconnection)."""

from __future__ import annotations

import json
import queue
import urllib.request

from kubernetes import client

from tests.kubernetes.conftest import wait_until
from worker.kube_job import MANAGED
from worker.kube_watch import Watcher, list_objects

ETCD = "http://127.0.0.1:12379"  # scripts/kubernetes' etcd: loopback, no TLS


def etcd(path: str, body: dict) -> dict:
    request = urllib.request.Request(ETCD + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def test_a_watch_from_a_compacted_version_lists_again_and_goes_on(kube_api, namespace):
    core = client.CoreV1Api(kube_api)

    def event(name: str) -> None:
        core.create_namespaced_event(
            namespace,
            {
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "scalelogs"}},
                "involvedObject": {"kind": "Namespace", "name": namespace, "namespace": namespace},
                "reason": "Test",
                "message": name,
                "type": "Normal",
            },
        )

    event("before")
    _, stale = list_objects(core.list_namespaced_event, namespace, MANAGED)
    event("between-1")
    event("between-2")  # two writes: the version after `stale` is compacted too
    # What the API server itself does every five minutes, now: etcd forgets every version before its current
    # one. Events are not in the API server's watch cache, so a watch from `stale` reaches etcd: 410 Gone.
    revision = int(etcd("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
    etcd("/v3/kv/compaction", {"revision": revision})
    assert int(stale) + 1 < revision

    events: queue.Queue = queue.Queue()
    watcher = Watcher("event", core.list_namespaced_event, namespace, MANAGED, events)
    watcher.version = stale  # as if resumed after a long disconnection
    watcher.start()
    try:
        kind, change, items = events.get(timeout=30)
        assert (kind, change, watcher.relists) == ("event", "LIST", 1)
        assert sorted(i["metadata"]["name"] for i in items) == ["before", "between-1", "between-2"]
        event("after")
        _, change, obj = events.get(timeout=30)
        assert (change, obj["metadata"]["name"]) == ("ADDED", "after")
        wait_until("the watch to resume from the list's version", lambda: int(watcher.version or 0) > revision)
        assert watcher.relists == 1
    finally:
        watcher.stop()

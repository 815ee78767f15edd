"""The node agent (`python -m ingest kubernetes-node`): ships the job containers' output from the kubelet's CRI
log files on this node, with each line's stream, through the spool and the shipper.

It looks at the kubelet's pod logs folder (<namespace>_<pod>_<uid>/<container>/<restart>.log) every
`interval` seconds, follows the files of the engine's pods (named after their execution: scale-job-<id>x<n>-...)
and, for each new whole line (partial records joined), writes a document with the line's stream, its CRI time
as @timestamp and its number in the file as scale_order_num (so its _id is fixed by the file: shipped twice,
it is stored once). After the lines of a round are durably spooled, each file's checkpoint (offset, lines
before it; ingest/cri_logs.py) is written to the state folder: a restarted agent neither repeats nor loses a
line. A file's checkpoint is removed when the kubelet removes the file.

The job type and its version come from the pod's annotations when the agent can read pods from the API
(KUBECONFIG, or in the cluster its service account); without, lines carry the execution's fields the pod's
name gives (cluster id, job id, execution number).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.cri_logs import Tail
from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.log_writer import LogWriter

log = logging.getLogger("ingest")

_POD_DIR = re.compile(r"(?P<ns>[^_]+)_(?P<pod>scale-job-(?P<job>\d+)x(?P<exe>\d+)-[a-z0-9]+)_(?P<uid>[0-9a-f-]+)")
CONTAINER = "main"
BATCH_LINES = 5000
# A line left in pieces at the end of a file still growing is not finished; one in a file that has not grown
# for this long is, if its container ended (the Kubernetes API says), or after IDLE_WITHOUT_API without one.
IDLE_SECONDS = 1.0
IDLE_WITHOUT_API = 30.0
# (namespace, pod) -> its annotations (None: unknown), e.g. read from the Kubernetes API.
Annotations = Callable[[str, str], dict | None]
# (namespace, pod) -> whether its job container has ended.
Ended = Callable[[str, str], bool]


@dataclass
class Followed:
    tail: Tail
    origin: Origin
    pod: tuple[str, str]  # namespace, name
    size: int = -1
    grown: float = field(default_factory=time.monotonic)


class NodeAgent:
    def __init__(
        self,
        shipper: LogWriter,
        pod_logs: Path,
        state_dir: Path,
        node: str,
        *,
        namespace: str | None = None,
        annotations: Annotations | None = None,
        ended: Ended | None = None,
        max_line_bytes: int = 1024 * 1024,
    ):
        self.shipper = shipper
        self.pod_logs = pod_logs
        self.state_dir = state_dir
        self.node = node
        self.namespace = namespace
        self.annotations = annotations
        self.ended = ended
        self.max_line_bytes = max_line_bytes
        self.tails: dict[str, Followed] = {}  # by checkpoint name
        self.shipped = 0  # lines handed to the shipper
        self.stopping = threading.Event()
        state_dir.mkdir(parents=True, exist_ok=True)

    def run_forever(self, interval: float = 0.2) -> None:
        while not self.stopping.is_set():
            self.round()
            self.stopping.wait(interval)

    def stop(self) -> None:
        self.stopping.set()

    def round(self) -> int:
        """Read every followed file once, ship what is new, move the checkpoints; returns the lines shipped."""
        self._discover()
        shipped = 0
        for key, followed in list(self.tails.items()):
            tail = followed.tail
            before = (tail.offset, tail.lines)
            lines = tail.read()
            if not lines and tail.in_pieces and self._finished(followed):
                lines = tail.finish()
            if lines:
                self._ship(followed.origin, lines)
                shipped += len(lines)
            if (tail.offset, tail.lines) != before:
                self._checkpoint(key, tail)
            if not os.path.exists(tail.path):
                tail.close()
                del self.tails[key]
                (self.state_dir / f"{key}.json").unlink(missing_ok=True)
        self.shipped += shipped
        return shipped

    def _finished(self, followed: Followed) -> bool:
        """The file has not grown for a while and its container ended: a line left in pieces is whole."""
        try:
            size = os.stat(followed.tail.path).st_size
        except FileNotFoundError:
            return True
        if size != followed.size:
            followed.size, followed.grown = size, time.monotonic()
            return False
        idle = time.monotonic() - followed.grown
        if self.ended is None:
            return idle >= IDLE_WITHOUT_API
        return idle >= IDLE_SECONDS and self.ended(*followed.pod)

    def _discover(self) -> None:
        try:
            pods = os.listdir(self.pod_logs)
        except FileNotFoundError:
            return
        for pod_dir in pods:
            m = _POD_DIR.fullmatch(pod_dir)
            if m is None or (self.namespace and m["ns"] != self.namespace):
                continue
            folder = self.pod_logs / pod_dir / CONTAINER
            try:
                files = [f for f in os.listdir(folder) if re.fullmatch(r"\d+\.log", f)]
            except FileNotFoundError:
                continue
            for name in files:
                key = f"{m['uid']}_{CONTAINER}_{name.removesuffix('.log')}"
                if key not in self.tails:
                    self.tails[key] = Followed(
                        self._tail(key, str(folder / name)), self._origin(m), (m["ns"], m["pod"])
                    )

    def _tail(self, key: str, path: str) -> Tail:
        try:
            saved = json.loads((self.state_dir / f"{key}.json").read_text())
            return Tail(path, saved["offset"], saved["lines"], saved.get("inode"))
        except FileNotFoundError:
            return Tail(path)

    def _checkpoint(self, key: str, tail: Tail) -> None:
        path = self.state_dir / f"{key}.json"
        partial = path.with_suffix(".partial")
        checkpoint = {"path": tail.path, "inode": tail.inode, "offset": tail.offset, "lines": tail.lines}
        partial.write_text(json.dumps(checkpoint))
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        partial.replace(path)

    def _origin(self, m: re.Match) -> Origin:
        cluster_id = f"scale_job_{m['job']}x{m['exe']}"
        notes = self.annotations(m["ns"], m["pod"]) if self.annotations else None
        notes = notes or {}
        return Origin(
            cluster_id=cluster_id,
            task=f"{cluster_id}_main",
            node=self.node,
            host=self.node,
            job_type=notes.get("scalelogs.io/job-type", ""),
            job_type_version=notes.get("scalelogs.io/job-type-version", ""),
            job_id=m["job"],
            exe_num=m["exe"],
        )

    def _ship(self, origin: Origin, lines) -> None:
        """Hand the lines to the shipper, which spools them durably before this returns."""
        for start in range(0, len(lines), BATCH_LINES):
            captured = [
                CapturedLine(self._text(line.message), line.stream, line.time_ns, line.order)
                for line in lines[start : start + BATCH_LINES]
            ]
            pairs, ids = bulk_pairs(self.shipper.prefix, origin, captured)
            self.shipper.submit(pairs, ids)

    def _text(self, raw: bytes) -> str:
        if len(raw) > self.max_line_bytes:  # kept whole numbering-wise: one line, cut at the limit
            raw = raw[: self.max_line_bytes]
        return raw.decode("utf-8", errors="replace")


def api_views(kubeconfig: str | None) -> tuple[Annotations | None, Ended | None]:
    """Pod annotations (cached per pod) and whether a pod's job container ended, from the Kubernetes API; (None,
    None) when no API is reachable from here."""
    try:
        from kubernetes import client, config

        if kubeconfig:
            api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        else:
            config.load_incluster_config()
            api = client.CoreV1Api()
    except Exception as exc:  # not in a cluster and no kubeconfig: the pods' names are enough
        log.warning("no Kubernetes API (%s): lines carry no job type", exc)
        return None, None
    cache: dict[tuple[str, str], dict] = {}

    def annotations(namespace: str, pod: str) -> dict | None:
        if (namespace, pod) not in cache:
            try:
                meta = api.read_namespaced_pod(pod, namespace).metadata
            except Exception as exc:
                log.warning("could not read pod %s/%s: %s", namespace, pod, exc)
                return None
            cache[(namespace, pod)] = (meta.annotations if meta else None) or {}
        return cache[(namespace, pod)]

    def ended(namespace: str, pod: str) -> bool:
        try:
            status = api.read_namespaced_pod(pod, namespace).status
        except client.exceptions.ApiException as exc:
            return exc.status == 404  # gone: nothing more will be written
        except Exception:
            return False
        containers = (status.container_statuses if status else None) or []
        return any(c.name == CONTAINER and c.state and c.state.terminated for c in containers)

    return annotations, ended

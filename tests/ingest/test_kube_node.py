"""The node agent on real CRI log files and the real Elasticsearch: each line once with its stream and CRI time,
and an agent restarted from an older checkpoint (it died after shipping, before writing it) repeats nothing."""

from __future__ import annotations

import shutil

from ingest.cri_logs import parse_time_ns
from ingest.kube_node import NodeAgent
from tests.ingest.reading import read_lines

T1, T2 = "2026-12-07T12:00:01.000000001Z", "2026-12-07T12:00:02.5Z"


def write(path, *records: str) -> None:
    with open(path, "a") as f:
        f.writelines(r + "\n" for r in records)


def test_lines_once_with_streams_times_and_job_fields_across_restarts(shipper, es, settings, tmp_path):
    pods = tmp_path / "pods"
    log_file = pods / "jobs_scale-job-5x2-abcde_0b6d3c1e-aaaa-bbbb-cccc-000000000001" / "main" / "0.log"
    log_file.parent.mkdir(parents=True)
    other = pods / "jobs_unrelated-pod_0b6d3c1e-aaaa-bbbb-cccc-000000000002" / "main" / "0.log"
    other.parent.mkdir(parents=True)
    write(other, f"{T1} stdout F not ours")
    write(log_file, f"{T1} stdout F hello", f"{T1} stderr P half ", f"{T2} stdout F between")
    state = tmp_path / "state"
    notes = {"scalelogs.io/job-type": "my-type", "scalelogs.io/job-type-version": "1.2.0"}
    agent = NodeAgent(shipper, pods, state, "node-a", namespace="jobs", annotations=lambda ns, pod: notes)
    assert agent.round() == 2
    before = shutil.copytree(state, tmp_path / "state-before")  # "half " still in pieces here
    write(log_file, f"{T2} stderr F done", f"{T2} stdout F last")
    assert agent.round() == 2
    assert shipper.flush(30)
    # A new agent from the checkpoint of before the last round (as if it died before writing it): the lines read
    # again get the same numbers, so Elasticsearch keeps one of each.
    again = NodeAgent(shipper, pods, before, "node-a", namespace="jobs", annotations=lambda ns, pod: notes)
    assert again.round() == 3  # "between", "half done" and "last" again
    assert shipper.flush(30)
    got = read_lines(es, f"{settings.log_index_prefix}-*", "scale_job_5x2")
    assert [(d["stream"], d["message"], d["scale_order_num"]) for d in got] == [
        ("stdout", "hello", 1),
        ("stdout", "between", 2),
        ("stderr", "half done", 3),
        ("stdout", "last", 4),
    ]
    assert got[0]["@timestamp"].startswith("2026-12-07T12:00:01.000000001")
    assert {(d["scale_job_id"], d["scale_job_exe_num"], d["scale_node"], d["scale_job_type"]) for d in got} == {
        ("5", "2", "node-a", "my-type")
    }
    assert parse_time_ns(T2) > parse_time_ns(T1)
    # The kubelet removed the pod's logs: the checkpoint goes too.
    shutil.rmtree(log_file.parent.parent)
    agent.round()
    assert not list(state.glob("*.json"))

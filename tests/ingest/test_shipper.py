"""The shipper against the real node: replays, refusals, the spool across outages and crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from elasticsearch import Elasticsearch

from ingest.capture import Capture, LocalSequence
from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.shipper import Shipper
from ingest.spool import SUFFIX
from tests.es_node import connection_env
from tests.ingest.reading import read_lines
from tests.reliability.harness import wait_until

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000
DEAD_URL = "http://127.0.0.1:9"  # nothing listens there: Elasticsearch "down"


def lines(n: int, first: int = 1, t0: int = 1_700_000_000 * NS) -> list[CapturedLine]:
    return [CapturedLine(f"line {i}", "stdout", t0 + i, i) for i in range(first, first + n)]


def test_replaying_a_batch_adds_nothing(es, shipper, log_prefix):
    pairs, ids = bulk_pairs(log_prefix, Origin("scale_job_1x1"), lines(300))
    first = shipper.submit(pairs, ids)
    assert shipper.flush(30)
    again = shipper.submit(pairs, ids)
    assert shipper.flush(30)
    assert (first.stored, first.duplicates) == (300, 0)
    assert (again.stored, again.duplicates, again.errors) == (0, 300, [])
    got = read_lines(es, f"{log_prefix}-*", "scale_job_1x1")
    assert [d["scale_order_num"] for d in got] == list(range(1, 301))
    assert shipper.spool.pending_files() == [] or all(p.stat().st_size == 0 for p in shipper.spool.pending_files())


def test_a_refused_line_is_surfaced_and_the_others_stored(es, shipper, log_prefix):
    pairs, ids = bulk_pairs(log_prefix, Origin("scale_job_2x1"), lines(3))
    action, source = pairs[1]
    pairs[1] = (action, source.replace(b'"scale_order_num":2', b'"scale_order_num":"two"'))
    batch = shipper.submit(pairs, ids)
    assert shipper.flush(30)
    assert (batch.stored, batch.duplicates) == (2, 0)
    assert [(e["line"], e["status"], e["error"]["type"]) for e in batch.errors] == [
        (2, 400, "document_parsing_exception")
    ]
    assert shipper.error_count == 1
    assert [d["message"] for d in read_lines(es, f"{log_prefix}-*", "scale_job_2x1")] == ["line 1", "line 3"]


def test_parallel_streams_store_every_line_once_and_place_each_refusal(service_es, es, settings, log_prefix):
    # Small requests over three streams: the group goes out as many bulk requests side by side, and each
    # refusal still lands on its own batch and line.
    shipper = Shipper(service_es, log_prefix, settings.spool_dir, chunk_size=50, streams=3, backoff=(0.1, 1.0))
    try:
        batches = []
        for exe in (1, 2):
            pairs, ids = bulk_pairs(log_prefix, Origin(f"scale_job_{exe}x1"), lines(1000))
            action, source = pairs[exe * 300]
            pairs[exe * 300] = (action, source.replace(b'"scale_order_num":', b'"scale_order_num":"x'))
            batches.append(shipper.submit(pairs, ids))
        assert shipper.flush(60)
    finally:
        shipper.close(timeout=5)
    assert [(b.stored, b.duplicates) for b in batches] == [(999, 0), (999, 0)]
    assert [[e["line"] for e in b.errors] for b in batches] == [[301], [601]]
    for exe in (1, 2):
        got = [d["scale_order_num"] for d in read_lines(es, f"{log_prefix}-*", f"scale_job_{exe}x1")]
        assert got == [n for n in range(1, 1001) if n != exe * 300 + 1]


def test_lines_spooled_while_elasticsearch_is_down_are_shipped_by_the_next_process(es, settings, log_prefix):
    down = Shipper(Elasticsearch(DEAD_URL), log_prefix, settings.spool_dir, backoff=(0.05, 0.2))
    capture = Capture(down, Origin("scale_job_3x1"), LocalSequence())
    capture.feed("stdout", b"".join(b"spooled %d\n" % i for i in range(1, 2001)))
    capture.close()
    assert down.flush(1.0) is False  # nothing can be shipped...
    assert down.close(timeout=0.5) is False
    files = list(settings.spool_dir.glob("*" + SUFFIX))
    assert files and sum(f.stat().st_size for f in files) > 2000 * 20  # ...so it all waits on disk
    assert read_lines(es, f"{log_prefix}-*", "scale_job_3x1") == []

    # A torn record at the end (the writer died mid-append) is ignored, not shipped and not fatal.
    with open(files[-1], "ab") as f:
        f.write(b"SLR1\x00\x00\x10\x00garbage")
    up = Shipper(es, log_prefix, settings.spool_dir)  # adopts the dead writer's segments at once
    # Adopted at construction (not at the next orphan scan, 30 s later): the flush waits for them, and this
    # shipper stored all 2,000 (pending_lines is not read: the shipper's thread may have shipped some already).
    assert up.flush(30)
    assert (up.stored, up.duplicates, up.error_count) == (2000, 0, 0)
    up.close()
    got = read_lines(es, f"{log_prefix}-*", "scale_job_3x1")
    assert [d["message"] for d in got] == [f"spooled {i}" for i in range(1, 2001)]
    assert [d["scale_order_num"] for d in got] == list(range(1, 2001))
    assert list(settings.spool_dir.glob("*" + SUFFIX)) == []


def test_segments_of_a_process_that_stops_later_are_shipped_by_an_idle_shipper(es, settings, log_prefix):
    # A reload: the new worker starts while the old one still holds its segments (locked: not adoptable yet), then
    # the old one exits with lines Elasticsearch did not take in time. The new one is never sent a line itself.
    old = Shipper(Elasticsearch(DEAD_URL), log_prefix, settings.spool_dir, backoff=(0.05, 0.2))
    capture = Capture(old, Origin("scale_job_4x1"), LocalSequence())
    capture.feed("stdout", b"".join(b"left %d\n" % i for i in range(1, 101)))
    capture.close()
    new = Shipper(es, log_prefix, settings.spool_dir, orphan_scan_seconds=0.2)
    try:
        assert new.stored == 0 and new.pending_lines == 0  # the old process's segments were locked
        assert old.close(timeout=0.5) is False  # they stay on disk, unlocked
        wait_until(lambda: new.stored == 100, 30, what="the idle shipper's orphan scan shipping the lines")
    finally:
        new.close()
    got = read_lines(es, f"{log_prefix}-*", "scale_job_4x1")
    assert [d["message"] for d in got] == [f"left {i}" for i in range(1, 101)]
    assert list(settings.spool_dir.glob("*" + SUFFIX)) == []


def ship_process(settings, url: str, *args: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        **connection_env(url),
        LOG_INDEX_PREFIX=settings.log_index_prefix,
        SPOOL_DIR=str(settings.spool_dir),
        DATA_DIR=str(settings.data_dir),
        PYTHONPATH=str(ROOT),
        DATABASE_URL=settings.database_url,
        API_TOKEN="unused",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def accepted_after(proc: subprocess.Popen, at_least: int) -> int:
    """Read the shipper's "accepted <n>" reports until n >= at_least; returns n."""
    while True:
        line = proc.stderr.readline().decode()
        assert line, "the shipper ended early"
        if line.startswith("accepted "):
            n = int(line.split()[1])
            if n >= at_least:
                return n


def kill_mid_run_then_drain(es, settings, url: str, cluster_id: str) -> None:
    proc = ship_process(settings, url, "ship", "--cluster-id", cluster_id, "--first-order", "1", "--progress", "-")
    sent = 0
    try:
        # Feed in bursts; each burst is accepted (spooled) before the next, then kill without warning.
        for _burst in range(4):
            proc.stdin.write(b"".join(b"kill test %d\n" % i for i in range(sent + 1, sent + 4001)))
            proc.stdin.flush()
            sent += 4000
            accepted = accepted_after(proc, sent)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
    assert accepted == sent == 16000
    drain = ship_process(settings, es.transport.node_pool.get().base_url, "drain", "--wait", "60")
    _out, err = drain.communicate(timeout=120)
    assert drain.returncode == 0, err
    got = read_lines(es, f"{settings.log_index_prefix}-*", cluster_id)
    # Everything it had accepted, once each, in order.
    assert [d["scale_order_num"] for d in got] == list(range(1, accepted + 1))
    assert [d["message"] for d in got] == [f"kill test {i}" for i in range(1, accepted + 1)]


def test_sigkilled_shipper_loses_nothing_it_accepted_while_shipping(es, settings, elasticsearch_url):
    kill_mid_run_then_drain(es, settings, elasticsearch_url, "scale_job_4x1")


def test_sigkilled_shipper_loses_nothing_it_accepted_while_elasticsearch_was_down(es, settings):
    kill_mid_run_then_drain(es, settings, DEAD_URL, "scale_job_5x1")


def test_cli_ships_a_file_and_replaying_it_adds_nothing(es, settings, elasticsearch_url, tmp_path):
    path = tmp_path / "out.log"
    path.write_bytes(b"first\n\nthird \xff\xfe\n" + b"x" * 100_000 + b"\nno newline at the end")
    for expected in ({"lines": 5, "stored": 5, "duplicates": 0}, {"lines": 5, "stored": 0, "duplicates": 5}):
        proc = ship_process(
            settings,
            elasticsearch_url,
            "ship",
            "--cluster-id",
            "scale_job_6x1",
            "--first-order",
            "1",
            "--stream",
            "stderr",
            str(path),
        )
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        summary = json.loads(out)
        assert {k: summary[k] for k in expected} == expected
    got = read_lines(es, f"{settings.log_index_prefix}-*", "scale_job_6x1")
    assert [d["message"] for d in got] == ["first", "", "third \ufffd\ufffd", "x" * 100_000, "no newline at the end"]
    assert {d["stream"] for d in got} == {"stderr"}


def test_cli_ship_for_an_execution_takes_numbers_and_fields_from_the_database(
    es, settings, elasticsearch_url, execution
):
    exe = execution
    for stream, text in (("stdout", b"out 1\nout 2\n"), ("stderr", b"err 1\n")):
        proc = ship_process(settings, elasticsearch_url, "ship", "--exe", str(exe.id), "--stream", stream, "-")
        _out, err = proc.communicate(text, timeout=60)
        assert proc.returncode == 0, err
    got = read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)
    assert [(d["scale_order_num"], d["stream"], d["message"]) for d in got] == [
        (1, "stdout", "out 1"),
        (2, "stdout", "out 2"),
        (3, "stderr", "err 1"),
    ]
    assert {(d["scale_node"], d["scale_job_id"], d["scale_job_exe_num"]) for d in got} == {
        ("node-1", str(exe.job_id), "1")
    }

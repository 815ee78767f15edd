"""Elasticsearch stopped while lines are being shipped, then started again: every line exactly once."""

from __future__ import annotations

import threading
import time

import pytest

from core.elastic import elasticsearch_client
from ingest.capture import Capture, LocalSequence
from ingest.documents import Origin
from ingest.shipper import Shipper
from settings import Settings
from tests.ingest.reading import read_lines

# A shipper and a node of its own, no database (Settings' database_url is empty): on PostgreSQL it would run exactly
# as on SQLite, so that run of CI leaves it out.
pytestmark = pytest.mark.sql_free


@pytest.mark.slow
def test_elasticsearch_restart_mid_shipping_keeps_every_line_once(own_node, tmp_path):
    es = own_node.connection.admin(request_timeout=30)
    # The product's client, as the service configures it (on a secured node: the service's API key).
    service = Settings(data_dir=tmp_path, database_url="", **own_node.connection.settings_changes())
    shipper = Shipper(
        elasticsearch_client(service, patient=True), "test-restart", tmp_path / "spool", backoff=(0.1, 0.5)
    )
    capture = Capture(shipper, Origin("scale_job_7x1"), LocalSequence(), linger=0.05)
    total = 0
    stop_feeding = threading.Event()

    def feed() -> None:
        nonlocal total
        while not stop_feeding.is_set():
            capture.feed("stdout", b"".join(b"restart %d\n" % i for i in range(total + 1, total + 501)))
            total += 500
            time.sleep(0.02)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        time.sleep(0.5)
        own_node.stop()  # while the feeder keeps going and batches are in flight
        time.sleep(0.5)
        assert shipper.pending_lines > 0 and shipper.last_failure  # it noticed, and kept the lines
    finally:
        stop_feeding.set()
        feeder.join()
    capture.close()
    own_node.start()
    assert shipper.flush(90), shipper.last_failure
    shipper.close()
    got = read_lines(es, "test-restart-*", "scale_job_7x1")
    assert total > 5000
    assert [d["scale_order_num"] for d in got] == list(range(1, total + 1))
    assert [d["message"] for d in got] == [f"restart {i}" for i in range(1, total + 1)]
    assert shipper.error_count == 0

"""The index template, the Kibana data view, and documents as Scale's Fluentd wrote them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.template import ensure_template, template_name
from tests.es_node import connection_env
from tests.ingest.legacy_docs import write_legacy_docs
from tests.ingest.reading import read_lines
from tests.search.helpers import lines_of

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000


def test_template_is_put_once_and_shapes_only_daily_indices(es, log_prefix):
    assert ensure_template(es, log_prefix) is True
    assert ensure_template(es, log_prefix) is False  # unchanged: not put again
    es.indices.create(index=f"{log_prefix}-2024.01.02")
    es.indices.create(index=f"{log_prefix}-legacy-2019.01.01")
    ours = es.indices.get_mapping(index=f"{log_prefix}-2024.01.02")[f"{log_prefix}-2024.01.02"]["mappings"]
    props = ours["properties"]
    assert props["@timestamp"] == {"type": "date_nanos"}
    assert props["scale_order_num"] == {"type": "long", "copy_to": ["event.sequence"]}
    assert props["event"]["properties"]["sequence"] == {"type": "long"}
    # message.keyword serves regex= (search.patterns): whole lines up to 8191 characters, no doc values.
    assert props["message"] == {
        "type": "text",
        "fields": {"keyword": {"type": "keyword", "ignore_above": 8191, "doc_values": False}},
    }
    for name in ("stream", "scale_job_exe"):
        assert props[name] == {"type": "keyword", "fields": {"keyword": {"type": "keyword"}}}
    for name in (
        "scale_task",
        "scale_node",
        "host",
        "scale_job_type",
        "scale_job_version",
        "scale_job_id",
        "scale_job_exe_num",
    ):
        assert props[name] == {"type": "keyword"}, name
    other = es.indices.get_mapping(index=f"{log_prefix}-legacy-2019.01.01")[f"{log_prefix}-legacy-2019.01.01"]
    assert other["mappings"] == {}


def test_apply_template_command(es, settings):
    env = dict(
        os.environ,
        **connection_env(settings.elasticsearch_url),
        LOG_INDEX_PREFIX=settings.log_index_prefix,
        DATA_DIR=str(settings.data_dir),
        API_TOKEN="unused",
        PYTHONPATH=str(ROOT),
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "ingest", "apply-template"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outputs == ["template applied", "template already current"]
    assert es.indices.get_index_template(name=template_name(settings.log_index_prefix))["index_templates"]


def test_long_lines_whole_and_event_sequence_searchable(es, shipper, log_prefix):
    long_message = "x" * 100_000 + " needle"
    lines = [
        CapturedLine("short", "stdout", 1_700_000_000 * NS, 1),
        CapturedLine(long_message, "stderr", 1_700_000_000 * NS, 2),
    ]
    shipper.submit(*bulk_pairs(log_prefix, Origin("scale_job_9x1"), lines))
    assert shipper.flush(30)
    es.indices.refresh(index=f"{log_prefix}-*")
    hits = es.search(index=f"{log_prefix}-*", query={"match": {"message": "needle"}})["hits"]["hits"]
    assert [h["_source"]["message"] for h in hits] == [long_message]
    hits = es.search(index=f"{log_prefix}-*", query={"range": {"event.sequence": {"gte": 2}}})["hits"]["hits"]
    assert [h["_source"]["scale_order_num"] for h in hits] == [2]


def test_kibana_data_view_names_the_indices_and_time_field():
    lines = (ROOT / "mappings" / "kibana-data-view.ndjson").read_text().splitlines()
    views = [json.loads(line) for line in lines if line.strip()]
    assert [(v["type"], v["attributes"]["title"], v["attributes"]["timeFieldName"]) for v in views] == [
        ("index-pattern", "scalelogs-*", "@timestamp")
    ]


def test_scale_fluentd_documents_and_ours_answer_the_same_read_query(es, shipper, log_prefix):
    cluster_id = "scale_job_42x1"
    start = datetime(2019, 6, 1, 23, 59, 59, 999_000, tzinfo=UTC)  # crosses a second (and a day)
    legacy_index = f"{log_prefix}-legacy-2019.06.01"
    legacy = write_legacy_docs(
        es,
        legacy_index,
        cluster_id,
        [("stdout" if i % 3 else "stderr", f"old {i}") for i in range(12)],
        start,
        step=timedelta(microseconds=250),
        job_id=42,
    )
    # Dynamic mapping, as Scale had it: strings are text + .keyword, the time a millisecond date.
    mapping = es.indices.get_mapping(index=legacy_index)[legacy_index]["mappings"]["properties"]
    assert mapping["scale_job_exe"]["type"] == "text" and mapping["scale_job_exe"]["fields"]["keyword"]
    assert mapping["@timestamp"]["type"] == "date" and mapping["scale_order_num"]["type"] == "long"
    # The nanosecond fractions are not a sequence: they wrap at the second.
    assert [d["scale_order_num"] for d in legacy] != sorted(d["scale_order_num"] for d in legacy)

    later = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * NS
    ours = [CapturedLine(f"new {i}", "stdout", later, i + 1) for i in range(3)]
    shipper.submit(*bulk_pairs(log_prefix, Origin(cluster_id, job_id="42", exe_num="1"), ours))
    assert shipper.flush(30)

    got = read_lines(es, f"{log_prefix}-*", cluster_id)
    assert [d["message"] for d in got] == [f"old {i}" for i in range(12)] + ["new 0", "new 1", "new 2"]
    assert {d["_index"] for d in got} == {legacy_index, f"{log_prefix}-2024.01.01"}
    stderr = read_lines(es, f"{log_prefix}-*", cluster_id, "stderr")
    assert [d["message"] for d in stderr] == [f"old {i}" for i in range(0, 12, 3)]


def test_the_service_reads_legacy_and_posted_lines_of_one_execution_in_order(client, auth, es, settings, execution):
    exe = execution
    legacy_index = f"{settings.log_index_prefix}-legacy-2019.06.01"
    write_legacy_docs(
        es,
        legacy_index,
        exe.cluster_id,
        [("stdout", "legacy 1"), ("stderr", "legacy 2")],
        exe.started + timedelta(milliseconds=1),
        job_id=exe.job_id,
    )
    body = b"".join(json.dumps({"message": f"posted {i}", "stream": "stdout"}).encode() + b"\n" for i in (1, 2))
    resp = client.simulate_post(f"/v6/job-executions/{exe.id}/logs/", body=body, headers=auth)
    assert resp.status_code == 202
    es.indices.refresh(index=f"{settings.log_index_prefix}-*")
    resp = client.simulate_get(f"/v6/job-executions/{exe.id}/logs/combined/", params={"format": "json"})
    assert resp.status_code == 200, resp.text
    lines = lines_of(resp.json)
    assert [(line["message"], line["stream"]) for line in lines] == [
        ("legacy 1", "stdout"),
        ("legacy 2", "stderr"),
        ("posted 1", "stdout"),
        ("posted 2", "stdout"),
    ]

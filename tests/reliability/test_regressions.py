"""Small, deterministic reproductions of what the fuzzing and property tests found (each was a 500)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest
from tests.reliability.harness import assert_clean_error
from tests.reliability.seed import seed_jobs

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INT64_MAX = 2**63 - 1


@pytest.fixture
def seeded(stores):
    return seed_jobs(stores, types=1, jobs=2, running=1, finished=0)


@pytest.mark.parametrize(
    "path",
    [
        "/v6/job-types/",
        "/v6/jobs/",
        "/v6/jobs/{job}/executions/",
        "/v6/jobs/{job}/input_files/",
        "/v6/logs/",
        "/v6/jobs/{job}/logs/",
    ],
)
@pytest.mark.parametrize("page,size", [(INT64_MAX, 100), (2**62, 1000), (92233720368547758, 1000)])
def test_a_page_far_past_the_end_is_404_not_500(make_client, seeded, path, page, size):
    """page and page_size are valid integers (the document allows up to 2**63-1), but their offset is not."""
    client = make_client()
    r = client.simulate_get(path.format(job=seeded.job_ids[0]), params={"page": page, "page_size": size})
    assert r.status_code == 404, (path, page, size, r.status_code)  # api/pagination.py: a page past the end
    assert_clean_error(r.content, r.status_code)


@pytest.mark.parametrize("where", ["job.timeout", "job.maintainer", "extra"])
def test_an_integer_beyond_64_bits_in_a_manifest_is_400_not_500(make_client, where):
    client = make_client()
    m = manifest()
    if where == "job.timeout":
        m["job"]["timeout"] = 2**70
    elif where == "job.maintainer":
        m["job"]["maintainer"] = {"name": "x", "phone": 2**70}
    else:
        m["x-extra"] = [2**70]
    r = client.simulate_post("/v6/job-types/", json={"docker_image": "img:1", "manifest": m}, headers=ADMIN)
    assert r.status_code == 400, (where, r.status_code, r.text)
    assert_clean_error(r.content, 400)
    # Nothing was stored by the refused request.
    assert client.simulate_get("/v6/job-types/").json["count"] == 0


@pytest.mark.parametrize("text", ["with\x00nul", "lone \udb72 surrogate"])
def test_text_a_database_cannot_store_is_400_not_500(make_client, text):
    """Found by schemathesis on PostgreSQL: a NUL in a manifest description was a 500."""
    client = make_client()
    m = manifest()
    m["job"]["description"] = text
    body = json.dumps({"docker_image": "img:1", "manifest": m})  # escapes keep the lone surrogate
    r = client.simulate_post("/v6/job-types/", body=body, headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json["detail"].endswith('text: "manifest.job.description"')
    assert client.simulate_get("/v6/job-types/").json["count"] == 0


def test_an_integer_beyond_64_bits_in_job_input_is_400_not_500(make_client, seeded):
    """{"x": ...} is not a valid configuration whatever its value (CONFIGURATION_SCHEMA has additionalProperties:
    false): always 400, and nothing stored; it was a 500 whose body could not be serialized."""
    client = make_client()
    before = client.simulate_get("/v6/jobs/").json["count"]
    r = client.simulate_post(
        "/v6/jobs/",
        json={"job_type_id": seeded.job_type_ids[0], "input": {"files": {}, "json": {}}, "configuration": {"x": 2**70}},
        headers=ADMIN,
    )
    assert r.status_code == 400, r.text
    assert_clean_error(r.content, 400)
    assert client.simulate_get("/v6/jobs/").json["count"] == before


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_at_the_edge_of_the_calendar_is_400_not_500(make_client, value):
    client = make_client()
    for path in ("/v6/jobs/", "/v6/logs/"):
        r = client.simulate_get(path, params={"started": value})
        assert r.status_code == 400, (path, value, r.status_code)
        assert r.json["detail"] == "Invalid ISO timestamp format for parameter: started"


def test_reads_keep_answering_while_a_new_daily_index_is_created(make_client, stores):
    """The first line of a new UTC day creates that day's index; searches running at that moment must not fail
    (every midnight, in production). Seen in the soak: 503 search_phase_execution_exception."""
    import json
    import threading
    import time
    from datetime import UTC, datetime

    from tests.jobs.conftest import FrozenClock

    # The app's clock moves a day a post: an executor may only stamp lines up to now (ingest.posting_window).
    clock = FrozenClock(datetime.now(UTC))
    client = make_client(clock=clock)
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def reader(path: str) -> None:
        while not stop.is_set():
            try:
                r = client.simulate_get(path)
                reads[0] += 1
                if r.status_code not in (200, 204):
                    failures.append(f"{path} {r.status_code} {r.text[:120]}")
            except Exception as exc:
                failures.append(f"{path} {exc!r}")
                return

    paths = [
        "/v6/logs/?q=x",
        f"/v6/job-executions/{exe.id}/logs/combined/?limit=10",
        f"/v6/jobs/{exe.job_id}/logs/",
        "/v6/logs/",
    ]
    threads = [threading.Thread(target=reader, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    try:
        for _ in range(8):  # eight new daily indices
            line = {"message": "x", "stream": "stdout", "@timestamp": clock.advance(days=1).isoformat()}
            r = client.simulate_post(
                f"/v6/job-executions/{exe.id}/logs/",
                body=(json.dumps(line) + "\n").encode(),
                headers={**ADMIN, "Content-Type": "application/x-ndjson"},
            )
            assert r.status_code == 202, r.text
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert reads[0] > 20
    assert not failures, f"{len(failures)} of {reads[0]} reads failed, e.g. {failures[:3]}"


@pytest.mark.parametrize(
    "path, status",
    [
        ("/v6/jobs/{job}/executions/2147483648/", 404),
        ("/v6/jobs/{job}/executions/654587159148894/", 404),
        ("/v6/jobs/{job}/executions/?node_id=60896050905", 200),
        ("/v6/jobs/{job}/executions/?error_id=9223372036854775807", 200),
        ("/v6/jobs/?job_type_id=9223372036854775807&error_id=9223372036854775807", 200),
    ],
)
def test_ids_beyond_the_column_range_are_404_or_empty_not_500(make_client, seeded, path, status):
    """The routes accept ids up to 2**63-1; PostgreSQL's 32-bit columns (exe_num, ...) must not turn that into a 500.
    An execution number no execution has is 404; a filter no row matches is an empty list."""
    client = make_client()
    r = client.simulate_get(path.format(job=seeded.job_ids[0]))
    assert r.status_code == status, (path, r.status_code, r.text)
    if status == 200:
        assert r.json["count"] == 0 and r.json["results"] == []
    else:
        assert_clean_error(r.content, status)


@pytest.mark.parametrize(
    "query, name",
    [
        ("/v6/jobs/?job_type_name=a%00b", "job_type_name"),
        ("/v6/jobs/?source_task=a%00b", "source_task"),
        ("/v6/jobs/?source_sensor=a%00b", "source_sensor"),
        ("/v6/jobs/?status=QUEUED%00", "status"),
        ("/v6/jobs/?order=id%00", "order"),
        ("/v6/job-types/?keyword=a%00b", "keyword"),
    ],
)
def test_a_nul_character_in_a_query_parameter_is_400_not_500(make_client, seeded, query, name):
    """PostgreSQL text cannot hold NUL: a %00 from a client must not reach it as a query value (it did: 500).
    Every parameter refuses it, naming the parameter."""
    client = make_client()
    r = client.simulate_get(query)
    assert r.status_code == 400, (query, r.status_code, r.text)
    assert r.json == {
        **{"detail": f'Parameter must not contain NUL characters: "{name}"'},
        "request_id": r.headers["X-Request-ID"],
    }

"""GET /v6/jobs/: every filter alone and combined, ordering, pagination links and parameter errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.jobs.helpers import MIB, add_job_type, finish, ids, manifest, queue, start

D = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)  # noqa: E731


@pytest.fixture
def jobs(api, auth, stores, clock, refs) -> dict[str, int]:
    """Five jobs; the comments give the frozen clock's time at each step."""
    alpha = add_job_type(
        api,
        auth,
        manifest(
            "alpha",
            files=[{"name": "f", "required": False}],
            errors=[{"code": 1, "name": "bad-data", "category": "data"}],
        ),
    )
    beta = add_job_type(api, auth, manifest("beta", "2.0.0", files=[{"name": "f", "required": False}]))
    ws = refs.add_workspace("ws")
    f1 = refs.add_file(
        ws,
        "one.dat",
        MIB,
        source_sensor_class="A",
        source_sensor="1",
        source_collection="c1",
        source_task="t1",
        source_started=D("2019-01-01"),
        source_ended=D("2019-01-02"),
    )
    f2 = refs.add_file(
        ws,
        "two.dat",
        2 * MIB,
        source_sensor_class="B",
        source_sensor="2",
        source_collection="c2",
        source_task="t2",
        source_started=D("2019-02-01"),
        source_ended=D("2019-02-02"),
    )
    batch = refs.add_batch("My Batch", "batch of recipes")
    recipe = refs.add_recipe("my-recipe", batch_id=batch)
    out = {"alpha": alpha["id"], "beta": beta["id"], "batch": batch, "recipe": recipe}

    clock.advance(minutes=1)  # 00:01
    out["queued"] = stores.jobs.create_job(alpha["id"], {"files": {"f": [f1]}}, recipe_id=recipe, batch_id=batch)
    clock.advance(minutes=1)  # 00:02
    out["completed"] = queue(api, auth, beta["id"], {"files": {"f": [f2]}})["id"]
    exe = start(api, auth, out["completed"])
    clock.advance(minutes=10)  # 00:12: ran 10 minutes
    finish(api, auth, exe["id"], "COMPLETED")
    clock.advance(minutes=1)  # 00:13
    out["failed"] = queue(api, auth, alpha["id"], {})["id"]
    exe = start(api, auth, out["failed"])
    clock.advance(minutes=1)  # 00:14: ran 1 minute
    finish(api, auth, exe["id"], "FAILED", error={"name": "bad-data"})
    clock.advance(minutes=1)  # 00:15
    out["canceled"] = queue(api, auth, beta["id"], {})["id"]
    api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [out["canceled"]]}, headers=auth)
    clock.advance(minutes=1)  # 00:16: supersedes "failed", which is touched again
    out["new"] = stores.jobs.create_job(alpha["id"], {}, superseded_job_id=out["failed"])
    out["error"] = api.simulate_get(f"/v6/jobs/{out['failed']}/").json["error"]["id"]
    return out


def listed(api, query: str = "") -> list[int]:
    r = api.simulate_get("/v6/jobs/", query_string=query)
    assert r.status_code == 200, r.json
    assert r.json["count"] == len(r.json["results"])
    return ids(r)


def test_default_order_is_last_modified_then_id(api, jobs):
    assert listed(api) == [jobs[n] for n in ("queued", "completed", "canceled", "failed", "new")]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("started=2020-01-01T00:13:00Z", {"canceled", "failed", "new"}),
        ("ended=2020-01-01T00:12:00Z", {"queued", "completed"}),
        ("started=2020-01-01T00:12:00Z&ended=2020-01-01T00:15:00Z", {"completed", "canceled"}),
        ("source_started=2019-01-15T00:00:00Z", {"completed"}),
        ("source_ended=2019-01-15T00:00:00Z", {"queued"}),
        ("source_sensor_class=A", {"queued"}),
        ("source_sensor_class=A&source_sensor_class=B", {"queued", "completed"}),
        ("source_sensor=2", {"completed"}),
        ("source_collection=c1", {"queued"}),
        ("source_task=t2", {"completed"}),
        ("source_tasks=t1", {"queued"}),
        ("source_task=t1&source_tasks=t2", {"queued", "completed"}),
        ("status=QUEUED", {"queued", "new"}),
        ("status=COMPLETED&status=CANCELED", {"completed", "canceled"}),
        ("status=PENDING", set()),
        ("job_type_name=beta", {"completed", "canceled"}),
        ("is_superseded=true", {"failed"}),
        ("is_superseded=false", {"queued", "completed", "canceled", "new"}),
        ("error_category=DATA", {"failed"}),
        ("error_category=SYSTEM", set()),
        ("status=QUEUED&job_type_name=alpha&is_superseded=false", {"queued", "new"}),
        ("status=QUEUED&source_sensor_class=A", {"queued"}),
        ("job_type_name=beta&started=2020-01-01T00:13:00Z", {"canceled"}),
    ],
)
def test_filters(api, jobs, query, expected):
    assert set(listed(api, query)) == {jobs[n] for n in expected}


@pytest.mark.parametrize(
    "param, names",
    [
        ("job_id", ("queued", "new")),
        ("job_type_id", ("beta",)),
        ("batch_id", ("batch",)),
        ("recipe_id", ("recipe",)),
        ("error_id", ("error",)),
    ],
)
def test_id_filters(api, jobs, param, names):
    expected = {
        "job_id": {"queued", "new"},
        "job_type_id": {"completed", "canceled"},
        "batch_id": {"queued"},
        "recipe_id": {"queued"},
        "error_id": {"failed"},
    }[param]
    query = "&".join(f"{param}={jobs[n]}" for n in names)
    assert set(listed(api, query)) == {jobs[n] for n in expected}
    assert listed(api, f"{param}=987654") == []


def test_duration_is_now_minus(api, jobs, clock):
    assert clock.now == D("2020-01-01T00:16:00")
    assert set(listed(api, "started=PT3M")) == {jobs["canceled"], jobs["failed"], jobs["new"]}
    assert set(listed(api, "started=PT0H3M0S&ended=PT1M")) == {jobs["canceled"]}
    assert set(listed(api, "ended=P1D")) == set()


@pytest.mark.parametrize(
    "order, expected",
    [
        ("order=-last_modified", ["failed", "new", "canceled", "completed", "queued"]),  # tie: id
        ("order=-created", ["new", "canceled", "failed", "completed", "queued"]),
        ("order=status", ["canceled", "completed", "failed", "queued", "new"]),
        ("order=job_type__name&order=-id", ["new", "failed", "queued", "canceled", "completed"]),
        ("order=-job_type__version&order=created", ["completed", "canceled", "queued", "failed", "new"]),
        ("order=-duration&order=id", ["queued", "canceled", "new", "completed", "failed"]),  # NULLs first
        ("order=duration", ["failed", "completed", "queued", "canceled", "new"]),
        ("order=error__category&order=-id", ["failed", "new", "canceled", "completed", "queued"]),
    ],
)
def test_order(api, jobs, order, expected):
    assert listed(api, order) == [jobs[n] for n in expected]


def test_unknown_order_field_is_400_naming_it(api, jobs):
    r = api.simulate_get("/v6/jobs/", query_string="order=created&order=-colour")
    assert (r.status_code, r.json["detail"]) == (400, 'Invalid order field: "colour"')
    r = api.simulate_get("/v6/jobs/", query_string="order=job_type__manifest")
    assert (r.status_code, r.json["detail"]) == (400, 'Invalid order field: "job_type__manifest"')


def test_next_and_previous_links(api, jobs, make_client):
    r = api.simulate_get("/v6/jobs/", query_string="status=QUEUED&status=CANCELED&page_size=1&order=id")
    assert list(r.json) == ["count", "next", "previous", "results"]
    assert (
        r.json["next"]
        == "http://falconframework.org/v6/jobs/?order=id&page=2&page_size=1&status=QUEUED&status=CANCELED"
    )
    assert r.json["previous"] is None
    r = api.simulate_get("/v6/jobs/", query_string="page_size=1&page=3&status=QUEUED&status=CANCELED&order=id")
    assert r.json["next"] is None
    assert (
        r.json["previous"]
        == "http://falconframework.org/v6/jobs/?order=id&page=2&page_size=1&status=QUEUED&status=CANCELED"
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scale.example.com"}
    # Behind our own proxy (TRUST_X_FORWARDED_HOST=1) the links are the proxy's.
    r = make_client(trust_forwarded_host=True).simulate_get(
        "/v6/jobs/", query_string="page=2&page_size=2", headers=forwarded
    )
    assert ids(r) == [jobs["canceled"], jobs["failed"]]
    assert r.json["previous"] == "https://scale.example.com/v6/jobs/?page_size=2"
    assert r.json["next"] == "https://scale.example.com/v6/jobs/?page=3&page_size=2"
    # Otherwise a client's forwarded headers can't point them anywhere.
    r = api.simulate_get("/v6/jobs/", query_string="page=2&page_size=2", headers=forwarded)
    assert r.json["next"] == "http://falconframework.org/v6/jobs/?page=3&page_size=2"


def test_page_errors(api, jobs):
    for query in ("page=4&page_size=2", "page=0", "page=-1", "page=x"):
        r = api.simulate_get("/v6/jobs/", query_string=query)
        assert (r.status_code, r.json["detail"]) == (404, "Invalid page."), query
    for query in ("page_size=0", "page_size=x"):
        r = api.simulate_get("/v6/jobs/", query_string=query)
        assert (r.status_code, r.json["detail"]) == (400, 'Parameter must be a valid integer: "page_size"')
    assert api.simulate_get("/v6/jobs/", query_string="page_size=5000").json["count"] == 5
    r = api.simulate_get("/v6/jobs/", query_string="status=DONE&page=99")
    assert r.status_code == 400  # parameters are validated before the page


def test_empty_first_page_is_fine(api):
    r = api.simulate_get("/v6/jobs/")
    assert r.json == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    "query, detail",
    [
        (
            "status=DONE",
            "Parameter \"status\" values must be one of: ['PENDING', 'BLOCKED', 'QUEUED', 'RUNNING', "
            "'FAILED', 'COMPLETED', 'CANCELED']",
        ),
        ("error_category=USER", "Parameter \"error_category\" values must be one of: ['SYSTEM', 'DATA', 'ALGORITHM']"),
        ("job_id=", 'Parameter must be a valid integer: "job_id"'),
        ("job_type_id=one", 'Parameter must be a valid integer: "job_type_id"'),
        ("batch_id=1.5", 'Parameter must be a valid integer: "batch_id"'),
        ("recipe_id=x", 'Parameter must be a valid integer: "recipe_id"'),
        ("error_id=x", 'Parameter must be a valid integer: "error_id"'),
        ("is_superseded=maybe", 'Parameter must be a valid boolean: "is_superseded"'),
        ("started=yesterday", "Invalid ISO timestamp format for parameter: started"),
        ("ended=2020-01-01T00:00:00", "Invalid ISO timestamp format for parameter: ended"),
        ("source_started=P1Y", "Invalid ISO timestamp format for parameter: source_started"),
        ("started=2020-01-01T00:00:00Z&ended=2020-01-01T00:00:00Z", "Start and end values must be different"),
        ("started=2020-01-02T00:00:00Z&ended=2020-01-01T00:00:00Z", "Start time must come before end time"),
        (
            "source_started=2020-01-02T00:00:00Z&source_ended=2020-01-01T00:00:00Z",
            "Start time must come before end time",
        ),
    ],
)
def test_bad_parameters_are_400(api, query, detail):
    r = api.simulate_get("/v6/jobs/", query_string=query)
    assert (r.status_code, r.json["detail"]) == (400, detail)


def test_negative_offsets_accepted(api, jobs):
    assert listed(api, "started=2019-12-31T19:13:00-05:00") == listed(api, "started=2020-01-01T00:13:00Z") != []


def test_trailing_slash_redirect_alias_and_405(api, auth, jobs):
    r = api.simulate_get("/v6/jobs", query_string="status=QUEUED")
    assert (r.status_code, r.headers["location"]) == (301, "/v6/jobs/?status=QUEUED")
    assert ids(api.simulate_get("/v7/jobs/", query_string="status=QUEUED")) == [jobs["queued"], jobs["new"]]
    r = api.simulate_delete("/v6/jobs/", headers=auth)
    assert (r.status_code, r.json["detail"]) == (405, 'Method "DELETE" not allowed.')


def test_list_item_shape(api, jobs, stores):
    from sqlalchemy import select

    from jobs.models import JobTypeRevision

    with stores.db.engine.connect() as c:  # alpha's first revision, read from the database
        rev_id = c.scalar(
            select(JobTypeRevision.id).where(
                JobTypeRevision.job_type_id == jobs["alpha"], JobTypeRevision.revision_num == 1
            )
        )
    item = api.simulate_get("/v6/jobs/", query_string=f"job_id={jobs['queued']}").json["results"][0]
    assert item["batch"] == {
        "id": jobs["batch"],
        "title": "My Batch",
        "description": "batch of recipes",
        "created": "2020-01-01T00:00:00Z",
    }
    assert item["recipe"]["recipe_type"]["name"] == "my-recipe" and item["recipe"]["id"] == jobs["recipe"]
    assert item["job_type_rev"] == {"id": rev_id, "job_type": {"id": jobs["alpha"]}, "revision_num": 1}
    assert (item["source_sensor_class"], item["source_started"]) == ("A", "2019-01-01T00:00:00Z")
    assert item["input_files"] == {"f": ["one.dat"]} and item["ingest_event"] is None and item["max_tries"] == 3


def test_anonymous_and_read_only_clients_get_only_cheap_pages_and_orders(make_client, auth, jobs):
    """A deep page (the database reads and drops every job before it) or an order no index serves (a sort of every
    matching job) costs the database in proportion to all jobs: for clients who aren't staff the list is bounded
    (READ_ONLY_LIST_ROWS, here 3 of the 5 jobs); staff are not."""
    api = make_client(read_only_list_rows=3)
    deep = api.simulate_get("/v6/jobs/", params={"page": "2", "page_size": "3"})
    assert deep.status_code == 400
    assert deep.json["detail"] == (
        "page: anonymous and read-only clients may page through the first 3 jobs of a list, and this page starts at "
        "job 4 of 5; narrow the list with filters (status, job_type_name, job_type_id, started and ended, "
        "error_category, ...), or reverse the order"
    )
    unindexed = api.simulate_get("/v6/jobs/", params={"order": ["job_type__name", "-input_file_size"]})
    assert unindexed.status_code == 400
    assert unindexed.json["detail"].startswith(
        "order: no index serves the order job_type__name, -input_file_size, and anonymous and read-only clients "
        "may order by such fields only lists of at most 3 jobs (this one has 5); narrow the list with filters"
    )
    assert "or order by one of created, duration, ended, id, last_modified" in unindexed.json["detail"]
    for order in (["-created"], ["duration"], ["status", "last_modified"], ["job_type", "last_modified"], []):
        r = api.simulate_get("/v6/jobs/", params={"order": order, "page_size": "3"})
        assert r.status_code == 200 and r.json["count"] == 5, (order, r.text)
    assert api.simulate_get("/v6/jobs/", params={"order": "status"}).status_code == 400
    # A short list may be ordered by anything; a page past the end is still "Invalid page.".
    short = api.simulate_get(
        "/v6/jobs/", params={"order": "job_type__name", "job_id": [jobs["queued"], jobs["completed"]]}
    )
    assert short.status_code == 200 and short.json["count"] == 2
    past = api.simulate_get("/v6/jobs/", params={"page": "3", "page_size": "3"})
    assert (past.status_code, past.json["detail"]) == (404, "Invalid page.")
    # Staff: any page, any order.
    assert api.simulate_get("/v6/jobs/", params={"page": "2", "page_size": "3"}, headers=auth).status_code == 200
    assert api.simulate_get("/v6/jobs/", params={"order": "job_type__name"}, headers=auth).json["count"] == 5

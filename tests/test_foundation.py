"""The foundation: a real Elasticsearch node, readiness, and the cross-cutting HTTP rules."""

from __future__ import annotations

import falcon
from elasticsearch import helpers

from settings import Settings, load_or_create_token


def test_node_is_real_elasticsearch(es, log_prefix):
    """An environment guard, not a product test: the node the suite runs against is a real Elasticsearch (bulk
    writes, date_nanos sorting with a tie-breaker, its version), so no test can pass against a stand-in."""
    index = f"{log_prefix}-real"
    es.indices.create(
        index=index,
        mappings={
            "properties": {"@timestamp": {"type": "date_nanos"}, "n": {"type": "long"}, "message": {"type": "text"}}
        },
    )
    docs = (
        {
            "_index": index,
            "_id": str(i),
            "_op_type": "create",
            "n": i,
            "message": f"line {i}",
            "@timestamp": f"2024-05-01T00:00:00.00000000{i % 3}Z",
        }
        for i in range(30)
    )
    ok, errors = helpers.bulk(es, docs, refresh="wait_for")
    assert (ok, errors) == (30, [])

    hits = es.search(index=index, size=30, sort=[{"@timestamp": "desc"}, {"n": "asc"}])["hits"]["hits"]
    got = [(h["_source"]["@timestamp"], h["_source"]["n"]) for h in hits]
    expected = sorted(
        ((f"2024-05-01T00:00:00.00000000{i % 3}Z", i) for i in range(30)), key=lambda t: (-int(t[0][-2]), t[1])
    )
    assert got == expected
    assert es.info()["version"]["number"].startswith(("8.", "9."))


def test_readyz_reports_elasticsearch_version(client, es):
    resp = client.simulate_get("/readyz")
    assert resp.status_code == 200
    assert resp.json["elasticsearch"]["version"] == es.info()["version"]["number"]
    assert resp.json["database"] == "ok"


def test_readyz_is_503_when_elasticsearch_is_unreachable(make_client):
    resp = make_client(elasticsearch_url="http://127.0.0.1:9").simulate_get("/readyz")
    assert resp.status_code == 503
    assert resp.json["status"] == "unavailable"
    assert resp.json["database"] == "ok"


def test_unknown_route_is_json_404(client):
    resp = client.simulate_get("/v6/nothing-here/")
    assert resp.status_code == 404
    assert resp.json["detail"] == "Not found."


def test_get_without_trailing_slash_redirects(client):
    resp = client.simulate_get("/v6/jobs", query_string="status=RUNNING")
    assert resp.status_code == 301
    assert resp.headers["Location"].endswith("/v6/jobs/?status=RUNNING")


def test_openapi_document_is_served(client):
    resp = client.simulate_get("/v6/openapi.json")
    assert resp.status_code == 200
    assert resp.json["openapi"].startswith("3.1")
    assert "/readyz" in resp.json["paths"]


def test_writes_need_the_admin_token(client):
    no_token = client.simulate_post("/v6/jobs/cancel/", json={})
    assert no_token.status_code == 401
    assert no_token.json["detail"] == "Authentication credentials were not provided."
    wrong = client.simulate_post("/v6/jobs/cancel/", json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json == {
        **{"detail": "You do not have permission to perform this action."},
        "request_id": wrong.headers["X-Request-ID"],
    }


def test_read_token_mode_guards_reads(make_client, auth):
    client = make_client(read_token="reader")
    assert client.simulate_get("/v6/jobs/").status_code == 401
    assert client.simulate_get("/v6/jobs/", headers={"Authorization": "Bearer reader"}).status_code == 200
    assert client.simulate_get("/v6/jobs/", headers=auth).status_code == 200
    assert client.simulate_get("/readyz").status_code == 200
    # The read token never allows writes.
    assert (
        client.simulate_post("/v6/jobs/cancel/", json={}, headers={"Authorization": "Bearer reader"}).status_code == 403
    )


def test_settings_defaults_and_generated_token(tmp_path):
    s = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'scale.db'}"
    assert s.elasticsearch_url is None
    assert s.log_index_prefix == "scalelogs"
    assert s.port == 8000
    assert len(s.api_token) >= 32
    # The generated token is kept and reused on the next start.
    assert load_or_create_token(tmp_path) == s.api_token
    assert (tmp_path / "api_token").stat().st_mode & 0o777 == 0o600
    assert s.log_read_indices == ("scalelogs-*", "logstash-*")
    assert Settings.from_env({"DATA_DIR": str(tmp_path), "API_TOKEN": "x"}).api_token == "x"


def test_unexpected_errors_have_no_internals(make_client):
    app_client = make_client()
    app: falcon.App = app_client.app

    class Boom:
        def on_get(self, req, resp):
            raise RuntimeError("secret internal host db-7.internal")

    app.add_route("/boom", Boom())
    resp = app_client.simulate_get("/boom")
    assert resp.status_code == 500
    assert resp.json["detail"] == "Internal server error."
    assert "db-7" not in resp.text

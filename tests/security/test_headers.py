"""Attacks through headers and parameters: poisoned links, readiness details without READ_TOKEN, framing the
login form, MIME sniffing a log line, a shared cache mixing origins, and a cursor that made Elasticsearch fail."""

from __future__ import annotations

import base64
import json

from tests.conftest import ADMIN_TOKEN
from tests.search.helpers import BASE_NS, index_ours, our_doc

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
POISON = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


def test_forwarded_host_cannot_poison_links_unless_a_trusted_proxy_sets_it(make_client, stores, execution):
    client = make_client()
    r = client.simulate_get("/v6/jobs/", params={"page_size": "1"}, headers=POISON)
    assert r.status_code == 200
    r = client.simulate_post("/v6/jobs/", json={"job_type_id": 1, "input": {}}, headers={**ADMIN, **POISON})
    assert r.status_code == 201 and "evil.example" not in r.headers["Location"]
    details = client.simulate_get(f"/v6/job-executions/{execution.id}/", headers=POISON).json
    assert "evil.example" not in details["log_url"]
    behind_proxy = make_client(trust_forwarded_host=True)
    r = behind_proxy.simulate_post("/v6/jobs/", json={"job_type_id": 1, "input": {}}, headers={**ADMIN, **POISON})
    assert r.headers["Location"].startswith("https://evil.example/v6/jobs/")


def test_readiness_details_need_a_credential_when_reads_do(make_client, es):
    client = make_client(read_token="reader-token-" + "x" * 20)
    anonymous = client.simulate_get("/readyz")
    assert anonymous.status_code == 200 and anonymous.json == {"status": "ok"}
    assert es.info()["cluster_name"] not in anonymous.text
    full = client.simulate_get("/readyz", headers={"Authorization": "Bearer reader-token-" + "x" * 20})
    assert full.status_code == 200 and full.json["elasticsearch"]["cluster_name"] == es.info()["cluster_name"]
    assert client.simulate_get("/readyz", headers={"Authorization": "Bearer wrong"}).json == {"status": "ok"}


def test_no_sniffing_no_framing_and_a_content_security_policy(client, execution, es, log_prefix):
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS, 1, "<script>alert(1)</script>")])
    for path, params in (
        ("/v6/jobs/", {}),
        (f"/v6/job-executions/{execution.id}/logs/combined/", {"format": "txt"}),
        ("/v6/accounts/login/", {}),
        ("/v6/nothing/", {}),
    ):
        r = client.simulate_get(path, params=params)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], path
    page = client.simulate_get(f"/logs/{execution.id}", headers={"Accept": "text/html"})
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]  # the viewer's own, framing forbidden too
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html_log = client.simulate_get(f"/v6/job-executions/{execution.id}/logs/combined/", params={"format": "html"})
    assert html_log.status_code == 200 and "&lt;script&gt;" in html_log.text
    assert html_log.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert html_log.headers["X-Content-Type-Options"] == "nosniff"
    assert client.simulate_get("/v6/jobs/").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_cors_answers_vary_by_origin(make_client):
    client = make_client(allowed_origins=("https://ui.example.org",))
    r = client.simulate_get("/v6/jobs/", headers={"Origin": "https://ui.example.org"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
    assert "Origin" in [v.strip() for v in r.headers["Vary"].split(",")]
    other = client.simulate_get("/v6/jobs/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and "Origin" in other.headers["Vary"]


def cursor_of(values) -> str:
    return "1" + base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_with_huge_integers_is_a_400_not_a_500(client, execution):
    path = f"/v6/job-executions/{execution.id}/logs/combined/"
    for values in ([2**64, 1, "idx", 1], [1, -(2**70), "idx", 1], [1, 1, "idx", 10**30]):
        r = client.simulate_get(path, params={"after": cursor_of(values), "limit": "10"})
        assert r.status_code == 400 and r.json["detail"] == "Invalid cursor for parameter: after", values
        r = client.simulate_get(path, headers={"Last-Event-ID": cursor_of(values)}, params={"follow": "true"})
        assert r.status_code == 400, values


def test_json_bodies_and_repeated_ids_are_bounded(client, execution):
    # A valid job of 5 MiB: the JSON routes are not the log upload's 64 MiB.
    big = {"job_type_id": 1, "input": {"json": {"who": "x" * (5 * 1024 * 1024)}}}
    r = client.simulate_post("/v6/jobs/", json=big, headers=ADMIN)
    assert r.status_code == 413 and "4194304" in r.json["detail"]
    # Each job_exe_id is a lookup: a thousand of them is refused before any.
    query = "&".join(f"job_exe_id={n}" for n in range(1, 1002))
    r = client.simulate_get("/v6/logs/", query_string=query)
    assert r.status_code == 400 and r.json["detail"] == 'Parameter "job_exe_id" may be given at most 100 times'
    assert client.simulate_get("/v6/logs/", query_string=f"job_exe_id={execution.id}").status_code == 200

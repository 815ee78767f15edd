"""Request ids and the request log, in one process: X-Request-ID accepted, echoed, or made, and put in error
bodies; one JSON line per request naming id, method, route template, status, duration and user; level and
format are settings; no token, password or cookie ever reaches the log."""

from __future__ import annotations

import pytest

from settings import Settings
from tests.conftest import request_lines

SECRETS = ("test-admin-token", "reader-secret", "cookie-secret-42", "hunter2-password", "query-token-77")


def test_a_request_id_is_accepted_echoed_and_put_in_error_bodies(client):
    resp = client.simulate_get("/v6/jobs/123456/", headers={"X-Request-ID": "req-7f3a.2"})
    assert resp.status_code == 404
    assert resp.headers["X-Request-ID"] == "req-7f3a.2"
    assert resp.json == {"detail": "Not found.", "request_id": "req-7f3a.2"}
    ok = client.simulate_get("/v6/jobs/")
    assert ok.status_code == 200 and len(ok.headers["X-Request-ID"]) == 32
    # Answers given before routing carry it too: a redirect, a 401.
    assert client.simulate_get("/v6/jobs", headers={"X-Request-ID": "r1"}).headers["X-Request-ID"] == "r1"
    denied = client.simulate_post("/v6/jobs/cancel/", json={}, headers={"X-Request-ID": "r2"})
    assert (denied.status_code, denied.json["request_id"]) == (401, "r2")


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, "new\u00e9line", "<script>"])
def test_an_implausible_request_id_is_replaced(client, given):
    resp = client.simulate_get("/v6/jobs/99999/", headers={"X-Request-ID": given})
    made = resp.headers["X-Request-ID"]
    assert made != given and len(made) == 32 and resp.json["request_id"] == made


def test_each_request_is_one_json_line(make_client, auth, log_stream):
    stream = log_stream()
    client = make_client(read_token="reader-secret")
    client.simulate_get("/v6/jobs/", headers={**auth, "X-Request-ID": "one"})
    client.simulate_get("/v6/jobs/5/", headers={"Authorization": "Bearer reader-secret", "X-Request-ID": "two"})
    client.simulate_get("/v6/jobs/", headers={"X-Request-ID": "three"})
    lines = request_lines(stream)
    assert [line["request_id"] for line in lines] == ["one", "two", "three"]
    first, second, third = lines
    assert {k: first[k] for k in ("method", "route", "path", "status", "user", "level")} == {
        "method": "GET",
        "route": "/v6/jobs/",
        "path": "/v6/jobs/",
        "status": 200,
        "user": "admin",
        "level": "INFO",
    }
    assert (second["route"], second["path"], second["status"], second["user"]) == (
        "/v6/jobs/{job_id}/",
        "/v6/jobs/5/",
        404,
        "reader",
    )
    assert (third["status"], third["user"]) == (401, None)
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in lines)
    assert all(line["time"].endswith("+00:00") for line in lines)


def test_log_level_and_format_are_settings(client, log_stream, tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "warning", "LOG_FORMAT": "text"})
    assert (settings.log_level, settings.log_format) == ("WARNING", "text")
    assert Settings.from_env({"DATA_DIR": str(tmp_path)}).log_format == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        Settings.from_env({"DATA_DIR": str(tmp_path), "LOG_FORMAT": "xml"})
    stream = log_stream("INFO", "text")
    client.simulate_get("/v6/jobs/")
    assert " INFO api.requests: GET /v6/jobs/ 200 " in stream.getvalue()
    quiet = log_stream("WARNING", "json")
    quiet.truncate(0)
    client.simulate_get("/v6/jobs/")
    assert request_lines(quiet) == []


def test_tokens_passwords_and_cookies_never_reach_the_log(make_client, auth, log_stream, execution):
    stream = log_stream("DEBUG", "json")
    client = make_client(read_token="reader-secret")
    client.simulate_get(
        "/v6/jobs/",
        params={"token": "query-token-77", "password": "hunter2-password"},
        headers={"Authorization": "Bearer reader-secret", "Cookie": "session=cookie-secret-42"},
    )
    client.simulate_post(
        "/v6/jobs/",
        json={"job_type_id": 999, "input": {"json": {"password": "hunter2-password"}}},
        headers={**auth, "Cookie": "session=cookie-secret-42"},
    )
    client.simulate_post("/v6/jobs/cancel/", json={}, headers={"Authorization": "Bearer test-admin-token-wrong"})
    client.simulate_get("/v6/jobs/", headers={"Authorization": "Basic dXNlcjpodW50ZXIyLXBhc3N3b3Jk"})
    text = stream.getvalue()
    assert len(request_lines(stream)) == 4
    for secret in SECRETS + ("dXNlcjpodW50ZXIyLXBhc3N3b3Jk",):
        assert secret not in text, secret

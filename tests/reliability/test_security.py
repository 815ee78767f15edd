"""Who gets in, what user text can do, and what error bodies say.

- every write operation of /v6/openapi.json: 401 without a credential, 403 with a wrong token, a read-only
  person's token or session, a revoked token, a disabled person's token, or a session without the CSRF header;
  nothing changed; staff people's tokens and sessions (with the header) do get through;
- read-token mode: every read operation (logs, search and the viewer included) needs a token or a session;
- user text is never Elasticsearch query syntax, nor SQL: malicious values give 200/400 and literal matches only;
- HTML output is escaped; request bodies and NDJSON lines are size-limited (413);
- error bodies are {"detail"} and never show a stack trace, a driver name or a host name.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from api.auth import session_csrf_token
from jobs.records import WorkspaceFields
from tests.conftest import ADMIN_TOKEN
from tests.reliability.checks import read_lines
from tests.reliability.harness import assert_clean_error, ndjson, wait_until
from tests.reliability.seed import seed_jobs

READ_TOKEN = "read-token-of-the-suite"
# Reads anyone may make, whatever the mode: probes, the document, the login's CSRF cookie, the viewer's files.
PUBLIC = {
    "/healthz",
    "/readyz",
    "/v6/openapi.json",
    "/v6/accounts/login/",
    "/viewer/{name}",
    "/viewer/vendor/{name}",
}
# Writes anyone may make: logging in (it needs the CSRF cookie and header) and out.
OPEN_WRITES = {("POST", "/v6/accounts/login/"), ("POST", "/v6/accounts/logout/")}
# Saved searches and alerts: any credential, read-only ones included, keeps its own (staff change anyone's); an
# alert is seen by its owner and staff only. Anonymous reads of them are 401 even without a read token.
SIGNED_IN = {
    "/v6/saved-searches/",
    "/v6/saved-searches/{search_id}/",
    "/v6/alerts/",
    "/v6/alerts/{alert_id}/",
    "/v6/alerts/{alert_id}/history/",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NDJSON = {**ADMIN, "Content-Type": "application/x-ndjson"}
CSRF = "c" * 43


def operations(client, methods: set[str]) -> list[tuple[str, str]]:
    doc = client.simulate_get("/v6/openapi.json").json
    return [(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in methods]


@pytest.fixture
def people(stores):
    """Credentials of every kind a person can hold, good and bad."""
    users = stores.users
    users.add_user("staffer", "staff password", is_staff=True)
    users.add_user("viewer", "viewer password")
    users.add_user("gone", "gone password", is_staff=True)
    revoked, revoked_info = users.create_token("staffer", "old")
    users.revoke_token(revoked_info.id)
    gone_token, _ = users.create_token("gone", "t")
    creds = {
        "staff_token": users.create_token("staffer", "t")[0],
        "viewer_token": users.create_token("viewer", "t")[0],
        "revoked_token": revoked,
        "gone_token": gone_token,
        "staff_session": users.log_in("staffer", "staff password", "127.0.0.1", 3600).key,
        "viewer_session": users.log_in("viewer", "viewer password", "127.0.0.1", 3600).key,
    }
    # Last: a login deletes the sessions that expired before it.
    creds["expired_session"] = users.log_in("staffer", "staff password", "127.0.0.1", session_seconds=-1).key
    users.update_user("gone", is_active=False)
    return creds


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def session(key: str, csrf: str | None = "") -> dict:
    """Headers of a browser with this session (and the CSRF header Angular adds from the cookie, by default the
    session's own token, which its login set in the cookie)."""
    token = session_csrf_token(key) if csrf == "" else csrf
    headers = {"Cookie": f"sessionid={key}; csrftoken={token or CSRF}"}
    if token is not None:
        headers["X-CSRFToken"] = token
    return headers


def concrete(path: str, seeded) -> str:
    exe = seeded.running[0]
    values = {
        "job_id": exe.job_id,
        "exe_id": exe.id,
        "job_exe_id": exe.id,
        "exe_num": exe.exe_num,
        "stream": "combined",
        "name": "index.html",
        "version": "1.0.0",
        "node_id": seeded.node_id,
        "workspace_id": seeded.workspace_id,
        "error_id": seeded.error_id,
        "search_id": seeded.search_id,
        "alert_id": seeded.alert_id,
        "node": "node-1",  # an executor route's node (tests/reliability's seed runs nothing on it)
    }
    if "{name}" in path and "{version}" in path:
        values["name"] = seeded.job_type_names[0]
    if path.startswith("/v6/metrics/"):
        values["name"] = "job-types"  # the one metrics type
    if path.startswith("/viewer/vendor/"):
        values["name"] = "pico.min.css"
    return re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), path)


@pytest.fixture
def seeded(stores):
    out = seed_jobs(stores, types=2, jobs=6, running=2, finished=2)
    # One of each thing Scale's UI pages look up by id: a node (where the seeded jobs ran), a workspace, an error.
    out.node_id = stores.nodes.list_nodes(None, None, (), 0, 1)[1][0].id
    configuration = {"broker": {"type": "host", "host_path": "/data/products"}}
    out.workspace_id = stores.workspaces.create_workspace(
        WorkspaceFields(title="Products", configuration=configuration)
    ).id
    out.error_id = stores.errors.list_errors(None, None, None, None, None, None, (), 0, 1)[1][0].id
    # A shared saved search and an alert on it, both the staff user's (see SIGNED_IN).
    out.search_id = stores.saved_searches.create("staffer", "errors", "q=error", shared=True).id
    rule = dict(
        threshold=1, window_minutes=5, interval_seconds=60, webhook_url="http://x/", email_to=None, enabled=True
    )
    out.alert_id = stores.alerts.create("staffer", out.search_id, rule).id
    return out


def signed_in_write_status(method: str, template: str, status: int) -> int:
    """What a read-only credential's write to a SIGNED_IN route answers: its own is allowed (this body is no saved
    search: 400), the staff user's shared search is not its to change (403), the staff user's alert is not seen."""
    if status != 403:
        return status
    if method == "POST":
        return 400
    return 404 if "{alert_id}" in template else 403


# --- writes need the admin token ---------------------------------------------------------------------------


def test_every_write_operation_refuses_missing_and_wrong_credentials(make_client, seeded, people, figures):
    client = make_client(read_token=READ_TOKEN)
    every_write = operations(client, WRITE_METHODS)
    writes = [w for w in every_write if w not in OPEN_WRITES]
    assert set(every_write) - set(writes) == OPEN_WRITES
    assert len(writes) >= 7, writes  # job types, jobs, cancel, requeue, executions start/finish, log ingest
    before = client.simulate_get("/v6/jobs/?page_size=1000", headers=ADMIN).json["results"]
    refused = 0
    for method, template in writes:
        for prefix in ("/v6/", "/v7/"):
            path = prefix + concrete(template, seeded)[len("/v6/") :]
            body = b'{"job_ids": []}' if "logs" not in path else b'{"message": "x", "stream": "stdout"}\n'
            for headers, status in (
                ({}, 401),
                ({"Authorization": "Basic dGVzdDp0ZXN0"}, 401),
                ({"Authorization": "Bearer"}, 401),
                ({"Authorization": "Bearer   "}, 401),
                ({"Authorization": "Bearer wrong"}, 403),
                ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, 403),
                ({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, 403),
                ({"Authorization": f"Bearer {ADMIN_TOKEN.upper()}"}, 403),
                ({"Authorization": f"Bearer {READ_TOKEN}"}, 403),
                (bearer(people["viewer_token"]), 403),
                (bearer(people["revoked_token"]), 403),
                (bearer(people["gone_token"]), 403),
                (bearer(people["staff_token"] + "x"), 403),
                (session(people["viewer_session"]), 403),
                (session(people["staff_session"], csrf=None), 403),
                (session(people["staff_session"], csrf="d" * 43), 403),
                (session(people["expired_session"]), 401),
                (session("no-such-session"), 401),
            ):
                read_only = (bearer(READ_TOKEN), bearer(people["viewer_token"]), session(people["viewer_session"]))
                if template in SIGNED_IN and headers in read_only:
                    status = signed_in_write_status(method, template, status)
                r = client.simulate_request(
                    method, path, body=body, headers={"Content-Type": "application/json", **headers}
                )
                assert r.status_code == status, (method, path, headers, r.status_code, r.text)
                assert_clean_error(r.content, r.status_code)
                if status == 401:
                    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
                refused += 1
    after = client.simulate_get("/v6/jobs/?page_size=1000", headers=ADMIN).json["results"]
    assert after == before  # nothing refused changed anything
    # The right credentials do get through (so the refusals above are about the credentials).
    cancelable = [seeded.job_ids[-1], seeded.job_ids[-2], seeded.running[0].job_id]  # QUEUED, QUEUED, RUNNING
    for job_id, headers in zip(cancelable, (ADMIN, bearer(people["staff_token"]), session(people["staff_session"]))):
        r = client.simulate_post("/v6/jobs/cancel/", json={"job_ids": [job_id]}, headers=headers)
        assert r.status_code == 202 and r.json == {"matched": 1}, headers
    figures.setdefault("security", {})["write_refusals_checked"] = refused


def test_anyone_may_log_in_and_out_but_a_login_needs_the_csrf_token(make_client, people):
    client = make_client(read_token=READ_TOKEN)
    body = {"username": "staffer", "password": "staff password"}
    for headers in (
        {},
        {"Cookie": f"csrftoken={CSRF}"},
        {"X-CSRFToken": CSRF},
        {"Cookie": f"csrftoken={CSRF}", "X-CSRFToken": "d" * 43},
        ADMIN,
    ):
        r = client.simulate_post("/v6/accounts/login/", json=body, headers=headers)
        assert r.status_code == 403 and "sessionid" not in r.cookies, headers
        assert_clean_error(r.content, 403)
    r = client.simulate_post(
        "/v6/accounts/login/", json=body, headers={"Cookie": f"csrftoken={CSRF}", "X-CSRFToken": CSRF}
    )
    assert r.status_code == 200 and r.cookies["sessionid"].http_only
    assert client.simulate_post("/v6/accounts/logout/").status_code == 204
    # A session's logout is a session write: it needs the header too.
    assert (
        client.simulate_post("/v6/accounts/logout/", headers=session(people["staff_session"], None)).status_code == 403
    )
    assert client.simulate_post("/v6/accounts/logout/", headers=session(people["staff_session"])).status_code == 204
    assert client.simulate_get("/v6/jobs/", headers=session(people["staff_session"])).status_code == 401


# --- read-token mode ----------------------------------------------------------------------------------------


def test_read_token_mode_guards_every_read_operation(make_client, seeded, people, figures):
    client = make_client(read_token=READ_TOKEN)
    reads = operations(client, {"get"})
    paths = {template for _, template in reads}
    for needed in (
        "/v6/logs/",
        "/v6/jobs/{job_id}/logs/",
        "/v6/job-executions/{exe_id}/logs/{stream}/",
        "/logs/{job_exe_id}",
        "/search",
        "/viewer/{name}",
        "/v6/jobs/",
    ):
        assert needed in paths, f"{needed} is not in the OpenAPI document"
    checked = 0
    for _, template in reads:
        path = concrete(template, seeded)
        if template in PUBLIC:  # Elasticsearch and the database are up: /readyz too is 200
            assert client.simulate_get(path).status_code == 200, path
            continue
        for method in ("GET", "HEAD"):
            for headers, status in (
                ({}, 401),
                ({"Authorization": "Bearer nope"}, 403),
                ({"Authorization": f"Basic {READ_TOKEN}"}, 401),
                (bearer(people["revoked_token"]), 403),
                (bearer(people["gone_token"]), 403),
                (session(people["expired_session"]), 401),
                (session("nope"), 401),
            ):
                r = client.simulate_request(method, path, headers=headers)
                assert r.status_code == status, (method, path, headers, r.status_code)
                if method == "GET":
                    assert_clean_error(r.content, r.status_code)
                checked += 1
            for headers in (
                bearer(READ_TOKEN),
                ADMIN,
                bearer(people["viewer_token"]),
                session(people["viewer_session"]),
                session(people["staff_session"], csrf=None),  # reads need no CSRF header
            ):
                r = client.simulate_request(method, path, headers=headers)
                # What a read of the seeded data answers: 204 for a log with no lines; the staff user's alert is
                # seen by its owner and staff only.
                expected = 204 if template == "/v6/job-executions/{exe_id}/logs/{stream}/" else 200
                if "{alert_id}" in template and headers not in (ADMIN, session(people["staff_session"], csrf=None)):
                    expected = 404
                if method == "GET":
                    assert r.status_code == expected, (method, path, headers, r.status_code, r.text[:200])
                else:  # HEAD: GET's status and headers, no body
                    assert (r.status_code, r.content) == (expected, b""), (method, path, r.status_code)
                checked += 1
    # The /v7 alias and a path that does not exist are guarded the same way.
    assert client.simulate_get("/v7/jobs/").status_code == 401
    assert client.simulate_get("/v6/no-such-thing/").status_code == 401
    assert client.simulate_get("/v6/no-such-thing/", headers=session(people["viewer_session"])).status_code == 404
    # A browser opening the viewer without a session gets the login page (with the 401), never the log's page.
    exe = seeded.running[0]
    page = client.simulate_get(f"/logs/{exe.id}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert 'id="login-page"' in page.text and "/viewer/login.js" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.simulate_get("/logs/999999999", headers={"Accept": "text/html"}).status_code == 401  # no oracle
    assert client.simulate_get(f"/logs/{exe.id}", headers=session(people["viewer_session"])).status_code == 200
    figures.setdefault("security", {})["read_token_checks"] = checked


def test_reads_are_public_without_a_read_token(make_client, seeded):
    client = make_client()
    for _, template in operations(client, {"get"}):
        r = client.simulate_get(concrete(template, seeded))
        if template == "/v6/accounts/profile/" or template in SIGNED_IN:  # who is logged in: nobody
            assert r.status_code == 401
            continue
        assert r.status_code not in (401, 403), template


# --- user text is never query syntax -------------------------------------------------------------------------

MESSAGES = [
    "alpha beta",
    "gamma",
    "alpha OR gamma",
    "top secret",
    "message:secret",
    "needle <script>alert(1)</script> &amp;",
    "percent 100% done",
    "under_score value",
    'quote " inside',
    "backslash \\ here",
    "O'Brien said hi",
]
HOSTILE = [
    "*",
    "*:*",
    "?",
    "message:*",
    "message:secret",
    "alpha OR gamma",
    "alpha AND NOT gamma",
    "alpha || gamma",
    "(alpha",
    "alpha)",
    "[* TO *]",
    "{* TO *}",
    "/.*/",
    "alp*",
    "alpha~2",
    "alpha^5",
    '"unclosed',
    "\\",
    '""',
    "' OR '1'='1",
    "%",
    "_",
    "NOT gamma",
    "+alpha -beta",
    "_exists_:message",
    "@timestamp:[* TO *]",
    '{"script": {"source": "Math.random()"}}',
    "doc['message'].value",
    "\x00",
    "\u202e",
    "a" * 1000,
    "a" * 1001,
    "",
    "   ",
]


def words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W_]+", text)]


def test_hostile_search_text_is_literal_and_never_a_500(make_client, stores, es, settings, figures):
    client = make_client()
    seeded = seed_jobs(stores, types=1, jobs=1, running=1, finished=0)
    exe = seeded.running[0]
    r = client.simulate_post(
        f"/v6/job-executions/{exe.id}/logs/",
        headers=NDJSON,
        body=ndjson([{"message": m, "stream": "stdout"} for m in MESSAGES]),
    )
    assert r.status_code == 202, r.text
    es.indices.refresh(index=f"{settings.log_index_prefix}-*")
    statuses = {}
    for q in HOSTILE:
        for path in ("/v6/logs/", f"/v6/jobs/{exe.job_id}/logs/"):
            r = client.simulate_get(path, params={"q": q, "page_size": 100})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code in (200, 400), (q, r.status_code, r.text)
            if r.status_code == 400:
                assert_clean_error(r.content, 400)
                continue
            found = [hit["message"] for hit in r.json["results"]]
            for message in found:  # only literal matches: every word of q is a word of the line
                assert set(words(q)) <= set(words(message)) and words(q), (q, message)

    # The ones query_string or a LIKE would have widened:
    def search(q):
        return sorted(h["message"] for h in client.simulate_get("/v6/logs/", params={"q": q}).json["results"])

    assert search("alpha OR gamma") == ["alpha OR gamma"]
    assert search("message:secret") == ["message:secret"]
    assert search("*") == [] and search("*:*") == [] and search("alp*") == [] and search("/.*/") == []
    assert search("alpha AND NOT gamma") == []
    assert search('"alpha beta"') == ["alpha beta"]
    assert client.simulate_get("/v6/logs/", params={"q": "a" * 1001}).status_code == 400
    figures.setdefault("security", {})["hostile_queries"] = {"values": len(HOSTILE), "statuses": statuses}


def test_sql_looking_filters_match_literally(make_client, seeded):
    client = make_client()
    for name in ("x' OR '1'='1", 'x" OR "1"="1', "'; DROP TABLE job; --", "%", "_", "\\", "\x00"):
        for param in ("job_type_name", "source_sensor", "source_collection", "source_task"):
            r = client.simulate_get("/v6/jobs/", params={param: name})
            assert r.status_code in (200, 400), (param, name, r.text)
            if r.status_code == 200:
                assert r.json["count"] == 0, (param, name)
    assert client.simulate_get("/v6/jobs/").json["count"] == len(seeded.job_ids)  # the table is still there


def test_job_type_keyword_matches_literally_not_as_a_like_pattern(make_client, seeded):
    """keyword is "part of the name, title or description": '%' and '_' are characters, not wildcards."""
    client = make_client()
    for keyword in ("%", "_", "%%", "r_l"):  # no job type name, title or description contains these
        r = client.simulate_get("/v6/job-types/", params={"keyword": keyword})
        assert r.status_code == 200
        assert r.json["count"] == 0, f"keyword {keyword!r} matched {r.json['count']} job types"


# --- HTML is escaped -----------------------------------------------------------------------------------------


def test_html_log_output_and_highlights_are_escaped(make_client, stores, es, settings):
    client = make_client()
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    evil = ["needle <script>alert(1)</script>", "<img src=x onerror=alert(2)> needle", "needle & </div><b>bold</b>"]
    r = client.simulate_post(
        f"/v6/job-executions/{exe.id}/logs/",
        headers=NDJSON,
        body=ndjson([{"message": m, "stream": s} for m, s in zip(evil, ["stdout", "stderr", "stdout"])]),
    )
    assert r.status_code == 202, r.text
    es.indices.refresh(index=f"{settings.log_index_prefix}-*")
    page = client.simulate_get(f"/v6/job-executions/{exe.id}/logs/combined/", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for raw in ("<script>alert(1)", "<img src=x", "</div><b>"):
        assert raw not in page.text, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "&amp; &lt;/div&gt;" in page.text
    hits = client.simulate_get("/v6/logs/", params={"q": "needle"}).json["results"]
    assert len(hits) == 3
    for hit in hits:
        fragment = hit.get("highlight") or ""
        assert "<script" not in fragment and "<img" not in fragment and "<b>" not in fragment, fragment
        assert re.sub(r"</?em>", "", fragment).count("<") == 0, fragment
    viewer = client.simulate_get(f"/logs/{exe.id}")
    csp = viewer.headers.get("Content-Security-Policy", "")
    assert viewer.status_code == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert viewer.headers.get("X-Content-Type-Options") == "nosniff"
    for name in ("viewer.js", "login.js", "common.js", "search.js", "search-chart.js", "search-saved.js", "theme.js"):
        script = (Path(__file__).resolve().parents[2] / "api" / "viewer" / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script, f"the viewer's {name} uses {sink}"


# --- size limits (413) ---------------------------------------------------------------------------------------


def test_ndjson_bodies_and_lines_over_the_limits_are_413(make_client, seeded, es, settings):
    client = make_client(max_body_bytes=8192, max_log_line_bytes=100)
    exe = seeded.running[0]
    path = f"/v6/job-executions/{exe.id}/logs/"
    ok = client.simulate_post(path, headers=NDJSON, body=ndjson([{"message": "x" * 100, "stream": "stdout"}]))
    assert ok.status_code == 202, ok.text
    long_line = client.simulate_post(path, headers=NDJSON, body=ndjson([{"message": "x" * 101, "stream": "stdout"}]))
    assert long_line.status_code == 413, long_line.text
    multibyte = client.simulate_post(path, headers=NDJSON, body=ndjson([{"message": "é" * 51, "stream": "stdout"}]))
    assert multibyte.status_code == 413, multibyte.text  # 102 bytes of UTF-8
    big = client.simulate_post(path, headers=NDJSON, body=ndjson([{"message": "y" * 90, "stream": "stdout"}] * 100))
    assert big.status_code == 413, big.text
    for r in (long_line, multibyte, big):
        assert_clean_error(r.content, 413)
    # Nothing of a refused body was stored, nor used up an order number: the next accepted line is number 2.
    assert (
        client.simulate_post(path, headers=NDJSON, body=ndjson([{"message": "z", "stream": "stdout"}])).status_code
        == 202
    )
    index = f"{settings.log_index_prefix}-*"
    stored = wait_until(
        lambda: len(read_lines(es, index, exe.cluster_id)) >= 2 and read_lines(es, index, exe.cluster_id),
        30,
        0.1,
        "the accepted lines in Elasticsearch",
    )
    assert [(d["scale_order_num"], d["message"]) for d in stored] == [(1, "x" * 100), (2, "z")]


@pytest.mark.parametrize("route", ["/v6/jobs/", "/v6/job-types/", "/v6/jobs/cancel/", "/v6/jobs/requeue/"])
def test_json_bodies_over_the_limit_are_413(make_client, seeded, route):
    """MAX_BODY_BYTES is documented as the request body limit (README); the JSON write routes must honour it."""
    client = make_client(max_body_bytes=2048)
    body = {
        "job_ids": [1] * 2000,
        "docker_image": "x" * 4000,
        "input": {"json": {"pad": "p" * 4000}},
        "job_type_id": seeded.job_type_ids[0],
        "manifest": {"pad": "m" * 4000},
    }
    r = client.simulate_post(route, json=body, headers=ADMIN)
    assert r.status_code == 413, (route, r.status_code, r.text[:200])
    assert_clean_error(r.content, 413)


# --- error bodies ----------------------------------------------------------------------------------------------


def test_error_bodies_show_nothing_internal(make_client, seeded):
    client = make_client()
    probes = [
        ("GET", "/v6/no-such-route/", None, {}),
        ("DELETE", "/v6/jobs/", None, ADMIN),
        ("GET", "/v6/jobs/999999999/", None, {}),
        ("GET", "/v6/jobs/?started=yesterday", None, {}),
        ("GET", "/v6/jobs/?order=no_such_column", None, {}),
        ("GET", "/v6/jobs/?job_id=1%27", None, {}),
        ("POST", "/v6/jobs/", b"{not json", {**ADMIN, "Content-Type": "application/json"}),
        ("POST", "/v6/jobs/", b"<xml/>", {**ADMIN, "Content-Type": "application/xml"}),
        ("POST", "/v6/jobs/", b'{"job_type_id": 999999, "input": {}}', {**ADMIN, "Content-Type": "application/json"}),
        (
            "PATCH",
            f"/v6/job-executions/{seeded.finished_exe_ids[0]}/",
            b'{"status": "COMPLETED"}',
            {**ADMIN, "Content-Type": "application/json"},
        ),
        ("POST", f"/v6/job-executions/{seeded.running[0].id}/logs/", b'{"message": 1}\n', NDJSON),
        ("GET", f"/v6/job-executions/{seeded.running[0].id}/logs/combined/?after=garbage", None, {}),
        ("GET", "/v6/logs/?page_size=1000&page=11", None, {}),
        ("GET", "/viewer/..%2Fapp.py", None, {}),
        ("GET", "/viewer/../../settings.py", None, {}),
    ]
    for method, path, body, headers in probes:
        r = client.simulate_request(method, path, body=body, headers=headers)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert_clean_error(r.content, r.status_code)

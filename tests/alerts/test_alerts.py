"""Alerts against real servers on loopback: Elasticsearch (the suite's node), a webhook receiver and an SMTP
server (tests/alerts/conftest.py). Each test runs the checker the API processes run (api/startup.py), or two
`python -m api.alerts.alert_process` processes; every wait polls with a deadline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client import REGISTRY

from api.alerts.alert_startup import start_alert_checker
from api.app import create_app
from api.services import build_services
from core.times import utcnow
from tests.alerts.conftest import SMTP_PASSWORD, SMTP_USER, wait_for
from tests.es_node import connection_env
from tests.search.helpers import NS, index_ours, our_doc

LINK = "http://scale.example"
REPO = Path(__file__).resolve().parents[2]
# Loopback only: the test server takes a login without TLS, which aiosmtpd warns about.
NO_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class ShiftedClock:
    """The real clock, moved on by `offset` when a test says so: a window can be left without waiting for it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


@pytest.fixture
def clock() -> ShiftedClock:
    """This module's app, stores and checker run on a ShiftedClock (the real clock until a test moves it)."""
    return ShiftedClock()


@pytest.fixture
def alerting(settings, clock, receiver, mailbox):
    """build(**settings changes) -> a client of the whole app, with this process's alert checker running on
    a short tick; webhooks under the receiver's /hooks allowed, email through the test's SMTP server."""
    built = []

    def build(**changes) -> testing.TestClient:
        defaults = dict(
            alert_webhook_allow=(f"{receiver.base}/hooks",),
            alert_min_interval_seconds=1,
            alert_tick_seconds=0.1,
            alert_retry_seconds=0.2,
            alert_link_url=LINK,
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
        )
        s = replace(settings, **(defaults | changes))
        services = build_services(s, clock)
        checker = start_alert_checker(s, services.stores, services.logs.search, clock)
        built.append((services, checker))
        return testing.TestClient(create_app(services, s, clock))

    yield build
    for services, checker in built:
        if checker is not None:
            checker.stop()
        services.close(ship_timeout=2.0)


def saved_search(client, auth, query: str = "q=boom") -> int:
    resp = client.simulate_post("/v6/saved-searches/", json={"name": f"s {query}", "query": query}, headers=auth)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def make_alert(client, auth, search_id: int, **fields) -> dict:
    body = {"saved_search_id": search_id, "threshold": 2, "window_minutes": 1, "interval_seconds": 1} | fields
    resp = client.simulate_post("/v6/alerts/", json=body, headers=auth)
    assert resp.status_code == 201, resp.json
    return resp.json


def history(client, auth, alert_id: int) -> list[dict]:
    resp = client.simulate_get(f"/v6/alerts/{alert_id}/history/", params={"page_size": 1000}, headers=auth)
    assert resp.status_code == 200, resp.json
    return resp.json["results"][::-1]  # oldest first


def lines(es, prefix: str, execution, messages: list[str], age_seconds: float) -> None:
    """Log lines of the execution, written `age_seconds` ago, one nanosecond apart."""
    start = time.time_ns() - int(age_seconds * NS)
    docs = [
        our_doc(
            execution.cluster_id,
            start + i,
            i + 1,
            message,
            scale_job_id=execution.job_id,
            scale_job_exe_num=execution.exe_num,
            scale_job_type=execution.job_type_name,
            scale_job_version=execution.job_type_version,
        )
        for i, message in enumerate(messages)
    ]
    index_ours(es, prefix, docs)


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_alert_fires_once_for_its_window_then_resolves_by_webhook_and_email(
    alerting, auth, receiver, mailbox, execution, es, log_prefix, clock
):
    client = alerting()
    fired_before = metric("scale_alert_evaluations_total", outcome="firing")
    delivered_before = metric("scale_alert_deliveries_total", target="webhook")
    search_id = saved_search(client, auth, "q=boom&stream=stdout")
    alert = make_alert(client, auth, search_id, webhook_url=receiver.url, email_to="ops@example.com")
    assert (alert["state"], alert["owner"]) == ("ok", "admin")
    first = wait_for(lambda: history(client, auth, alert["id"]), "the first evaluation")
    assert (first[0]["kind"], first[0]["count"], first[0]["state"]) == ("evaluated", 0, "ok")

    # Three matching lines (and one that does not match) land 40 s into the rule's 1-minute window; once the rule
    # has fired and been checked firing a few times, the clock moves on 25 s and they leave it: the rule resolves.
    lines(es, log_prefix, execution, ["boom one", "all calm", "boom two", "boom three"], age_seconds=40)
    body = wait_for(lambda: receiver.bodies, "the firing webhook")[0]
    assert body["event"] == "firing"
    assert body["count"] == 3
    assert body["alert"] == {
        "id": alert["id"],
        "url": f"{LINK}/v6/alerts/{alert['id']}/",
        "threshold": 2,
        "window_minutes": 1,
    }
    assert body["search"] == {
        "id": search_id,
        "name": "s q=boom&stream=stdout",
        "query": "q=boom&stream=stdout",
        "search_url": f"{LINK}/search?q=boom&stream=stdout",
        "api_url": f"{LINK}/v6/logs/?q=boom&stream=stdout",
    }
    assert [line["message"] for line in body["lines"]] == ["boom one", "boom two", "boom three"]
    for line, order in zip(body["lines"], (1, 3, 4)):
        assert (
            line["context_url"] == f"{LINK}/v6/job-executions/{execution.id}/logs/combined/?around={order}&context=20"
        )
        assert line["viewer_url"] == f"{LINK}/logs/{execution.id}?around={order}"
        assert (line["job_id"], line["exe_num"], line["job_exe_id"]) == (execution.job_id, 1, execution.id)
    print("webhook body received:", body)  # the sample the report quotes

    mail = wait_for(lambda: mailbox.messages, "the firing email")[0]
    assert "FIRING" in mail["Subject"]
    assert mail["To"] == "ops@example.com"
    assert (
        f"{LINK}/v6/job-executions/{execution.id}/logs/combined/?around=1&context=20"
        in mail.get_payload(decode=True).decode()
    )

    wait_for(
        lambda: (
            len([e for e in history(client, auth, alert["id"]) if (e["kind"], e["state"]) == ("evaluated", "firing")])
            >= 3
        ),
        "three checks while firing",
    )
    assert [b["event"] for b in receiver.bodies] == ["firing"]  # checked firing three times, notified once
    clock.offset = timedelta(seconds=25)
    resolved = wait_for(
        lambda: [b for b in receiver.bodies if b["event"] == "resolved"], "the resolving webhook", timeout=120
    )
    assert resolved[0]["count"] <= 2
    wait_for(lambda: len(mailbox.messages) == 2, "the resolving email")
    assert "RESOLVED" in mailbox.messages[1]["Subject"]
    # The receivers have the bodies before the checker records their delivery: wait for the records.
    events = wait_for(
        lambda: (
            (h := history(client, auth, alert["id"])) and len([e for e in h if e["kind"] == "delivered"]) >= 4 and h
        ),
        "the four deliveries recorded",
    )
    firing_checks = [e for e in events if e["kind"] == "evaluated" and e["state"] == "firing"]
    # Checked many times while firing, notified once: one firing and one resolved body, nothing else.
    assert len(firing_checks) >= 3
    assert [b["event"] for b in receiver.bodies] == ["firing", "resolved"]
    assert [e["event"] for e in events if e["kind"] == "evaluated" and e["event"]] == ["firing", "resolved"]
    delivered = [(e["event"], e["target"], e["attempt"]) for e in events if e["kind"] == "delivered"]
    assert sorted(delivered) == sorted(
        [("firing", "webhook", 1), ("firing", "email", 1), ("resolved", "webhook", 1), ("resolved", "email", 1)]
    )
    assert client.simulate_get(f"/v6/alerts/{alert['id']}/", headers=auth).json["state"] == "ok"
    assert metric("scale_alert_evaluations_total", outcome="firing") >= fired_before + 3
    assert metric("scale_alert_deliveries_total", target="webhook") == delivered_before + 2
    scraped = client.simulate_get("/metrics", headers=auth).text
    for series in ("scale_alert_evaluations_total", "scale_alert_firing_rules", "scale_alert_deliveries_total"):
        assert series in scraped


def test_a_receiver_that_answered_500_is_retried_with_backoff_and_then_delivered(
    alerting, auth, receiver, execution, es, log_prefix
):
    client = alerting()
    receiver.fail_next = [500, 503]
    failures_before = metric("scale_alert_delivery_failures_total", target="webhook", outcome="retry")
    lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
    alert = make_alert(client, auth, saved_search(client, auth), webhook_url=receiver.url)
    body = wait_for(lambda: receiver.bodies, "the delivery after two failures")[0]
    assert (body["event"], body["count"]) == ("firing", 3)
    assert receiver.attempts == 3
    # The receiver has the body before the checker records the delivery: wait for the record.
    recorded = wait_for(
        lambda: (h := history(client, auth, alert["id"])) and any(e["kind"] == "delivered" for e in h) and h,
        "the delivery recorded",
    )
    attempts = [(e["kind"], e["attempt"], e["detail"]) for e in recorded if e["target"]]
    assert attempts == [
        ("delivery_failed", 1, "the webhook answered HTTP 500"),
        ("delivery_failed", 2, "the webhook answered HTTP 503"),
        ("delivered", 3, None),
    ]
    assert metric("scale_alert_delivery_failures_total", target="webhook", outcome="retry") == failures_before + 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks/scale",  # another port
        "{base}/other",  # outside the allowed path
        "{base}/hooksX",  # a path that only starts with the same letters
        "http://user:secret@{host}/hooks/x",  # credentials in it
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_a_webhook_off_the_allow_list_is_refused_when_the_alert_is_made(alerting, auth, receiver, url):
    client = alerting()
    search_id = saved_search(client, auth)
    url = url.format(base=receiver.base, host=receiver.base.split("//")[1])
    body = {"saved_search_id": search_id, "threshold": 1, "window_minutes": 5, "interval_seconds": 60}
    resp = client.simulate_post("/v6/alerts/", json=body | {"webhook_url": url}, headers=auth)
    assert resp.status_code == 400
    assert resp.json["detail"].startswith('Parameter "webhook_url"')
    assert "secret" not in resp.json["detail"]


def test_a_webhook_taken_off_the_allow_list_is_refused_at_delivery(alerting, auth, receiver, execution, es, log_prefix):
    # The app allows the receiver; the checker (another process's settings, changed since) allows nothing.
    client = alerting(alert_checks=False)
    alerting(alert_webhook_allow=())
    lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
    alert = make_alert(client, auth, saved_search(client, auth), webhook_url=receiver.url)
    gave_up = wait_for(
        lambda: [e for e in history(client, auth, alert["id"]) if e["kind"] == "delivery_gave_up"], "the refusal"
    )
    assert (
        gave_up[0]["detail"]
        == "refused: the webhook URL is not on the allow-list of webhook targets (ALERT_WEBHOOK_ALLOW)"
    )
    assert receiver.url not in str(history(client, auth, alert["id"]))
    assert receiver.attempts == 0


def test_alert_fields_are_checked(alerting, auth, settings):
    client = alerting(smtp_host=None)
    search_id = saved_search(client, auth)
    base = {"saved_search_id": search_id, "threshold": 1, "window_minutes": 5, "interval_seconds": 60}
    cases = [
        ({**base}, '"webhook_url" or "email_to"'),
        ({**base, "email_to": "ops@example.com"}, "SMTP_HOST"),
        ({**base, "threshold": -1, "webhook_url": "x"}, '"threshold"'),
        ({**base, "window_minutes": 0}, '"window_minutes"'),
        ({**base, "interval_seconds": 0}, '"interval_seconds"'),
        ({k: v for k, v in base.items() if k != "threshold"} | {"webhook_url": "x"}, '"webhook_url"'),
        ({**base, "saved_search_id": "seven"}, '"saved_search_id"'),
    ]
    for body, words in cases:
        resp = client.simulate_post("/v6/alerts/", json=body, headers=auth)
        assert resp.status_code == 400, (body, resp.json)
        assert words in resp.json["detail"], (body, resp.json)
    missing = client.simulate_post(
        "/v6/alerts/", json=base | {"saved_search_id": 999, "webhook_url": "x"}, headers=auth
    )
    assert missing.status_code == 400  # the URL is checked first: not on the (empty) list


def test_two_alert_processes_never_both_deliver(
    settings, make_client, auth, receiver, execution, es, log_prefix, tmp_path, elasticsearch_url
):
    client = make_client(alert_webhook_allow=(f"{receiver.base}/hooks",), alert_min_interval_seconds=1)
    lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
    search_id = saved_search(client, auth)
    alerts = [make_alert(client, auth, search_id, webhook_url=receiver.url)["id"] for _ in range(6)]
    env = {
        **os.environ,
        **connection_env(elasticsearch_url),
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(tmp_path),
        "API_TOKEN": settings.api_token,
        "LOG_INDEX_PREFIX": log_prefix,
        "LOG_LEGACY_INDICES": f"{log_prefix}-legacy-*",
        "ALERT_WEBHOOK_ALLOW": f"{receiver.base}/hooks",
        "ALERT_TICK_SECONDS": "0.05",
        "LOG_FORMAT": "text",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api.alerts.alert_process"],
            cwd=REPO,
            env=env,
            stdout=open(tmp_path / f"alerts-{n}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(2)
    ]
    try:
        wait_for(lambda: len(receiver.bodies) >= len(alerts), "a firing body for every alert")

        def holders() -> set[str]:
            return {e["holder"] for a in alerts for e in history(client, auth, a) if e["kind"] == "evaluated"}

        # Both processes check (each claims some evaluations), and every rule is checked again and again.
        wait_for(lambda: len({h.rsplit(":", 2)[1] for h in holders()}) == 2, "evaluations by both processes")
        wait_for(
            lambda: all(len([e for e in history(client, auth, a) if e["kind"] == "evaluated"]) >= 4 for a in alerts),
            "four evaluations of every rule",
        )
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait(timeout=30)
    assert sorted(b["alert"]["id"] for b in receiver.bodies) == sorted(alerts)
    assert receiver.attempts == len(alerts)
    assert [p.returncode for p in processes] == [0, 0], [(tmp_path / f"alerts-{n}.log").read_text() for n in range(2)]


@NO_TLS
def test_email_logs_in_to_the_smtp_server(alerting, auth, guarded_mailbox, execution, es, log_prefix):
    client = alerting(smtp_port=guarded_mailbox.port, smtp_username=SMTP_USER, smtp_password=SMTP_PASSWORD)
    lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
    make_alert(client, auth, saved_search(client, auth), email_to="ops@example.com, oncall@example.com")
    mail = wait_for(lambda: guarded_mailbox.messages, "the email sent after logging in")[0]
    assert "FIRING" in mail["Subject"]
    assert mail["To"] == "ops@example.com, oncall@example.com"


@NO_TLS
def test_a_refused_smtp_login_is_retried_and_recorded_without_the_password(
    alerting, auth, guarded_mailbox, execution, es, log_prefix, log_stream, settings
):
    wrong = "wrong-secret-91c4"
    logs = log_stream("INFO", "text")
    client = alerting(smtp_port=guarded_mailbox.port, smtp_username=SMTP_USER, smtp_password=wrong)
    assert wrong not in repr(replace(settings, smtp_password=wrong))
    lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
    alert = make_alert(client, auth, saved_search(client, auth), email_to="ops@example.com")
    failed = wait_for(
        lambda: [e for e in history(client, auth, alert["id"]) if e["kind"] == "delivery_failed"][1:],
        "two refused logins",
    )
    assert failed[0]["detail"] == "the SMTP server refused the login (code 535)"
    listed = client.simulate_get(f"/v6/alerts/{alert['id']}/history/", headers=auth).text
    assert wrong not in listed
    assert "refused the login" in logs.getvalue()
    assert wrong not in logs.getvalue()
    assert guarded_mailbox.messages == []


def test_gunicorn_workers_check_alerts_and_notify_once(
    settings, make_client, auth, receiver, execution, es, log_prefix, tmp_path
):
    from tests.conftest import ADMIN_TOKEN
    from tests.ops.test_cli import environment, scale
    from tests.reliability.harness import Gunicorn

    server = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        log_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={
            "ALERT_WEBHOOK_ALLOW": f"{receiver.base}/hooks",
            "ALERT_TICK_SECONDS": "0.1",
            "ALERT_MIN_INTERVAL_SECONDS": "1",
        },
    ).start()
    try:
        client = make_client(alert_webhook_allow=(f"{receiver.base}/hooks",), alert_min_interval_seconds=1)
        lines(es, log_prefix, execution, ["boom"] * 3, age_seconds=1)
        alert = make_alert(client, auth, saved_search(client, auth), webhook_url=receiver.url)
        wait_for(lambda: receiver.bodies, "the webhook sent by a gunicorn worker")
        wait_for(
            lambda: len([e for e in history(client, auth, alert["id"]) if e["kind"] == "evaluated"]) >= 5,
            "five evaluations",
        )
        scraped = server.client(token=ADMIN_TOKEN).get("/metrics").body.decode()
        # The scale command line lists them (scalecli/alerts.py).
        env = environment(server)
        listed = scale("alerts", env=env)
        assert listed.returncode == 0, listed.stderr
        assert "FIRING" in listed.stdout and "> 2 in 1 min" in listed.stdout
        searches = scale("saved-searches", "--json", env=env)
        assert json.loads(searches.stdout)["results"][0]["query"] == "q=boom"
        events = scale("alert-history", str(alert["id"]), env=env)
        assert events.returncode == 0 and "delivered" in events.stdout and "evaluated" in events.stdout
        missing = scale("alert-history", "999", env=env)
        assert (missing.returncode, "404 Not found." in missing.stderr) == (1, True), missing.stderr
    finally:
        server.stop()
    assert receiver.attempts == 1
    assert 'scale_alert_deliveries_total{target="webhook"} 1.0' in scraped
    assert "scale_alert_firing_rules 1.0" in scraped

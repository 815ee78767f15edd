"""Saved searches: read-only users save their own, private ones exist only for their owner, only the owner or
staff change one, and the query saved is checked as /v6/logs/ checks its parameters. SQL only (no Elasticsearch):
the app is built without log services, every response checked against the served OpenAPI document."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.app import create_app
from api.services import Services
from jobs.stores import Stores
from tests.jobs.contract import ContractClient

READ_TOKEN = "read-token-for-saved-searches"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(sql_settings, clock):
    settings = replace(sql_settings, read_token=READ_TOKEN)
    stores = Stores.open(settings.database_url, clock)
    yield ContractClient(create_app(Services(stores), settings, clock))
    stores.close()


@pytest.fixture
def people(stores) -> dict[str, dict]:
    """Credentials of: alice and bob (read-only people), staff (a staff person), the reader (READ_TOKEN)."""
    stores.users.add_user("alice", None)
    stores.users.add_user("bob", None)
    stores.users.add_user("boss", None, is_staff=True)
    stores.users.add_user("robot", None, is_staff=True)
    tokens = {name: stores.users.create_token(name, "t")[0] for name in ("alice", "bob", "boss")}
    executor, _ = stores.users.create_token("robot", "exec", scope="executor")
    return {
        **{name: bearer(token) for name, token in tokens.items()},
        "reader": bearer(READ_TOKEN),
        "executor": bearer(executor),
    }


def save(api, who: dict, name: str = "errors", query: str = "q=error&stream=stderr", shared: bool = False):
    return api.simulate_post("/v6/saved-searches/", json={"name": name, "query": query, "shared": shared}, headers=who)


def names(api, who: dict) -> list[str]:
    resp = api.simulate_get("/v6/saved-searches/", headers=who)
    assert resp.status_code == 200, resp.json
    return [s["name"] for s in resp.json["results"]]


def test_a_read_only_user_saves_a_private_search_nobody_else_sees(api, people):
    resp = save(api, people["alice"], "mine", "?q=timeout&job_type_name=ingest")
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert (body["owner"], body["query"], body["shared"], body["can_change"]) == (
        "alice",
        "q=timeout&job_type_name=ingest",
        False,
        True,
    )
    assert body["search_url"].endswith("/search?q=timeout&job_type_name=ingest")
    assert resp.headers["Location"].endswith(f"/v6/saved-searches/{body['id']}/")
    assert names(api, people["alice"]) == ["mine"]
    for other in ("bob", "boss", "reader"):
        assert names(api, people[other]) == []
        url = f"/v6/saved-searches/{body['id']}/"
        assert api.simulate_get(url, headers=people[other]).status_code == 404
        assert api.simulate_patch(url, json={"name": "x"}, headers=people[other]).status_code == 404
        assert api.simulate_delete(url, headers=people[other]).status_code == 404
    assert api.simulate_get(f"/v6/saved-searches/{body['id']}/", headers=people["alice"]).json["name"] == "mine"


def test_a_shared_search_is_seen_by_all_and_changed_by_its_owner_or_staff(api, people):
    made = save(api, people["reader"], "shared one", shared=True).json
    url = f"/v6/saved-searches/{made['id']}/"
    assert made["owner"] == "reader"
    for who in ("alice", "bob", "boss"):
        assert names(api, people[who]) == ["shared one"]
    seen = api.simulate_get(url, headers=people["alice"]).json
    assert seen["can_change"] is False
    refused = api.simulate_patch(url, json={"name": "mine now"}, headers=people["alice"])
    assert refused.status_code == 403
    assert "owner" in refused.json["detail"]
    assert api.simulate_delete(url, headers=people["bob"]).status_code == 403
    changed = api.simulate_patch(url, json={"query": "q=panic"}, headers=people["reader"])
    assert (changed.status_code, changed.json["query"], changed.json["name"]) == (200, "q=panic", "shared one")
    by_staff = api.simulate_patch(url, json={"shared": False}, headers=people["boss"])
    assert (by_staff.status_code, by_staff.json["shared"], by_staff.json["owner"]) == (200, False, "reader")
    assert names(api, people["alice"]) == []  # private again: gone for others
    assert api.simulate_delete(url, headers=people["reader"]).status_code == 204
    assert api.simulate_get(url, headers=people["reader"]).status_code == 404


def test_staff_delete_a_shared_search_and_the_alerts_on_it_go_too(api, people, stores):
    made = save(api, people["alice"], shared=True).json
    stores.alerts.create(
        "alice",
        made["id"],
        dict(threshold=1, window_minutes=5, interval_seconds=60, webhook_url="http://x/", email_to=None, enabled=True),
    )
    assert api.simulate_delete(f"/v6/saved-searches/{made['id']}/", headers=people["boss"]).status_code == 204
    assert api.simulate_get("/v6/alerts/", headers=people["boss"]).json["count"] == 0


def test_names_are_unique_per_owner(api, people):
    assert save(api, people["alice"], "same").status_code == 201
    again = save(api, people["alice"], "same")
    assert again.status_code == 400
    assert '"name"' in again.json["detail"]
    assert save(api, people["bob"], "same").status_code == 201


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "query": "stream=stdin"}, ['"query"', "stream"]),
        ({"name": "x", "query": "colour=red"}, ['"query"', "colour"]),
        ({"name": "x", "query": "started=yesterday"}, ['"query"', "started"]),
        ({"name": "x", "query": "job_id=abc"}, ['"query"', "job_id"]),
        ({"name": "x", "query": "q=%20"}, ['"query"', '"q"']),
        ({"name": "x", "query": "regex=a.*"}, ['"query"']),
        ({"name": "   ", "query": "q=a"}, ['"name"']),
        ({"query": "q=a"}, ['"name"']),
        ({"name": "x"}, ['"query"']),
        ({"name": "x", "query": "q=a", "shared": "maybe"}, ['"shared"']),
    ],
)
def test_a_search_that_could_not_run_is_refused_naming_the_parameter(api, people, body, words):
    resp = api.simulate_post("/v6/saved-searches/", json=body, headers=people["alice"])
    assert resp.status_code == 400, resp.json
    for word in words:
        assert word in resp.json["detail"]


def test_anonymous_callers_and_executor_tokens_keep_no_searches(api, people):
    assert api.simulate_get("/v6/saved-searches/").status_code == 401
    assert api.simulate_post("/v6/saved-searches/", json={"name": "x", "query": "q=a"}).status_code == 401
    refused = save(api, people["executor"])
    assert refused.status_code == 403
    assert "executor" in refused.json["detail"]

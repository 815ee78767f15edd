"""Attack: lock a user out by failing her logins (from anywhere: ten used to be enough, and the right password
was refused too), and race the throttle with concurrent guesses. Now failures count per (username, address):
the attacker's pair backs off, the user logs in from her own address at once; concurrent guesses are counted
one upsert each before any is verified, so the burst can't get more guesses verified than the free ones."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from falcon import testing

from api.app import create_app
from api.services import Services
from jobs.stores import Stores
from jobs.user_store import LoginLimits

LOGIN = "/v6/accounts/login/"
CSRF = "c" * 43
PASSWORD = "alice's long passphrase"
# The clock stands still, so that no wait runs out while the attack goes on: what is counted is exact.
FROZEN = datetime(2030, 1, 1, tzinfo=UTC)


def frozen():
    return FROZEN


def attempt(client, username: str, password: str, address: str) -> int:
    return client.simulate_post(
        LOGIN,
        json={"username": username, "password": password},
        headers={"X-CSRFToken": CSRF},
        cookies={"csrftoken": CSRF},
        remote_addr=address,
    ).status_code


def test_guesses_from_elsewhere_never_lock_the_user_out(sql_settings):
    stores = Stores.open(sql_settings.database_url, frozen)
    stores.users.add_user("alice", PASSWORD, is_staff=True)
    client = testing.TestClient(create_app(Services(stores), sql_settings, frozen))
    answers = [attempt(client, "alice", f"guess {n}", "198.51.100.66") for n in range(60)]
    assert answers.count(401) == stores.users.limits.free_failures and answers.count(429) == 55
    assert attempt(client, "alice", PASSWORD, "192.0.2.10") == 200
    # Even on the attacker's address (a shared proxy) the wait is bounded, never a lockout.
    assert LoginLimits().delay(10_000) == 15 * 60
    stores.close()


def test_concurrent_guesses_cannot_outrun_the_count(sql_settings):
    # Every worker of a server is its own process with its own stores: 8 apps on one database, 8 threads each.
    apps = []
    opened = []
    for _ in range(8):
        opened.append(Stores.open(sql_settings.database_url, frozen))
        apps.append(testing.TestClient(create_app(Services(opened[-1]), sql_settings, frozen)))
    opened[0].users.add_user("bob", "bob's long passphrase")
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda n: attempt(apps[n % 8], "bob", f"guess {n}", "198.51.100.7"), range(64)))
    finally:
        for s in opened:
            s.close()
    # Only the free failures are ever verified (401), every other guess waits (429).
    assert answers.count(401) == LoginLimits().free_failures, answers
    assert answers.count(429) == 64 - LoginLimits().free_failures

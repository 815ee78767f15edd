"""A secured cluster (x-pack security: HTTPS with the node's own CA, users, API keys limited to roles): the
service works with exactly the roles of mappings/es-roles.json; at start-up each thing that can never work
(credentials refused, an untrusted certificate, each missing privilege) stops gunicorn, the worker and the
ingest command line with one line naming the variable; a cluster that is only down does not; privileges lost
at run time give clear 503s and keep lines spooled; no secret ever reaches a log line or a response body.

The node is the suite's own with ES_SECURITY=1, else one started for these tests (conftest's
secured_connection); the API keys are made from mappings/es-roles.json (tests/es_node.py's role_key).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from falcon import testing

from api.app import create_app
from api.services import build_services
from api.startup import preflight_or_exit
from core.elastic import elasticsearch_client
from core.times import utcnow
from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.shipper import Shipper
from ingest.template import LogTemplate, ensure_template
from tests.conftest import ADMIN_TOKEN, remove_log_indices
from tests.es_node import ROOT, role_descriptors, role_key
from tests.factories import manifest
from tests.reliability.harness import Gunicorn, free_port, ndjson, wait_until

WRITER, READER, RETENTION = "scalelogs_writer", "scalelogs_reader", "scalelogs_retention"
ROLES_HINT = "; the roles are in mappings/es-roles.json"


@pytest.fixture(scope="module")
def admin(secured_connection):
    client = secured_connection.admin(request_timeout=60)
    yield client
    client.close()


@pytest.fixture
def prefix(admin) -> str:
    """Log indices of this test (under `test-`, which the roles' patterns cover); deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    remove_log_indices(admin, name)


@pytest.fixture
def secured_settings(sql_settings, secured_connection, prefix):
    """The service's settings on the secured node; the API key is chosen per test (api_key=...)."""
    return replace(
        sql_settings,
        **secured_connection.settings_changes(),
        log_index_prefix=prefix,
        legacy_log_indices=(f"{prefix}-legacy-*",),
    )


def refusal(settings) -> str:
    """The line gunicorn's master would stop with (preflight_or_exit), or "" when it would start."""
    try:
        preflight_or_exit(settings)
    except SystemExit as stop:
        return str(stop.code)
    return ""


def test_the_service_works_with_exactly_the_writer_and_reader_roles(admin, secured_settings, prefix, stores):
    settings = replace(secured_settings, elasticsearch_api_key=role_key(admin, [WRITER, READER]))
    assert refusal(settings) == ""
    services = build_services(settings, utcnow)
    client = testing.TestClient(create_app(services, settings, utcnow))
    try:
        job_type, _ = stores.job_types.save_job_type("img:1", manifest("secured", command="run"))
        exe = stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), "node-1")
        lines = [{"message": f"line {i}", "stream": "stdout"} for i in range(1, 6)]
        posted = client.simulate_post(
            f"/v6/job-executions/{exe.id}/logs/",
            body=ndjson(lines),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/x-ndjson"},
        )
        assert (posted.status_code, posted.json) == (202, {"accepted": 5})
        read = wait_until(
            lambda: (
                (
                    r := client.simulate_get(f"/v6/job-executions/{exe.id}/logs/combined/", params={"format": "txt"})
                ).status_code
                == 200
                and r
            ),
            30,
            0.2,
            "the lines readable",
        )
        assert read.text.splitlines() == [f"line {i}" for i in range(1, 6)]
        found = client.simulate_get("/v6/logs/", params={"q": "line"})
        assert found.status_code == 200 and found.json["count"] == 5
        ready = client.simulate_get("/readyz")
        assert ready.status_code == 200 and ready.json["elasticsearch"]["version"]
        # The writer role's template privilege was used: the template is in the cluster.
        assert admin.indices.get_index_template(name=f"{prefix}-logs")["index_templates"]
    finally:
        services.logs.writer.close(timeout=5)
        services.stores.close()


# (roles, privilege left out, settings changes, what the line says is missing)
MISSING = [
    ([WRITER, READER], "create_doc", {}, "the index privilege create_doc on {p}-* (role scalelogs_writer)"),
    ([WRITER, READER], "create_index", {}, "the index privilege create_index on {p}-* (role scalelogs_writer)"),
    (
        [WRITER, READER],
        "manage_index_templates",
        {},
        "the cluster privilege manage_index_templates (to put the log index template; or apply it once with "
        "`python -m ingest apply-template`) (role scalelogs_writer)",
    ),
    (
        [WRITER, READER],
        "read",
        {},
        "the index privilege read on {p}-* (role scalelogs_reader), "
        "the index privilege read on {p}-legacy-* (role scalelogs_reader)",
    ),
    ([WRITER, READER], "monitor", {}, "the cluster privilege monitor (role scalelogs_reader)"),
    (
        [WRITER, READER, RETENTION],
        "delete_index",
        {"log_retention_days": 30},
        "the index privilege delete_index on {p}-* (role scalelogs_retention)",
    ),
    (
        [WRITER, READER, RETENTION],
        "view_index_metadata",
        {"log_retention_days": 30},
        "the index privilege view_index_metadata on {p}-* (role scalelogs_retention)",
    ),
]


@pytest.mark.parametrize(("roles", "left_out", "changes", "missing"), MISSING, ids=[m[1] for m in MISSING])
def test_each_missing_privilege_stops_the_start_with_one_line(
    admin, secured_settings, prefix, roles, left_out, changes, missing
):
    settings = replace(secured_settings, elasticsearch_api_key=role_key(admin, roles, without=[left_out]), **changes)
    expected = f"gunicorn: ELASTICSEARCH_API_KEY: the API key lacks {missing.format(p=prefix)}{ROLES_HINT}"
    assert refusal(settings) == expected
    # With the privilege the same start passes: the line was about that privilege alone.
    assert refusal(replace(settings, elasticsearch_api_key=role_key(admin, roles))) == ""


def test_retention_role_is_needed_where_the_service_prunes_and_ilm_is_refused_without_ilm(admin, secured_settings):
    both = replace(secured_settings, elasticsearch_api_key=role_key(admin, [WRITER, READER]))
    assert "delete_index" in refusal(replace(both, log_retention_days=30))
    # With an ILM policy the cluster deletes, so no retention role is needed; but this node has no ILM
    # (x-pack-ilm is not on Maven Central), so the template that names the policy is refused, in one line.
    line = refusal(replace(both, log_retention_days=30, log_ilm_policy="scalelogs-30d"))
    assert line.startswith(
        "gunicorn: LOG_ILM_POLICY: the cluster has no index lifecycle management (ILM); the cluster refuses the log "
        f"index template: index_template [{secured_settings.log_index_prefix}-logs] invalid"
    )
    assert "unknown setting [index.lifecycle.name]" in line and "\n" not in line


def test_a_template_an_operator_applied_needs_no_template_privilege(admin, secured_settings):
    without = replace(
        secured_settings, elasticsearch_api_key=role_key(admin, [WRITER, READER], without=["manage_index_templates"])
    )
    assert "manage_index_templates" in refusal(without)
    # The operator applies it with their own credentials (the elastic user here), as `ingest apply-template` does.
    assert ensure_template(admin, LogTemplate.of(without)) is True
    assert refusal(without) == ""  # monitor (reader role) lets the check see it is current


# --- the same lines from the real programs ----------------------------------------------------------------


def run_program(argv: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    full = dict(
        os.environ,
        DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'programs.db'}",
        API_TOKEN=ADMIN_TOKEN,
        HOST="127.0.0.1",
        PORT=str(free_port()),
        WORKERS="1",
        PYTHONPATH=str(ROOT),
        **env,
    )
    for name in ("ELASTICSEARCH_API_KEY", "ELASTICSEARCH_CA_CERTS", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(argv, cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


GUNICORN = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "api.wsgi:app"]
SHIP = [sys.executable, "-m", "ingest", "ship", "--cluster-id", "scale_job_1x1", "--first-order", "1", "/dev/null"]


def test_start_up_lines_of_gunicorn_and_the_ingest_command(admin, secured_connection, prefix, tmp_path):
    url, ca = secured_connection.url, secured_connection.ca_certs
    good = role_key(admin, [WRITER, READER])
    password = secured_connection.admin_auth[1]
    other_ca = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA"]
        + ["-keyout", str(tmp_path / "other-ca.key"), "-out", str(other_ca)],
        check=True,
        capture_output=True,
    )
    base = {"ELASTICSEARCH_URL": url, "LOG_INDEX_PREFIX": prefix, "LOG_LEGACY_INDICES": f"{prefix}-legacy-*"}
    wrong_key = base64.b64encode(b"nope:nope").decode()
    cases = [
        (
            GUNICORN,
            {"ELASTICSEARCH_API_KEY": wrong_key, "ELASTICSEARCH_CA_CERTS": ca},
            "gunicorn: ELASTICSEARCH_API_KEY is not accepted by the cluster (401)",
        ),
        (
            GUNICORN,
            {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "wrong", "ELASTICSEARCH_CA_CERTS": ca},
            "gunicorn: ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD: the user elastic and its password are not "
            "accepted by the cluster (401)",
        ),
        (
            GUNICORN,
            {"ELASTICSEARCH_API_KEY": good},
            "gunicorn: ELASTICSEARCH_CA_CERTS: the cluster's certificate is "
            "not signed by a CA this machine trusts; set ELASTICSEARCH_CA_CERTS to the CA's PEM file (or "
            "ELASTICSEARCH_SSL_FINGERPRINT)",
        ),
        (
            GUNICORN,
            {"ELASTICSEARCH_API_KEY": good, "ELASTICSEARCH_CA_CERTS": str(other_ca)},
            "gunicorn: ELASTICSEARCH_CA_CERTS: the cluster's certificate is not signed by it",
        ),
        (
            GUNICORN,
            {
                "ELASTICSEARCH_API_KEY": role_key(admin, [WRITER, READER], without=["create_doc"]),
                "ELASTICSEARCH_CA_CERTS": ca,
            },
            f"gunicorn: ELASTICSEARCH_API_KEY: the API key lacks the index privilege create_doc on {prefix}-* "
            f"(role scalelogs_writer){ROLES_HINT}",
        ),
        (
            SHIP,
            {"ELASTICSEARCH_API_KEY": wrong_key, "ELASTICSEARCH_CA_CERTS": ca},
            "python -m ingest ship: ELASTICSEARCH_API_KEY is not accepted by the cluster (401)",
        ),
        (
            SHIP,
            {"ELASTICSEARCH_API_KEY": good, "ELASTICSEARCH_CA_CERTS": str(tmp_path / "missing.pem")},
            f"python -m ingest ship: ELASTICSEARCH_CA_CERTS: cannot use {tmp_path / 'missing.pem'}: No such file or "
            "directory",
        ),
        (SHIP, {"ELASTICSEARCH_URL": url.replace("https:", "http:"), "ELASTICSEARCH_API_KEY": good}, None),
    ]
    for argv, env, line in cases:
        done = run_program(argv, {**base, **env}, tmp_path)
        output = done.stdout + done.stderr
        for secret in (good, wrong_key, password):
            assert secret not in output, f"{argv[-1]}: a secret in its output"
        if line is None:  # http:// to an HTTPS node: no answer to plain HTTP is not fatal (lines would spool)
            assert done.returncode == 0, output
            assert "ELASTICSEARCH_URL must say https://" in output
            continue
        assert done.returncode != 0, f"{argv[-1]} started: {output[-500:]}"
        assert "Traceback" not in output, output[-2000:]
        assert done.stderr.strip().splitlines()[-1] == line, output[-1000:]


def test_a_cluster_that_is_down_does_not_stop_the_service(secured_connection, prefix, tmp_path, sql_settings):
    dead = f"https://127.0.0.1:{free_port()}"
    server = Gunicorn(tmp_path / "api", sql_settings.database_url, dead, prefix, ADMIN_TOKEN, workers=1)
    server.extra_env.update(ELASTICSEARCH_CA_CERTS=secured_connection.ca_certs or "", ELASTICSEARCH_TIMEOUT="2")
    server.start()
    try:
        http = server.client()
        assert http.get("/v6/jobs/").status == 200
        assert http.get("/v6/logs/?q=x").status == 503
        assert "Elasticsearch does not answer at " + dead in server.log_tail(200)
    finally:
        server.stop()


# --- privileges lost at run time, and secrets ------------------------------------------------------------


def test_privileges_lost_at_run_time_give_clear_answers_keep_lines_and_no_secret_leaks(
    admin, secured_connection, prefix, stores, sql_settings, tmp_path
):
    created = admin.security.create_api_key(
        name=f"test-{uuid.uuid4().hex[:8]}", role_descriptors=role_descriptors([WRITER, READER])
    )
    key_id, key, secret = created["id"], created["encoded"], created["api_key"]
    password = secured_connection.admin_auth[1]
    seeded_type, _ = stores.job_types.save_job_type("img:1", manifest("secured", command="run"))
    exe = stores.executions.start_execution(stores.jobs.create_job(seeded_type.id, {}), "node-1")
    server = Gunicorn(
        tmp_path / "api", sql_settings.database_url, secured_connection.url, prefix, ADMIN_TOKEN, workers=1
    )
    server.extra_env.update(
        ELASTICSEARCH_API_KEY=key, ELASTICSEARCH_CA_CERTS=secured_connection.ca_certs or "", ELASTICSEARCH_TIMEOUT="5"
    )
    bodies: list[bytes] = []
    server.start()
    http = server.client()

    def get(path: str):
        answer = http.get(path)
        bodies.append(answer.body)
        return answer

    def post(batch: int):
        lines = [{"message": f"batch {batch} line {i}", "stream": "stdout"} for i in range(1, 4)]
        answer = http.post(
            f"/v6/job-executions/{exe.id}/logs/",
            ndjson(lines),
            headers={"Content-Type": "application/x-ndjson"},
            token=ADMIN_TOKEN,
        )
        bodies.append(answer.body)
        assert answer.status == 202, answer.body
        return [line["message"] for line in lines]

    def stored() -> list[str]:
        admin.indices.refresh(index=f"{prefix}-*")
        hits = admin.search(index=f"{prefix}-*", size=100, sort=[{"scale_order_num": "asc"}])["hits"]["hits"]
        return [h["_source"]["message"] for h in hits]

    def set_privileges(without: list[str]) -> None:
        admin.security.update_api_key(id=key_id, role_descriptors=role_descriptors([WRITER, READER], without=without))

    logs = f"/v6/job-executions/{exe.id}/logs/combined/?format=json"
    try:
        sent = post(1)
        wait_until(lambda: stored() == sent, 30, 0.2, "the first batch stored")
        assert get(logs).status == 200 and get("/readyz").status == 200

        set_privileges(without=["read"])  # a role changed after start-up
        lost_read = wait_until(lambda: (a := get(logs)).status == 503 and a, 30, 0.5, "reads refused")
        assert "refused the service's credentials (403)" in lost_read.json["detail"]

        set_privileges(without=["create_doc"])
        kept = post(2)  # accepted (spooled), not stored while the privilege is missing
        wait_until(
            lambda: (
                "Elasticsearch refused the service's credentials (403), 3 lines stay spooled" in server.log_tail(400)
            ),
            30,
            0.5,
            "the refusal logged",
        )
        assert stored() == sent

        set_privileges(without=[])  # restored: the spooled lines go out, once
        wait_until(lambda: stored() == sent + kept, 60, 0.5, "the spooled batch stored")
        assert get(logs).status == 200

        admin.security.invalidate_api_key(ids=[key_id])
        revoked = wait_until(lambda: (a := get(logs)).status == 503 and a, 30, 0.5, "reads refused")
        assert "refused the service's credentials (401)" in revoked.json["detail"]
        assert get("/readyz").status == 503
    finally:
        http.close()
        server.stop()
    log_text = (server.data_dir / f"gunicorn-{server.port}.log").read_text(errors="replace")
    assert "Elasticsearch refused the service's credentials (401)" in log_text
    everything = log_text + "".join(b.decode(errors="replace") for b in bodies)
    for leak in (key, secret, password, base64.b64encode(f"elastic:{password}".encode()).decode()):
        assert leak not in everything


def test_lines_refused_item_by_item_stay_spooled_until_credentials_that_may_write_them(
    admin, secured_settings, prefix, tmp_path
):
    """A key that may create both indices but write documents into the 2030 one only: the bulk request passes,
    its 2031 item is refused (403); those lines stay in the spool (not counted as refused data) and the next process
    with the right key ships them."""
    narrow = {
        "narrow": {
            "cluster": ["monitor"],  # sees that the template (put by an operator below) is current
            "indices": [
                {"names": [f"{prefix}-*"], "privileges": ["create_index"]},
                {"names": [f"{prefix}-2030*"], "privileges": ["create_doc"]},
            ],
        }
    }
    created = admin.security.create_api_key(name=f"test-{uuid.uuid4().hex[:8]}", role_descriptors=narrow)
    ns_2030, ns_2031 = 1_893_456_000 * 10**9, 1_924_992_000 * 10**9  # 2030-01-01, 2031-01-01 UTC
    lines = [CapturedLine("in 2030", "stdout", ns_2030, 1), CapturedLine("in 2031", "stdout", ns_2031, 2)]
    spool = tmp_path / "spool"
    settings = replace(secured_settings, elasticsearch_api_key=created["encoded"])
    ensure_template(admin, LogTemplate.of(settings))
    first = Shipper(elasticsearch_client(settings), LogTemplate.of(settings), spool, backoff=(0.1, 0.5))
    batch = first.submit(*bulk_pairs(prefix, Origin("scale_job_9x1"), lines))
    wait_until(lambda: (first.last_failure or "").startswith("403:"), 30, 0.1, "the 2031 item refused")
    assert not batch.finished.is_set() and first.error_count == 0
    assert first.close(timeout=1) is False  # not drained: the batch stays in the spool

    full = replace(settings, elasticsearch_api_key=role_key(admin, [WRITER]))
    second = Shipper(elasticsearch_client(full), LogTemplate.of(full), spool, backoff=(0.1, 0.5))
    assert second.flush(60) and second.close(timeout=5)
    admin.indices.refresh(index=f"{prefix}-*")
    found = admin.search(index=f"{prefix}-*", sort=[{"scale_order_num": "asc"}])["hits"]["hits"]
    # The 2030 line was stored by the first pass already; the replay of the batch finds it (409) and adds 2031.
    assert [h["_source"]["message"] for h in found] == ["in 2030", "in 2031"]
    assert (second.stored, second.duplicates, second.error_count) == (1, 1, 0)

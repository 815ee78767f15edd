"""group=execution: one row per execution with matches, its job facts from SQL, its count and first match."""

from __future__ import annotations

from api.app import create_app
from api.services import build_services
from tests.jobs.contract import ContractClient
from tests.search.helpers import BASE_NS, NS, index_legacy, index_ours, legacy_doc, our_doc


def test_one_row_per_execution_in_order_of_first_match(es, log_prefix, settings, clock, start_execution, stores):
    exes = [start_execution() for _ in range(3)]
    docs = []
    for n, exe in enumerate(exes):  # exe 2 matches first, then exe 0, then exe 1; exe i has 10 * (i + 1) matches
        start = BASE_NS + [1, 2, 0][n] * NS
        docs += [
            our_doc(exe.cluster_id, start + i, i + 1, "Traceback: boom" if i % 2 else "ok") for i in range(20 * (n + 1))
        ]
    index_ours(es, log_prefix, docs)
    index_legacy(es, log_prefix, [legacy_doc("old-run", BASE_NS + 5 * NS, "Traceback: legacy")])
    stores.executions.finish_execution(exes[1].id, "FAILED")
    services = build_services(settings, clock)
    client = ContractClient(create_app(services, settings, clock))
    try:
        r = client.simulate_get("/v6/logs/", params={"q": "Traceback", "group": "execution"})
        assert r.status_code == 200, r.text
        rows = r.json["results"]
        assert r.json["count"] == 4
        assert [row["cluster_id"] for row in rows] == [
            exes[2].cluster_id,
            exes[0].cluster_id,
            exes[1].cluster_id,
            "old-run",
        ]
        assert [row["matches"] for row in rows] == [30, 10, 20, 1]
        assert [row["job_exe_id"] for row in rows] == [exes[2].id, exes[0].id, exes[1].id, None]
        assert rows[2]["job_status"] == "FAILED" and rows[0]["job_status"] == "RUNNING"
        first = rows[0]["first_match"]
        assert first["scale_order_num"] == 2 and first["context_url"].endswith("?around=2&context=20")
        paged = client.simulate_get(
            "/v6/logs/", params={"q": "Traceback", "group": "execution", "page_size": "2", "page": "2"}
        )
        assert [row["cluster_id"] for row in paged.json["results"]] == [exes[1].cluster_id, "old-run"]
        bad = client.simulate_get("/v6/logs/", params={"q": "x", "group": "execution", "cursor": "*"})
        assert bad.status_code == 400 and '"group"' in bad.json["detail"]
        assert client.simulate_get("/v6/logs/", params={"group": "job"}).status_code == 400
    finally:
        services.stores.close()

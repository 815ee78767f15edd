"""Schemathesis against our own /v6/openapi.json, served by the real app (WSGI, real Elasticsearch and database).

Every operation of the document, positive and negative data: no 5xx, every status code, content type, header
and JSON body as the document says, and every error body clean ({"detail"} only, nothing internal).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import assert_clean_error, ndjson
from tests.reliability.seed import lines, seed_jobs

# Every request is the admin's (bearer tokens need no CSRF token); the csrftoken cookie and its header are sent
# too, so logins get past the CSRF check to the credentials (unknown: 401, then throttled: 429).
CSRF = "f" * 43
FUZZ_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-CSRFToken": CSRF}
FUZZ_COOKIES = {"csrftoken": CSRF}  # (a Cookie header would be replaced by the WSGI client's cookie jar)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value) -> bytes:
    """One generated PostedLogLine (or, in negative mode, any JSON value) as one NDJSON line."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return json.dumps(value).encode() + b"\n"


# schemathesis's own strategies use `random` inside (its warning, not ours).
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.slow
def test_every_operation_fuzzed_without_5xx_and_as_documented(
    make_client, stores, es, settings, sized, long_run, figures
):
    client = make_client(follow_max_seconds=0.5, elasticsearch_timeout=5.0)
    seeded = seed_jobs(stores, types=2, jobs=10, running=3, finished=3)
    for exe_id in seeded.exe_ids:
        r = client.simulate_post(
            f"/v6/job-executions/{exe_id}/logs/",
            body=ndjson(lines(30, prefix="fuzz word")),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 202, r.text
    es.indices.refresh(index=f"{settings.log_index_prefix}-*")

    schema = schemathesis.openapi.from_wsgi("/v6/openapi.json", client.app)
    examples = sized(30, 400)
    counts: Counter = Counter()
    statuses: Counter = Counter()
    failures: dict[str, list[str]] = defaultdict(list)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # Short runs are reproducible (same cases every time); long runs explore new ones.
            @hsettings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=not long_run,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                counts[operation.label] += 1
                response = case.call(headers=FUZZ_HEADERS, cookies=FUZZ_COOKIES)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                    if response.status_code >= 400:
                        sent = f"{case.path_parameters}{case.query}{case.body}"
                        assert_clean_error(response.content, response.status_code, echoed=sent)
                except BaseException as exc:  # schemathesis raises a BaseExceptionGroup
                    failures[f"{operation.label} ({mode.value})"].append(str(exc)[:2000])

            try:
                fuzz()
            except Unsatisfiable:
                # No negative data exists for an operation without parameters or body (e.g. GET /healthz).
                assert mode is GenerationMode.NEGATIVE, operation.label
    # Schemathesis leaves out the document's own route; every other documented operation was fuzzed.
    documented = {
        f"{method.upper()} {path}"
        for path, item in client.simulate_get("/v6/openapi.json").json["paths"].items()
        for method in item
    } - {"GET /v6/openapi.json"}
    assert set(operations) == documented
    total = sum(counts.values())
    figures["fuzz"] = {
        "requests": total,
        "operations": len(operations),
        "examples_per_mode": examples,
        "statuses": dict(sorted(statuses.items())),
        "failing_operations": len(failures),
    }
    print(f"\nschemathesis: {total} generated requests over {len(operations)} operations; statuses {dict(statuses)}")
    assert not [op for op in operations if counts[op] == 0], "operations never exercised"
    assert not failures, "\n\n".join(
        f"== {op}: {len(msgs)} failing requests, first:\n{msgs[0]}" for op, msgs in failures.items()
    )

"""Validates HTTP responses against the served OpenAPI document (used for every response of tests/jobs)."""

from __future__ import annotations

import re

from falcon import testing
from jsonschema import Draft202012Validator

# Cross-cutting answers that no single operation declares: the trailing-slash redirect and 405.
UNDECLARED = {301, 405}


def find_operation(doc: dict, method: str, path: str) -> dict | None:
    """The operation serving path; literal templates win over ones with parameters, as in Falcon."""
    candidates = []
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path) and method.lower() in item:
            candidates.append((template.count("{"), item[method.lower()]))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def check_response(doc: dict, method: str, path: str, status: int, body) -> None:
    path = re.sub(r"^/v7/", "/v6/", path.split("?")[0])
    if method.upper() == "OPTIONS":  # Falcon answers it on every route (CORS preflights); no operation declares it
        return
    if status in UNDECLARED:
        if status == 405:
            _validate(doc, doc["components"]["schemas"]["Error"], body)
        return
    operation = find_operation(doc, method, path)
    assert operation is not None, f"{method} {path} is not in the OpenAPI document"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {path} answered {status}, which its operation does not declare"
    schema = (response.get("content") or {}).get("application/json", {}).get("schema")
    if schema is not None:
        _validate(doc, schema, body)


def _validate(doc: dict, schema: dict, body) -> None:
    Draft202012Validator({**schema, "components": doc["components"]}).validate(body)


class ContractClient(testing.TestClient):
    """A test client that checks each JSON response against the app's own /v6/openapi.json."""

    _doc: dict | None = None

    def simulate_request(self, method="GET", path="/", *args, **kwargs):
        result = super().simulate_request(method, path, *args, **kwargs)
        if path != "/v6/openapi.json" and result.status_code != 204:
            if self._doc is None:
                self._doc = super().simulate_request("GET", "/v6/openapi.json").json
            body = result.json if result.content else None
            check_response(self._doc, method, path, result.status_code, body)
            if result.status_code >= 400:  # every error names the request, as the response header does
                assert body["request_id"] == result.headers["X-Request-ID"], (body, result.headers)
        return result

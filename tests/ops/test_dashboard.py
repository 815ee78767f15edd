"""mappings/grafana-dashboard.json: an importable Grafana dashboard (its Prometheus data source is an input
chosen at import), and every metric its PromQL expressions name is one the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
from falcon import testing
from prometheus_client import REGISTRY

import core.metrics  # noqa: F401  (registers every metric of the catalogue)
from api.app import create_app
from api.services import Services
from tests.ops.scrape import sample_names

DASHBOARD = Path(__file__).resolve().parents[2] / "mappings" / "grafana-dashboard.json"
# Grafana's own variables, replaced by a value of their kind before the expression is parsed.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "summary": ("_sum", "_count", "_created"),
}


def panels(items: list[dict]):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def expressions(dashboard: dict) -> list[str]:
    return [t["expr"] for p in panels(dashboard["panels"]) for t in p.get("targets", []) if t.get("expr")]


def metric_names(expr: str) -> set[str]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unknown variable in {expr!r}"
    names: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector):
            names.add(node.vector_selector.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def exported(sql_settings, stores) -> set[str]:
    """What a real scrape shows, and what the registry will show once its labelled metrics have events."""
    client = testing.TestClient(create_app(Services(stores), sql_settings))
    names = sample_names(client.simulate_get("/metrics").text)
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def test_the_dashboard_is_importable():
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"
    assert dashboard["id"] is None and dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])
    titles = " ".join(p["title"].lower() for p in panels(dashboard["panels"]))
    for subject in ("request rate", "p50", "p95", "5xx", "ingest", "spool", "jobs by status"):
        assert subject in titles


def test_every_expression_names_an_exported_metric(sql_settings, stores):
    names = exported(sql_settings, stores)
    used: set[str] = set()
    for expr in expressions(json.loads(DASHBOARD.read_text())):
        found = metric_names(expr)
        assert found, f"no metric in {expr!r}"
        assert found <= names, f"{expr!r} names {sorted(found - names)}, which the service does not export"
        used |= found
    # The ones the issue asks for are on it.
    for name in (
        "scale_http_requests_total",
        "scale_http_request_duration_seconds_bucket",
        "scale_jobs",
        "scale_log_lines_accepted_total",
        "scale_log_spool_lines",
    ):
        assert name in used


def test_the_check_catches_a_wrong_name(sql_settings, stores):
    names = exported(sql_settings, stores)
    assert metric_names('sum(rate(scale_http_request_total{status=~"5.."}[$__rate_interval]))') - names == {
        "scale_http_request_total"
    }
    assert metric_names("histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m]))) / on() group_left y") == {
        "x_bucket",
        "y",
    }
    assert re.fullmatch(r"scale_\w+", min(names & {n for n in names if n.startswith("scale_")}))

"""Scale's metrics service, job types only: GET /v6/metrics/, /v6/metrics/{name}/ and
/v6/metrics/{name}/plot-data/ (the Job Type History page and Data -> Metrics), from the hourly aggregates of
job_type_metrics (jobs/scaleui/metrics_store.py), never from the jobs themselves."""

from __future__ import annotations

from typing import Any

import falcon

from api.errors import not_found
from api.jobs import job_schemas
from api.jobs.job_serialize import job_type_base
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.scaleui.quirks import drop_javascript_nulls
from api.schemas import component, paginated
from core.times import Clock
from jobs.scaleui.metrics_catalogue import COLUMN_NAMES, COLUMNS, GROUP_NAMES, GROUPS, Column, fold, selected
from jobs.scaleui.metrics_store import MetricsStore

NAME = "job-types"
TITLE = "Job Types"
DESCRIPTION = "Metrics for jobs and executions grouped by job type."
FILTERS = [{"param": "name", "type": "string"}, {"param": "version", "type": "string"}]
PLOT_PARAMS = (
    Param("started", "timestamp", description="From the hour this falls in."),
    Param("ended", "timestamp", description="Up to (not including) this time."),
    Param("choice_id", "integer", many=True, description="Job type ids; without any, figures over every type."),
    Param("column", "choice", many=True, choices=COLUMN_NAMES),
    Param("group", "choice", many=True, choices=GROUP_NAMES),
    Param("interval", "choice", choices=("day", "hour"), description="Ours: values per day (default) or hour."),
)
STR = {"type": "string"}
COLUMN = component(
    "MetricsColumn",
    job_schemas.obj(name=STR, title=STR, description=STR, units=STR, group=STR, aggregate=STR),
)
_TYPE: dict[str, Any] = dict(
    name=STR,
    title=STR,
    description=STR,
    filters={"type": "array", "items": job_schemas.obj(param=STR, type=STR)},
    groups={"type": "array", "items": job_schemas.obj(name=STR, title=STR, description=STR)},
    columns={"type": "array", "items": COLUMN},
)
METRICS_TYPE = component("MetricsType", job_schemas.obj(**_TYPE))
METRICS_DETAILS = component(
    "MetricsTypeDetails", job_schemas.obj(**_TYPE, choices={"type": "array", "items": job_schemas.JOB_TYPE_BASE})
)
NUMBER_OR_NULL = {"type": ["number", "null"]}
PLOT = component(
    "MetricsPlotData",
    job_schemas.obj(
        column=COLUMN,
        min_x=job_schemas.N_STR,
        max_x=job_schemas.N_STR,
        min_y=NUMBER_OR_NULL,
        max_y=NUMBER_OR_NULL,
        values={
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "date": {"type": "string", "format": "date"},
                    "datetime": job_schemas.DT,
                    "value": {"type": "number"},
                },
                "required": ["date", "datetime", "value"],
                "additionalProperties": False,
            },
        },
    ),
)


def column_json(c: Column) -> dict:
    return {
        "name": c.name,
        "title": c.title,
        "description": c.description,
        "units": c.units,
        "group": c.group,
        "aggregate": c.aggregate,
    }


def metrics_type() -> dict:
    return {
        "name": NAME,
        "title": TITLE,
        "description": DESCRIPTION,
        "filters": FILTERS,
        "groups": [{"name": g.name, "title": g.title, "description": g.description} for g in GROUPS],
        "columns": [column_json(c) for c in COLUMNS],
    }


class MetricsTypes:
    operations = {
        "GET": Operation(
            "The metrics types (job types only here)",
            query=PAGE_PARAMS,
            tags=("metrics",),
            responses={200: json_response(paginated(METRICS_TYPE))},
        )
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = page_of(req)
        everything = [metrics_type()]
        resp.media = envelope(req, page, len(everything), everything[page.offset : page.offset + page.size])


class MetricsTypeDetails:
    operations = {
        "GET": Operation(
            "A metrics type with its choices (the job types)",
            tags=("metrics",),
            responses={200: json_response(METRICS_DETAILS)},
        )
    }

    def __init__(self, metrics: MetricsStore):
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name != NAME:
            raise not_found()
        resp.media = {**metrics_type(), "choices": [job_type_base(t) for t in self._metrics.choices()]}


class MetricsPlotData:
    operations = {
        "GET": Operation(
            "Plot data of job type metrics: each column's values per day (or hour), per job type when several"
            " are chosen",
            query=PLOT_PARAMS + PAGE_PARAMS,
            tags=("metrics",),
            responses={200: json_response(paginated(PLOT))},
        )
    }

    def __init__(self, metrics: MetricsStore, clock: Clock):
        self._metrics = metrics
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        drop_javascript_nulls(req)
        if name != NAME:
            raise not_found()
        q = parse_query(req, PLOT_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        page = page_of(req)
        choices = sorted(set(q["choice_id"])) if q["choice_id"] else None
        rows = self._metrics.hourly(q["started"], q["ended"], choices)
        by_choice = bool(choices and len(choices) > 1)  # Scale: ids in the values only when several are chosen
        plots = fold(rows, selected(q["column"], q["group"]), q["interval"] == "hour", by_choice)
        results = [{**p, "column": column_json(p["column"])} for p in plots]
        resp.media = envelope(req, page, len(results), results[page.offset : page.offset + page.size])

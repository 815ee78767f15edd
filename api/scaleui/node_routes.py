"""GET /v6/nodes/ and /v6/nodes/{id}/ (System -> Nodes): the hosts executions ran on, in Scale v6's node shape.
Nodes here are where executors said they ran (nothing schedules onto them), so none is ever paused or inactive."""

from __future__ import annotations

import falcon

from api.errors import not_found
from api.jobs import job_schemas
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.scaleui.orders import parse_order
from api.schemas import component, paginated
from core.times import Clock
from jobs.scaleui.node_store import NODE_ORDER_FIELDS, NodeStore

NODE_PARAMS = (
    Param("started", "timestamp", description="Nodes last modified at or after this time."),
    Param("ended", "timestamp", description="Nodes last modified at or before this time."),
    Param("order", many=True, description="Fields to order by (default hostname), '-' prefix for descending."),
    Param("include_inactive", "boolean", description="Also inactive nodes (there are none here)."),
)
NODE = component(
    "Node",
    job_schemas.obj(
        id={"type": "integer"},
        hostname={"type": "string"},
        pause_reason=job_schemas.N_STR,
        is_paused={"type": "boolean"},
        is_active={"type": "boolean"},
        deprecated=job_schemas.N_DT,
        created=job_schemas.DT,
        last_modified=job_schemas.DT,
    ),
)


def node_json(n) -> dict:
    return {
        "id": n.id,
        "hostname": n.hostname,
        "pause_reason": None,
        "is_paused": False,
        "is_active": True,
        "deprecated": None,
        "created": n.created,
        "last_modified": n.last_modified,
    }


class Nodes:
    operations = {
        "GET": Operation(
            "The nodes executions ran on",
            query=NODE_PARAMS + PAGE_PARAMS,
            tags=("nodes",),
            responses={200: json_response(paginated(NODE))},
        )
    }

    def __init__(self, nodes: NodeStore, clock: Clock):
        self._nodes = nodes
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, NODE_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        order = parse_order(q["order"], NODE_ORDER_FIELDS)
        page = page_of(req)
        count, rows = self._nodes.list_nodes(q["started"], q["ended"], order, page.offset, page.size)
        resp.media = envelope(req, page, count, [node_json(n) for n in rows])


class NodeDetails:
    operations = {
        "GET": Operation("One node", tags=("nodes",), responses={200: json_response(NODE)}),
    }

    def __init__(self, nodes: NodeStore):
        self._nodes = nodes

    def on_get(self, req: falcon.Request, resp: falcon.Response, node_id: int) -> None:
        node = self._nodes.get_node(node_id)
        if node is None:
            raise not_found()
        resp.media = node_json(node)

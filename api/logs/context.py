"""`around=k&context=N` on an execution's log route: the lines k-N ... k+N of its whole-log read (search.context)."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import bad_request
from api.params import Param
from search.context import MAX_CONTEXT

DEFAULT_CONTEXT = 20
CONTEXT_PARAMS = (
    Param(
        "around",
        "integer",
        description="Answer the lines around the line with this scale_order_num (the anchor): the lines at "
        "positions k-B ... k+A of the whole-log read of this stream, k being the anchor's. The anchor carries "
        '"anchor": true (json, array, ndjson); txt prefixes each line with its order number as grep -n does, '
        '":" after the anchor\'s and "-" after the others\'; html gives it the class "anchor". X-Anchor-Index is '
        "the anchor's index in the answer. A number no line of this read has is a 404.",
    ),
    Param(
        "context",
        "integer",
        description=f"With around: lines before and after the anchor (0-{MAX_CONTEXT}, default {DEFAULT_CONTEXT}), "
        "as grep -C.",
    ),
    Param("context_before", "integer", description=f"With around: lines before the anchor (0-{MAX_CONTEXT}), grep -B."),
    Param("context_after", "integer", description=f"With around: lines after the anchor (0-{MAX_CONTEXT}), grep -A."),
)


@dataclass(frozen=True)
class Around:
    order_num: int
    before: int
    after: int


def around_of(q: dict) -> Around | None:
    """The context asked for (None without `around`); 400 for a count out of range or a combination that has
    no meaning (a page, a tail, a cursor or following: context is one fixed slice)."""
    counts = ("context", "context_before", "context_after")
    if q["around"] is None:
        for name in counts:
            if q[name] is not None:
                raise bad_request(f'Parameter "{name}" needs "around" (the anchor\'s scale_order_num)')
        return None
    for name in counts:
        if q[name] is not None and not 0 <= q[name] <= MAX_CONTEXT:
            raise bad_request(f'Parameter "{name}" must be between 0 and {MAX_CONTEXT}')
    for name in ("limit", "tail", "after", "follow"):
        if q[name]:
            raise bad_request(f'Parameter "around" cannot be combined with "{name}"')
    both = DEFAULT_CONTEXT if q["context"] is None else q["context"]
    before = both if q["context_before"] is None else q["context_before"]
    after = both if q["context_after"] is None else q["context_after"]
    return Around(q["around"], before, after)

"""User search text to Elasticsearch queries: only match/match_phrase, so nothing the user types is
query syntax (no field:, wildcards, regexes or boolean operators)."""

from __future__ import annotations

import re
from typing import Any

_PHRASE = re.compile(r'"([^"]*)"')


def text_query(text: str, field: str = "message") -> dict[str, Any]:
    """Words must all appear; each "quoted part" must appear as a phrase. A stray quote is ignored."""
    phrases = [p.strip() for p in _PHRASE.findall(text) if p.strip()]
    words = _PHRASE.sub(" ", text).replace('"', " ").strip()
    must = [{"match_phrase": {field: phrase}} for phrase in phrases]
    if words:
        must.append({"match": {field: {"query": words, "operator": "and"}}})
    if not must:  # only quotes: nothing to look for
        return {"match_none": {}}
    return {"bool": {"must": must}}

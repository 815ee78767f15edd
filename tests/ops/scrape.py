"""Reading /metrics the way Prometheus does: prometheus_client's own parser of the text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, frozenset of label items): value} of an exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text_or_samples, name: str, **labels) -> float:
    """A sample's value (0 when absent: a labelled counter appears with its first event)."""
    parsed = samples(text_or_samples) if isinstance(text_or_samples, str) else text_or_samples
    return parsed.get((name, frozenset(labels.items())), 0.0)


def total(text_or_samples, name: str, **labels) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    parsed = samples(text_or_samples) if isinstance(text_or_samples, str) else text_or_samples
    want = set(labels.items())
    return sum(v for (n, items), v in parsed.items() if n == name and want <= items)


def sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}

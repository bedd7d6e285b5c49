"""The service's own Prometheus metrics, exposed on ``/metrics`` beside BentoML's.

``prometheus_client`` (a BentoML dependency) is imported when a metric is first used, not
with this module: it decides when imported whether to write its values to the
multiprocess directory that BentoML names for its workers (``PROMETHEUS_MULTIPROC_DIR``),
and only values written there reach BentoML's ``/metrics``. Each metric is created once
per process (a second registration would be refused by the registry).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter

INPUT_WARNINGS = "driftloop_input_warnings"
"""Served inputs scored with a warning; Prometheus adds ``_total`` to a counter's name."""


@functools.cache
def input_warnings() -> Counter:
    """The counter of input warnings, by feature and kind (created on first use)."""
    from prometheus_client import Counter

    return Counter(
        INPUT_WARNINGS,
        "Served input values scored with a warning: beyond the learned range ('range'), "
        "negative where never ('sign'), null where not nullable ('null'), unknown ('category')",
        ["feature", "kind"],
    )


def count_input_warnings(counts: Mapping[tuple[str, str], int]) -> None:
    """Add one request's warnings, counted per (feature, kind), to :func:`input_warnings`."""
    if not counts:
        return
    counter = input_warnings()
    for (feature, kind), count in counts.items():
        counter.labels(feature=feature, kind=kind).inc(count)

"""The contract in words: what a suite learned per column, and re-learning it from published data.

:func:`learned_table` is what ``driftloop init`` prints; :func:`relearn_suite` and
:func:`suite_diff` are ``driftloop contract relearn``: learn the baseline again from every batch
on ``main`` (or another ref), show what would change, write only when asked.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from driftloop.validation.suites import build_suite

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

_MAX_CATEGORIES_SHOWN = 4


def learned_table(sample: pd.DataFrame, spec: DatasetSpec, suite: dict[str, Any]) -> str:
    """A table of each column's kind, dtype, null share seen, range or categories, and rules.

    Rules are listed as ``rule`` for critical ones (the batch is quarantined) and ``rule?``
    for warnings (the batch is published with the warning); a legend with each rule's reason
    follows the table.
    """
    by_column: dict[str | None, list[dict[str, Any]]] = {}
    for expectation in suite["expectations"]:
        by_column.setdefault(expectation["kwargs"].get("column"), []).append(expectation)
    rows = [("column", "kind", "dtype", "nulls", "learned", "rules (x? = warning)")]
    for column in spec.columns:
        rows.append(
            (
                column,
                _kind(spec, column),
                str(sample[column].dtype) if column in sample else "-",
                f"{sample[column].isna().mean():.1%}" if column in sample else "-",
                _learned(by_column.get(column, [])),
                " ".join(_rule_names(by_column.get(column, []))),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.append("")
    lines.append(
        "critical rules quarantine a batch; warning rules (marked ?) publish it with the "
        "warning, which counts as drift evidence. Move a rule by editing its severity."
    )
    reasons: dict[str, str] = {}
    for expectation in suite["expectations"]:
        meta = (expectation.get("meta") or {}).get("driftloop") or {}
        name = _tagged(expectation, with_share=False)
        if meta.get("why") and name not in reasons:
            reasons[name] = meta["why"]
    lines += [f"  {name}: {why}" for name, why in reasons.items()]
    return "\n".join(lines)


def relearn_suite(
    store: VersionStore, spec: DatasetSpec, ref: str, *, slack: float = 0.25
) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """Learn the baseline suite again from every published batch at ``ref``.

    Returns:
        The new suite, the rows it was learned from, and the commit id read.

    Raises:
        DataSourceError: the ref holds no published data for the dataset.
        RefNotFound: ``ref`` does not exist.
        SpecError: the data lacks a spec column.
    """
    from driftloop.data.published import read_published

    commit = store.resolve(ref)
    frame = read_published(store, spec, commit)
    suite = build_suite(frame, spec, slack=slack)
    suite["meta"]["driftloop"]["learned_from"] = f"{ref}@{commit[:12]}"
    return suite, frame, commit


def suite_diff(old: dict[str, Any], new: dict[str, Any], *, old_name: str, new_name: str) -> str:
    """A unified diff of two suites as their files would read; empty when they are the same."""
    before = json.dumps(old, indent=2, sort_keys=True).splitlines(keepends=True)
    after = json.dumps(new, indent=2, sort_keys=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, fromfile=old_name, tofile=new_name))


def _kind(spec: DatasetSpec, column: str) -> str:
    if column == spec.id_column:
        return "id"
    if column == spec.target:
        return "target"
    if column == spec.event_time_column:
        return "event time"
    return spec.feature(column).kind


def _learned(expectations: list[dict[str, Any]]) -> str:
    for expectation in expectations:
        kwargs = expectation["kwargs"]
        if "max_value" in kwargs:
            return f"[{kwargs.get('min_value')}, {kwargs['max_value']}]"
        if "value_set" in kwargs:
            values = [str(v) for v in kwargs["value_set"]]
            shown = ", ".join(values[:_MAX_CATEGORIES_SHOWN])
            more = len(values) - _MAX_CATEGORIES_SHOWN
            return f"{{{shown}{f', +{more}' if more > 0 else ''}}}"
    return ""


def _rule_names(expectations: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for expectation in expectations:
        name = _tagged(expectation)
        if name not in names:
            names.append(name)
    return names


def _tagged(expectation: dict[str, Any], *, with_share: bool = True) -> str:
    """The rule's name, ``?`` marking a warning; null rules with their share when asked."""
    meta = (expectation.get("meta") or {}).get("driftloop") or {}
    name = meta.get("rule") or expectation["type"].removeprefix("expect_")
    kwargs = expectation["kwargs"]
    if with_share and name == "nulls" and kwargs.get("mostly") is not None:
        name = f"nulls>{1 - kwargs['mostly']:.0%}"
    return name if expectation.get("severity", "critical") == "critical" else f"{name}?"

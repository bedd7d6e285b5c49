"""The registered versions of a model, and one version with everything that explains it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftloop.exceptions import ObjectNotFound, VersionNotFound

if TYPE_CHECKING:
    from driftloop.registry import AliasMove, Decision, ModelVersion, RefusedMove, Registry
    from driftloop.versioning.base import VersionStore

PLOTS = ("roc_curve.png", "feature_importance.png")
"""The plots training writes beside a model file."""


@dataclass(frozen=True)
class VersionRow:
    """One version as a row of the models page."""

    version: ModelVersion
    aliases: list[str]


@dataclass(frozen=True)
class VersionDetail:
    """One version: its lineage, the decisions about it and the alias moves naming it.

    ``refused`` are the moves naming it that the registry refused (newest first): the
    alias was not at the version their caller saw.
    """

    version: ModelVersion
    aliases: list[str]
    decisions: list[Decision]
    moves: list[AliasMove]
    refused: list[RefusedMove]
    plots: dict[str, bytes] = field(default_factory=dict)


def version_rows(registry: Registry, model: str) -> list[VersionRow]:
    """Every version of ``model``, newest first, with the aliases pointing at it (none yet: [])."""
    try:
        aliases = registry.aliases(model)
    except VersionNotFound:
        return []
    return [
        VersionRow(v, sorted(a for a, n in aliases.items() if n == v.version))
        for v in reversed(registry.list_versions(model))
    ]


def version_detail(
    registry: Registry, store: VersionStore, model: str, version: int
) -> VersionDetail:
    """One version with its decisions, alias moves (made and refused) and plots.

    Raises:
        VersionNotFound: no such model or version.
    """
    record = registry.get_version(model, version)
    folder = posixpath.dirname(record.lineage.artifact_uri)
    plots = {}
    for name in PLOTS:
        try:
            plots[name] = store.read_object(record.lineage.artifact_commit, f"{folder}/{name}")
        except ObjectNotFound:
            continue
    return VersionDetail(
        version=record,
        aliases=sorted(a for a, n in registry.aliases(model).items() if n == version),
        decisions=[d for d in registry.decisions(model) if d.version == version],
        moves=[m for m in registry.audit_log(model) if version in (m.from_version, m.to_version)],
        refused=[r for r in registry.refused_moves(model) if r.names(version)],
        plots=plots,
    )

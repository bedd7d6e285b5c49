"""``driftloop train`` and ``driftloop models ...``: the registry from the command line."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION

if TYPE_CHECKING:
    from driftloop.monitoring.quality import BatchQuality
    from driftloop.registry import Registry


def _registry(settings: Settings) -> Registry:
    from driftloop.registry import open_registry

    return open_registry(settings.registry_database_url)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def model_name(settings: Settings) -> str:
    """The registered model of the configured dataset: its spec's name."""
    from driftloop.spec import load_spec

    return load_spec(settings.dataset_spec_path).name


def train(
    settings: Settings,
    *,
    reason: str,
    data_ref: str,
    mode: str,
    allow_unpublished_data: bool = False,
) -> int:
    """Run ``driftloop_train`` through Airflow; print the version and the promotion decision.

    ``data_ref`` must be on main unless ``allow_unpublished_data`` is set.
    """
    from driftloop.launcher.airflow import ensure_airflow_db, run_dag_once

    ensure_airflow_db(settings)
    conf = {
        "reason": reason,
        "data_ref": data_ref,
        "promotion_mode": mode,
        "allow_unpublished_data": allow_unpublished_data,
    }
    outcome = run_dag_once(settings, "driftloop_train", conf=conf)
    registry = _registry(settings)
    model = model_name(settings)
    decisions = registry.decisions(model) if outcome.succeeded else []
    if not decisions:
        print(f"training failed; Airflow said:\n{outcome.output[-3000:]}", file=sys.stderr)
        return 1
    last = decisions[-1]
    verdict = "promoted to champion" if last.promoted else "registered, not promoted"
    print(f"{model} version {last.version}: {verdict}: {last.reason}")
    return 0


def list_versions(settings: Settings) -> int:
    """Print every version with its aliases, holdout metrics and data commit."""
    registry = _registry(settings)
    model = model_name(settings)
    from driftloop.exceptions import VersionNotFound

    try:
        versions = registry.list_versions(model)
        aliases = registry.aliases(model)
    except VersionNotFound:
        print(f"no versions of {model!r} yet")
        return 0
    by_version: dict[int, list[str]] = {}
    for alias, number in aliases.items():
        by_version.setdefault(number, []).append(alias)
    print(f"{'version':>7}  {'aliases':<20} {'roc_auc':>8} {'log_loss':>8}  data commit   created")
    for v in versions:
        auc, loss = (v.lineage.metrics.get(k, float("nan")) for k in ("roc_auc", "log_loss"))
        print(
            f"{v.version:>7}  {','.join(by_version.get(v.version, [])):<20} "
            f"{auc:>8.4f} {loss:>8.4f}"
            f"  {v.lineage.data_commit[:12]}  {v.created_at:%Y-%m-%d %H:%M}"
        )
    return 0


def show_version(settings: Settings, version: int) -> int:
    """Print one version's lineage, its promotion decisions and the alias moves naming it.

    Moves refused because the alias was not where their caller saw it (compare-and-swap)
    follow as ``refused_moves``, newest first, when any names the version. The version's
    quality on each labelled batch it was not trained on follows as ``quality``, oldest
    batch first, and as a table on stderr (one line per batch, each metric with its
    bootstrap interval).
    """
    from driftloop.monitoring.quality import QualityStore

    registry = _registry(settings)
    model = model_name(settings)
    record = registry.get_version(model, version)
    payload = {
        "version": record.model_dump(mode="json"),
        "decisions": [
            d.model_dump(mode="json") for d in registry.decisions(model) if d.version == version
        ],
        "alias_moves": [
            m.model_dump(mode="json")
            for m in registry.audit_log(model)
            if version in (m.from_version, m.to_version)
        ],
    }
    refused = [r.model_dump(mode="json") for r in registry.refused_moves(model) if r.names(version)]
    if refused:
        payload["refused_moves"] = refused
    quality = QualityStore(url=settings.registry_database_url)
    try:
        scored = quality.results(model, version)
    finally:
        quality.close()
    if scored:
        payload["quality"] = [r.model_dump(mode="json") for r in scored]
        print(quality_table(scored), file=sys.stderr)
    print(json.dumps(payload, indent=2))
    return 0


def quality_table(results: list[BatchQuality]) -> str:
    """Quality over time as text: one line per batch, each metric ``value [low, high]``."""
    from driftloop.monitoring.quality import METRICS

    header = ["batch", "labelled", *METRICS]
    lines = [
        [
            r.batch,
            f"{r.labelled_rows}/{r.rows}",
            *(r.metrics[m].describe() if m in r.metrics else "-" for m in METRICS),
        ]
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    )


def _champion_seen(registry: Registry, model: str, expected: int | None) -> int | None:
    """The champion a command acts against: ``expected`` if given, else the champion now.

    Raises:
        VersionNotFound: no such model.
    """
    if expected is not None:
        return expected
    champion = registry.get_alias(model, CHAMPION)
    return None if champion is None else champion.version


def promote(settings: Settings, version: int, *, reason: str, expected: int | None) -> int:
    """Point ``champion`` at ``version`` by hand (audited), if it is still at ``expected``.

    Raises:
        AliasMoved: champion is not at ``expected`` (recorded as a refused move).
    """
    registry = _registry(settings)
    model = model_name(settings)
    move = registry.move_alias(
        model,
        CHAMPION,
        version,
        actor=_actor(),
        reason=reason,
        expected=_champion_seen(registry, model, expected),
    )
    print(
        f"champion: {move.from_version} -> {move.to_version}"
        if move.changed
        else f"champion is already version {version}"
    )
    return 0


def rollback(settings: Settings, *, reason: str, expected: int | None) -> int:
    """Move ``champion`` back to the previous champion (audited), if it is still ``expected``.

    Raises:
        AliasMoved: champion is not at ``expected`` (recorded as a refused move).
    """
    registry = _registry(settings)
    model = model_name(settings)
    move = registry.rollback(
        model, actor=_actor(), reason=reason, expected=_champion_seen(registry, model, expected)
    )
    print(f"champion rolled back: {move.from_version} -> {move.to_version}")
    return 0


def reproduce(settings: Settings, version: int) -> int:
    """Retrain a version from its lineage; exit 0 only when the model file is byte-identical.

    A version trained on Dask is retrained on Dask with as many workers: on the configured
    scheduler, else on a local cluster started for the command (see
    :func:`driftloop.launcher.cluster.dask_cluster`).
    """
    from driftloop.launcher.cluster import dask_cluster
    from driftloop.spec import load_spec
    from driftloop.training.steps import reproduce_version
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    registry, store = _registry(settings), open_store(settings)
    lineage = registry.get_version(spec.name, version).lineage
    if lineage.engine == "dask":
        with dask_cluster(settings, workers=lineage.workers) as cluster:
            result = reproduce_version(store, registry, spec, spec.name, version, cluster=cluster)
    else:
        result = reproduce_version(store, registry, spec, spec.name, version)
    if result.identical:
        print(
            f"version {version} reproduced on {result.engine} ({result.workers} workers): "
            f"model file byte-identical (sha256 {result.reproduced_sha256})"
        )
        return 0
    print(
        f"version {version} NOT reproduced: recorded sha256 {result.recorded_sha256}, "
        f"retrained {result.reproduced_sha256}",
        file=sys.stderr,
    )
    return 1


def export(settings: Settings, version: int, *, out_dir: Path) -> int:
    """Write ``version`` as an MLflow model directory; print where and how to load it."""
    from driftloop.spec import load_spec
    from driftloop.training.export import export_mlflow
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    record = _registry(settings).get_version(spec.name, version)
    written = export_mlflow(open_store(settings), record, spec, out_dir)
    print(f"wrote {spec.name} version {version} as an MLflow model to {written.path}")
    print(f"  requirements: {' '.join(written.requirements)}")
    print("load it with MLflow and score a pandas DataFrame with the feature columns:")
    print("  import mlflow")
    print(f"  model = mlflow.pyfunc.load_model({str(written.path)!r})")
    print(f"  probabilities = model.predict(frame)  # P({spec.target} = {spec.positive_label!r})")
    return 0

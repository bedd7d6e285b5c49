"""The ``driftloop`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from driftloop.config import Settings, get_settings
from driftloop.config.promotion import CHAMPION, PROMOTION_MODES
from driftloop.exceptions import DriftloopError
from driftloop.launcher.airflow import airflow_home
from driftloop.launcher.processes import Interrupted, interruptible


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.data.sources import read_file
    from driftloop.spec import SourceSpec, save_spec
    from driftloop.spec.learn import infer_spec
    from driftloop.validation.contract import learned_table
    from driftloop.validation.suites import build_suite, write_suite

    name = args.name or settings.dataset
    spec_path = settings.expectations_dir / f"{name}.yaml"
    suite_path = settings.expectations_dir / f"{name}.json"
    existing = [str(p) for p in (spec_path, suite_path) if p.exists()]
    if existing and not args.force:
        print(f"refusing to overwrite {', '.join(existing)} (use --force)", file=sys.stderr)
        return 2
    frame = read_file(args.data)
    source = SourceSpec(kind="file", path=args.source or str(args.data))
    spec = infer_spec(
        frame,
        name=name,
        source=source,
        target=args.target,
        id_column=args.id,
        event_time_column=args.event_time,
    )
    suite = build_suite(frame, spec)
    save_spec(spec, spec_path)
    write_suite(suite, suite_path)
    print(f"learned from {len(frame)} rows of {args.data}:\n")
    print(learned_table(frame, spec, suite))
    print(f"\nwrote {spec_path}\nwrote {suite_path}")
    print(
        f"{len(spec.features)} features; target {spec.target!r} "
        f"(positive label {spec.positive_label!r}). Read them, edit them, commit them."
    )
    if name != settings.dataset:
        print(f"to use it, set `dataset: {name}` in driftloop.yaml or DRIFTLOOP_DATASET={name}")
    return 0


def _relearn(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.spec import load_spec
    from driftloop.validation.contract import learned_table, relearn_suite, suite_diff
    from driftloop.validation.suites import load_suite, write_suite
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    current = load_suite(settings.suite_path)
    suite, frame, commit = relearn_suite(store, spec, args.ref)
    # The provenance line differs on every run: compare the rules, not when they were learned.
    suite["meta"]["driftloop"].pop("learned_from")
    diff = suite_diff(
        current, suite, old_name=str(settings.suite_path), new_name=f"{args.ref}@{commit[:12]}"
    )
    print(f"re-learned from {len(frame)} rows published at {args.ref}@{commit[:12]}")
    if not diff:
        print("the suite already says this: nothing to change")
        return 0
    print(diff, end="")
    if not args.write:
        print(f"\nnot written: run again with --write to replace {settings.suite_path}")
        return 0
    write_suite(suite, settings.suite_path)
    print(learned_table(frame, spec, suite))
    print(f"wrote {settings.suite_path}; commit it with the spec")
    return 0


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.data.synthetic import CorruptionConfig, GeneratorConfig, generate_batches

    corruption = CorruptionConfig(
        null_fraction=dict(_pairs(args.nulls, float)),
        out_of_range=dict(_pairs(args.out_of_range, float)),
        wrong_type=args.wrong_type,
        duplicate_ids=args.duplicate_ids,
        drop_column=args.drop_column,
        extra_column=args.extra_column,
    )
    config = GeneratorConfig(
        seed=args.seed,
        rows_per_batch=args.rows,
        shift=dict(_pairs(args.shift, float)),
        new_categories={k: v.split("|") for k, v in _pairs(args.new_category, str)},
        label_shift=args.label_shift,
        corruption=corruption,
    )
    out = Path(args.out) if args.out else settings.landing_dir
    paths = generate_batches(
        config, start=args.start, days=args.days, out_dir=out, format=args.format
    )
    for path in paths:
        print(path)
    return 0


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.runs import ingest_file

    return ingest_file(settings, Path(args.path))


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher import models as model_commands

    return model_commands.train(
        settings,
        reason=args.reason,
        data_ref=args.data_ref,
        mode=args.mode,
        allow_unpublished_data=args.allow_unpublished_data,
    )


def _models(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher import models as model_commands

    match args.models_command:
        case "list":
            return model_commands.list_versions(settings)
        case "show":
            return model_commands.show_version(settings, args.version)
        case "promote":
            return model_commands.promote(
                settings, args.version, reason=args.reason, expected=args.expected_champion
            )
        case "rollback":
            return model_commands.rollback(
                settings, reason=args.reason, expected=args.expected_champion
            )
        case "export":
            return model_commands.export(settings, args.version, out_dir=args.dir)
        case _:
            return model_commands.reproduce(settings, args.version)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.service import serve

    return serve(settings, args.port, bento=args.bento)


def _drift(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.drift import drift_check

    return drift_check(settings, against=args.against)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.demo import run

    return run(args, settings)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.stack import AirflowStack, passwords_file, stack_logins

    logins, fresh = stack_logins(settings)
    stack = AirflowStack(settings).start()
    # Left running once up (`driftloop down` stops it); a failed or interrupted start is not.
    try:
        stack.wait_for_dags(*DAG_IDS)
        for dag_id in DAG_IDS:
            stack.unpause(dag_id)
        serving = _has_champion(settings)
        if serving:
            from driftloop.launcher.service import start_service

            service = start_service(settings)
            stack.processes["service"] = service
            stack.record_pid("service", service.pid)
    except BaseException:
        stack.stop()
        raise
    print(f"Airflow UI: {stack.base_url} (bound to 127.0.0.1)")
    if fresh:
        for user, password in logins.items():
            print(f"  log in as {user} / {password}")
    print(f"  passwords: {passwords_file(settings)} (mode 0600); admin edits, viewer reads")
    if serving:
        print(f"endpoint: http://127.0.0.1:{settings.serving_port}/predict (the champion)")
    else:
        print("no champion yet: train one (`driftloop train`), then `driftloop serve`")
    print(f"logs: {airflow_home(settings) / 'logs'}; stop with `make down`")
    return 0


def _has_champion(settings: Settings) -> bool:
    from driftloop.exceptions import VersionNotFound
    from driftloop.launcher.models import model_name
    from driftloop.registry import Registry

    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    try:
        return registry.get_alias(model_name(settings), CHAMPION) is not None
    except VersionNotFound:
        return False


def _registry_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.registry import Registry

    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    print(f"registry schema at revision {registry.schema_revision()} ({registry.url})")
    return 0


def _store_verify(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.versioning.factory import open_store
    from driftloop.versioning.local import LocalVersionStore

    store = open_store(settings)
    if not isinstance(store, LocalVersionStore):
        print(
            "`store verify` checks the local store only; "
            f"versioning_backend is {settings.versioning_backend!r}",
            file=sys.stderr,
        )
        return 2
    check = store.verify()
    for damaged in check.damaged:
        print(damaged.describe())
    print(check.summary())
    return 0 if check.ok else 1


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from driftloop.launcher.stack import stop_recorded_stack

    print("stopped" if stop_recorded_stack(settings) else "no stack was running")
    return 0


def _pairs(items: Sequence[str], cast: type) -> list[tuple[str, object]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise DriftloopError(f"expected NAME=VALUE, got {item!r}")
        pairs.append((key, cast(value)))
    return pairs


DAG_IDS = ("driftloop_ingest", "driftloop_train", "driftloop_drift_monitor")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every ``driftloop`` subcommand."""
    parser = argparse.ArgumentParser(prog="driftloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a dataset spec and a baseline GX suite from a sample")
    init.add_argument("--data", required=True, type=Path, help="sample CSV or Parquet file")
    init.add_argument("--target", required=True, help="the label column")
    init.add_argument("--id", help="unique id column")
    init.add_argument("--event-time", help="event-time column for incremental loads")
    init.add_argument("--name", help="dataset name (default: the configured dataset)")
    init.add_argument("--source", help="path or glob of future batches (default: --data)")
    init.add_argument("--force", action="store_true", help="overwrite an existing spec and suite")
    init.set_defaults(func=_init)

    _add_contract_parser(sub)
    data = sub.add_parser("data", help="demo data").add_subparsers(
        dest="data_command", required=True
    )
    gen = data.add_parser("generate", help="write seeded credit-risk batches, one file a day")
    gen.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 1))
    gen.add_argument("--days", type=int, default=7)
    gen.add_argument("--rows", type=int, default=2000, help="rows per day")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--out", help="output folder (default: the landing folder)")
    gen.add_argument("--format", choices=["csv", "parquet"], default="csv")
    gen.add_argument(
        "--shift",
        action="append",
        default=[],
        metavar="FEATURE=STDS",
        help="shift a numeric feature by this many standard deviations",
    )
    gen.add_argument(
        "--new-category",
        action="append",
        default=[],
        metavar="COLUMN=A|B",
        help="inject unseen categories into a categorical column",
    )
    gen.add_argument("--label-shift", type=float, default=0.0, help="change of the positive rate")
    _add_corruption_options(gen)
    gen.set_defaults(func=_generate)

    ingest = sub.add_parser("ingest", help="ingest one file through the driftloop_ingest DAG")
    ingest.add_argument("path", help="CSV or Parquet file")
    ingest.set_defaults(func=_ingest)

    train = sub.add_parser("train", help="run the driftloop_train DAG through Airflow")
    train.add_argument("--reason", default="manual", help="why retrain (kept in the run)")
    train.add_argument(
        "--data-ref", default="main", help="branch or commit to train on (on main by default)"
    )
    train.add_argument(
        "--allow-unpublished-data",
        action="store_true",
        help="train on a ref not on main (e.g. a quarantined batch's branch); the version "
        "is marked so in its lineage and never promoted automatically",
    )
    train.add_argument(
        "--mode",
        choices=PROMOTION_MODES,
        default="auto",
        help="promotion mode",
    )
    train.set_defaults(func=_train)

    serve = sub.add_parser("serve", help="serve the champion over HTTP on 127.0.0.1 (BentoML)")
    serve.add_argument("--port", type=int, default=None, help="default: serving_port (3000)")
    serve.add_argument("--bento", help="serve this built Bento tag instead of the source service")
    serve.set_defaults(func=_serve)

    drift = sub.add_parser("drift", help="drift of what the champion has not seen")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True)
    check = drift_sub.add_parser(
        "check", help="score batches and traffic the champion has not seen; print the table"
    )
    check.add_argument("--against", type=int, help="a version's reference (default: champion)")
    check.set_defaults(func=_drift)

    _add_demo_parser(sub)
    sub.add_parser("up", help="start Airflow (all components) in the background").set_defaults(
        func=_up
    )
    sub.add_parser("down", help="stop what `up` started").set_defaults(func=_down)

    _add_upkeep_parsers(sub)
    _add_models_parser(sub)
    return parser


def _add_upkeep_parsers(sub: argparse._SubParsersAction) -> None:
    """The stores' upkeep: ``driftloop registry upgrade`` and ``driftloop store verify``."""
    registry = sub.add_parser("registry", help="the model registry's database")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True)
    registry_sub.add_parser(
        "upgrade", help="apply the registry's pending migrations (safe from many processes)"
    ).set_defaults(func=_registry_upgrade)

    store = sub.add_parser("store", help="the versioned data store")
    store_sub = store.add_subparsers(dest="store_command", required=True)
    store_sub.add_parser(
        "verify",
        help="hash every object reachable from every branch (local store); exit 1 if any is "
        "missing or corrupt",
    ).set_defaults(func=_store_verify)


def _add_contract_parser(sub: argparse._SubParsersAction) -> None:
    """``driftloop contract relearn [--ref REF] [--write]``."""
    contract = sub.add_parser("contract", help="the dataset's GX suite (the data contract)")
    contract_sub = contract.add_subparsers(dest="contract_command", required=True)
    relearn = contract_sub.add_parser(
        "relearn", help="learn the suite again from published data; show the diff"
    )
    relearn.add_argument("--ref", default="main", help="branch or commit to learn from")
    relearn.add_argument("--write", action="store_true", help="replace the suite file")
    relearn.set_defaults(func=_relearn)


def _add_demo_parser(sub: argparse._SubParsersAction) -> None:
    """``driftloop demo [--fresh] [--data PATH --target COL [--id COL] [--name NAME]]``."""
    demo = sub.add_parser(
        "demo",
        help="the whole loop on real Airflow components: on generated data, or on your table",
    )
    demo.add_argument(
        "--fresh", action="store_true", help="delete DRIFTLOOP_HOME first (the demo needs it empty)"
    )
    own = demo.add_argument_group(
        "your own data (sliced into batches, the last one shifted; spec and suite in the home)"
    )
    own.add_argument("--data", type=Path, help="your table, CSV or Parquet")
    own.add_argument("--target", help="its binary label column (required with --data)")
    own.add_argument("--id", help="its unique id column")
    own.add_argument("--name", help="dataset name (default: the file's name)")
    demo.set_defaults(func=_demo)


def _add_corruption_options(gen: argparse.ArgumentParser) -> None:
    """``driftloop data generate`` options that spoil a batch, to try the data gate."""
    corrupt = gen.add_argument_group("corruption (for trying the data gate)")
    corrupt.add_argument(
        "--nulls",
        action="append",
        default=[],
        metavar="COLUMN=FRACTION",
        help="blank out a share of a column's values",
    )
    corrupt.add_argument(
        "--out-of-range",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="write an impossible value into a share of a column's rows",
    )
    corrupt.add_argument(
        "--wrong-type",
        action="append",
        default=[],
        metavar="COLUMN",
        help="write text into a share of a numeric column's rows",
    )
    corrupt.add_argument(
        "--duplicate-ids",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="repeat a share of the ids",
    )
    corrupt.add_argument("--drop-column", help="leave a column out")
    corrupt.add_argument("--extra-column", help="add a column the spec does not know")


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    """``driftloop models list | show | reproduce | promote | rollback | export``."""
    models = sub.add_parser("models", help="the model registry")
    models.set_defaults(func=_models)
    msub = models.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="versions, aliases and metrics")
    for name, text in (
        ("show", "one version's lineage, decisions and alias moves"),
        ("reproduce", "retrain a version from its lineage, compare bytes"),
    ):
        msub.add_parser(name, help=text).add_argument("version", type=int)
    promote = msub.add_parser("promote", help="make a version the champion (audited)")
    promote.add_argument("version", type=int)
    promote.add_argument("--reason", default="manual promotion")
    rollback = msub.add_parser("rollback", help="move champion back to the previous one")
    rollback.add_argument("--reason", default="manual rollback")
    for parser in (promote, rollback):
        parser.add_argument(
            "--expected-champion",
            type=int,
            metavar="VERSION",
            help="move only if champion is still this version, the one you decided against "
            "(default: the champion when the command starts); a refusal is recorded",
        )
    export = msub.add_parser(
        "export", help="write a version as a model for another tool (MLflow: needs the extra)"
    )
    export.add_argument("version", type=int)
    export.add_argument(
        "--format", required=True, choices=["mlflow"], help="mlflow: an MLflow model directory"
    )
    export.add_argument("dir", type=Path, help="where to write (new or empty directory)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``driftloop`` command.

    SIGTERM and SIGINT stop what the command started (``driftloop.launcher.processes``);
    it then returns ``128 + signal``.
    """
    args = build_parser().parse_args(argv)
    try:
        with interruptible():
            return args.func(args, get_settings())
    except Interrupted as exc:
        print(f"driftloop: {exc}", file=sys.stderr)
        return exc.exit_code
    except DriftloopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

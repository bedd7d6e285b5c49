"""Validate a whole batch with its GX suite, and keep the result and Data Docs.

GX is imported inside the functions that need it: importing it costs seconds, and most
callers (the CLI, DAG parsing) never validate anything.

Validation uses a GX file context under ``reports_dir / "gx"``: the data source ``driftloop``
(pandas) with one dataframe asset per dataset, a copy of the suite file, the stored
validation results (``gx/uncommitted/validations``) and the Data Docs site
(``gx/uncommitted/data_docs/local_site``), its pages pointed at local copies of their CSS
and JS (:mod:`~driftloop.validation.datadocs`). The context is a cache of the suite file and
a record of runs, so it lives with the reports, not in git.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import pandas as pd

from driftloop.exceptions import ConfigError
from driftloop.spec import DatasetSpec
from driftloop.validation.datadocs import localise_site
from driftloop.validation.messages import describe_failures, exception_message, severity_of
from driftloop.validation.report import CheckOutcome, ValidationReport
from driftloop.validation.suites import CRITICAL, SEVERITIES, load_suite

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
_DATASOURCE = "driftloop"
_BATCH_DEFINITION = "whole dataframe"
# Counts and the first unexpected values: all a verdict needs. The expectations that met
# unexpected values run again with _DETAILED, whose rows and value counts messages and Data
# Docs show.
_BRIEF = {"result_format": "BASIC", "partial_unexpected_count": 20}
# GX computes the unexpected-index query for SUMMARY (a filtered copy of the batch per column
# rule) but shows it only in COMPLETE: not asked for, it changes nothing in the result.
_DETAILED = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 20,
    "return_unexpected_index_query": False,
}
_INDEX_LIMIT = 30
"""Runs listed on the Data Docs index page; GX reads every listed result to build it."""


def validate_frame(
    df: pd.DataFrame,
    *,
    spec: DatasetSpec,
    suite_path: Path,
    reports_dir: Path,
    run_name: str,
    batch_label: str,
) -> ValidationReport:
    """Validate ``df`` against the suite with GX and keep the result and its Data Docs.

    Categorical values and target labels are checked as strings: pass batches through
    :func:`driftloop.inference.conform_frame` first. Bad data never raises here; it gives a
    failed report (its caller decides what a failure means). Validating again under the
    same ``run_name`` replaces that run's result and page.

    Args:
        df: The batch.
        spec: Its dataset spec.
        suite_path: The suite file (see :func:`build_suite`).
        reports_dir: Where the GX context, Data Docs and ``validations/<run_name>.json`` go.
        run_name: Names this run (e.g. the Airflow run id); one result is kept per name.
        batch_label: Says which batch this is (e.g. branch and path); shown in Data Docs.

    Raises:
        ConfigError: the suite file is missing or invalid, belongs to another dataset,
            ``run_name`` cannot name a file, or the Data Docs assets are not installed.

    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    _check_run_name(run_name)
    suite_dict = load_suite(suite_path)
    if suite_dict["name"] != spec.name:
        raise ConfigError(
            f"expectation suite {suite_path} is for dataset {suite_dict['name']!r}, "
            f"not {spec.name!r}"
        )
    context = _context(reports_dir)
    suite = _sync_suite(context, suite_dict, suite_path)
    _forget_run(context, spec.name, run_name)

    result = _validate_by_column(_batch_definition(context, spec.name), suite, df)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.datetime.now(datetime.UTC))
    result.meta["run_id"] = run_id
    result.meta.setdefault("batch_markers", {})["batch_label"] = batch_label

    key = ValidationResultIdentifier(
        ExpectationSuiteIdentifier(name=spec.name), run_id, result.batch_id
    )
    context.validation_results_store.set(key, result)
    context.build_data_docs(resource_identifiers=[key])
    for site in context.get_docs_sites_urls():
        localise_site(_url_path(site["site_url"]).parent)
    docs_path = _docs_page(context, key)

    result_path = reports_dir / "validations" / f"{run_name}.json"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_json_dict(), indent=2, sort_keys=True, default=str)
    result_path.write_text(text + "\n", encoding="utf-8")

    failed = describe_failures(result, suite, df, spec)
    critical = [f for f in failed if f.severity == CRITICAL]
    return ValidationReport(
        success=not critical,
        statistics=dict(result.statistics),
        failures=critical,
        warnings=[f for f in failed if f.severity != CRITICAL],
        checks=[
            CheckOutcome(
                expectation=r.expectation_config.type,
                column=r.expectation_config.kwargs.get("column"),
                success=bool(r.success),
                severity=severity_of(r.expectation_config),
            )
            for r in result.results
        ],
        result_path=result_path,
        docs_path=docs_path,
        rows=len(df),
    )


def _check_run_name(run_name: str) -> None:
    if (
        run_name in {"", ".", ".."}
        or any(c in run_name for c in "/\\")
        or not run_name.isprintable()
    ):
        raise ConfigError(f"run name {run_name!r} cannot name a file")


def _gx_suite(suite: dict[str, Any], path: Path) -> ExpectationSuite:
    import great_expectations as gx
    from great_expectations.exceptions import GreatExpectationsError
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    # Built one by one because ExpectationSuite(...) only logs and drops invalid ones.
    expectations = []
    for number, item in enumerate(suite["expectations"], start=1):
        try:
            severity = item.get("severity", CRITICAL)
            if severity not in SEVERITIES:
                raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
            configuration = ExpectationConfiguration(
                type=item["type"],
                kwargs=item["kwargs"],
                meta=item.get("meta") or {},
                severity=severity,
            )
            expectations.append(configuration.to_domain_obj())
        except (GreatExpectationsError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"expectation suite {path}: expectation {number} ({item['type']}) is invalid: {exc}"
            ) from exc
    return gx.ExpectationSuite(
        name=suite["name"], expectations=expectations, meta=suite.get("meta") or None
    )


def _context(reports_dir: Path) -> FileDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    reports_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=reports_dir)
    bars = context.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    sites = context.variables.data_docs_sites or {}
    for site in sites.values():
        index = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        if index.get("validation_results_limit") != _INDEX_LIMIT:
            index["validation_results_limit"] = _INDEX_LIMIT
            context.variables.data_docs_sites = sites
            context.variables.save()
    return context


def _sync_suite(context: FileDataContext, suite: dict[str, Any], path: Path) -> ExpectationSuite:
    """Get the context's copy of the suite, replacing it only when the file changed.

    The copy is GX's JSON of the suite: when it reads as the file does, the file has not
    changed, found without building and serialising the suite (0.2 s at 433 rules).
    """
    from great_expectations.exceptions import DataContextError

    stored_file = Path(context.root_directory) / "expectations" / f"{suite['name']}.json"
    try:
        unchanged = _without_ids(json.loads(stored_file.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        unchanged = None
    if unchanged == _without_ids(suite):
        return context.suites.get(suite["name"])
    wanted = _gx_suite(suite, path)
    try:
        stored = context.suites.get(wanted.name)
    except DataContextError:
        return context.suites.add(wanted)
    if _without_ids(stored.to_json_dict()) == _without_ids(wanted.to_json_dict()):
        return stored
    context.suites.delete(wanted.name)
    return context.suites.add(wanted)


def _without_ids(suite: dict[str, Any]) -> dict[str, Any]:
    expectations = [{k: v for k, v in e.items() if k != "id"} for e in suite["expectations"]]
    return {**suite, "id": None, "expectations": expectations}


def _batch_definition(context: FileDataContext, dataset: str) -> Any:
    try:
        source = context.data_sources.get(_DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(_DATASOURCE)
    try:
        asset = source.get_asset(dataset)
    except LookupError:
        asset = source.add_dataframe_asset(dataset)
    try:
        return asset.get_batch_definition(_BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION)


def _validate_by_column(
    batch_definition: Any, suite: ExpectationSuite, df: pd.DataFrame
) -> ExpectationSuiteValidationResult:
    """Validate ``df`` with GX, each column's expectations on a frame of that column alone.

    GX's pandas engine copies the rows it filters from the whole batch frame, every column of
    it, several times per column expectation (null rows out, then the unexpected rows): 39 s
    of copying at 5M rows. On one-column frames the copies are one column wide. Table
    expectations, and those on a column the batch lacks or repeats or with a row condition,
    run on ``df``, so GX reports those columns as it always did; its result describes ``df``.
    """
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    groups: dict[str | None, list[ExpectationConfiguration]] = {None: []}
    for config in suite.expectation_configurations:
        column = config.kwargs.get("column")
        alone = (
            column is not None
            and not config.kwargs.get("row_condition")
            and int((df.columns == column).sum()) == 1
        )
        groups.setdefault(column if alone else None, []).append(config)
    whole = _run_gx(batch_definition, suite.name, groups.pop(None), df, _DETAILED)
    results: list[ExpectationValidationResult] = list(whole.results)
    with _no_fingerprints():
        for column, configs in groups.items():
            results += _validate_column(batch_definition, suite.name, configs, df[[column]])
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    # In GX's own order: expectations whose metrics could not be computed first, then the rest.
    results.sort(key=lambda r: (not _unresolved(r), order[r.expectation_config.id]))
    statistics = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        results=results,
        success=statistics.success,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta=whole.meta,
        batch_id=whole.batch_id,
    )


@contextmanager
def _no_fingerprints() -> Iterator[None]:
    """Within: GX does not fingerprint the batch frames it loads.

    GX's pandas engine hashes every batch frame under ``HASH_THRESHOLD`` bytes it loads, for
    the result's batch markers. The one-column frames' results give up their markers (the
    suite's result carries the whole frame's, fingerprinted as before), so their hashes,
    about 1.5 times the frame's cells, bought nothing: 3 s of 8 at 2M rows.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    threshold = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = threshold


def _validate_column(
    batch_definition: Any, name: str, configs: list[ExpectationConfiguration], frame: pd.DataFrame
) -> list[ExpectationValidationResult]:
    """One column's results: in brief, then in detail for those that met anything unexpected.

    In detail: the expectations that failed, could not be checked, or passed thanks to
    ``mostly``; messages and Data Docs show their rows and value counts, and their result is
    then exactly the one a detailed run of the whole suite gives.
    """
    results = _run_gx(batch_definition, name, configs, frame, _BRIEF).results
    again = [
        r.expectation_config
        for r in results
        if not r.success or (r.result or {}).get("unexpected_count")
    ]
    if not again:
        return results
    detailed = _run_gx(batch_definition, name, again, frame, _DETAILED).results
    by_id = {r.expectation_config.id: r for r in detailed}
    return [by_id.get(r.expectation_config.id, r) for r in results]


def _run_gx(
    batch_definition: Any,
    name: str,
    configs: list[ExpectationConfiguration],
    frame: pd.DataFrame,
    result_format: dict[str, Any],
) -> ExpectationSuiteValidationResult:
    """One GX validation of ``frame``, then the engine's hold on the frame is dropped.

    GX's ``Validator`` is what ``Batch.validate`` runs; called directly it loads (and
    fingerprints) the frame once, not twice. GX keeps every loaded batch in its execution
    engine, which the context (a process-wide singleton) keeps alive: in a process that runs
    several tasks (``airflow dags test``, the CLI) the frame would outlive the task.
    """
    import great_expectations as gx
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=batch_definition,
        batch_parameters={"dataframe": frame},
        result_format=result_format,
    )
    result = validator.validate_expectation_suite(
        gx.ExpectationSuite(name=name, expectations=configs)
    )
    manager = batch_definition.data_asset.datasource.get_execution_engine().batch_manager
    manager.batch_data_cache.pop(result.batch_id, None)
    manager.reset_batch_cache()
    return result


def _unresolved(result: ExpectationValidationResult) -> bool:
    """Whether the expectation's metrics failed to compute (GX lists those first)."""
    info = result.exception_info or {}
    return "raised_exception" not in info and exception_message(result) is not None


def _forget_run(context: FileDataContext, dataset: str, run_name: str) -> None:
    """Remove earlier results and pages of this run, so a rerun replaces rather than adds."""
    backend = context.validation_results_store.store_backend
    results_root = Path(backend.full_base_directory)
    site_roots = {
        site["site_name"]: _url_path(site["site_url"]).parent
        for site in context.get_docs_sites_urls()
    }
    for key in context.validation_results_store.list_keys():
        if key.expectation_suite_identifier.name != dataset or key.run_id.run_name != run_name:
            continue
        _remove(_url_path(backend.get_url_for_key(key.to_tuple())), results_root)
        for site in context.get_docs_sites_urls(resource_identifier=key, only_if_exists=False):
            _remove(_url_path(site["site_url"]), site_roots[site["site_name"]])


def _remove(path: Path, root: Path) -> None:
    """Delete a file and the folders that it leaves empty below ``root``."""
    # GX's own store cleanup leaves the empty folders behind.
    path.unlink(missing_ok=True)
    folder = path.parent
    while root in folder.parents and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _docs_page(context: FileDataContext, key: Any) -> Path:
    sites = context.get_docs_sites_urls(resource_identifier=key)
    return _url_path(sites[0]["site_url"])


def _url_path(url: str) -> Path:
    return Path(unquote(urlparse(url).path))

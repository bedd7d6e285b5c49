"""Baseline Great Expectations suites from a dataset spec, and batch validation with Data Docs.

GX is imported inside the functions that need it: importing it costs seconds, and most
callers of this module (the CLI, DAG parsing) never validate anything.

Validation uses a GX file context under ``reports_dir / "gx"``: the data source ``driftloop``
(pandas) with one dataframe asset per dataset, a copy of the suite file, the stored
validation results (``gx/uncommitted/validations``) and the Data Docs site
(``gx/uncommitted/data_docs/local_site``). The context is a cache of the suite file and a
record of runs, so it lives with the reports, not in git.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from driftloop.exceptions import ConfigError, SpecError, ValidationFailed
from driftloop.spec import DatasetSpec, Feature

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context import FileDataContext

# Type names as GX's pandas type check reads them: numpy/pandas dtype names for typed
# columns, Python type names for the values of object columns.
NUMERIC_TYPES = [
    *(f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)),
    "float32",
    "float64",
    *(f"{kind}{bits}Dtype" for kind in ("Int", "UInt") for bits in (8, 16, 32, 64)),
    "Float32Dtype",
    "Float64Dtype",
    "int",
    "float",
]
BOOL_TYPES = ["bool", "BooleanDtype"]
STRING_TYPES = ["str", "StringDtype"]
_TYPE_NAMES = {
    tuple(NUMERIC_TYPES): "numbers",
    tuple(BOOL_TYPES): "booleans",
    tuple(STRING_TYPES): "text",
}
_DATASOURCE = "driftloop"
_BATCH_DEFINITION = "whole dataframe"
_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
_MAX_EXAMPLES = 5
_MAX_LISTED = 10


class FailedExpectation(BaseModel):
    """One expectation a batch did not meet, summarised for people and logs."""

    expectation: str = Field(description="GX expectation type")
    column: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Its arguments, abridged")
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[Any] = Field(default_factory=list, description="Up to 5 offending values")
    observed: Any = Field(default=None, description="Observed value of a table-level check")
    message: str


class ValidationReport(BaseModel):
    """The outcome of validating one batch, with where its full result and Data Docs are."""

    success: bool
    statistics: dict[str, Any]
    failures: list[FailedExpectation]
    result_path: Path
    docs_path: Path
    rows: int


RANGE_MOSTLY = 0.99
"""Share of a batch's values that must lie in a numeric column's learned range."""


def build_suite(df: pd.DataFrame, spec: DatasetSpec, *, slack: float = 0.25) -> dict[str, Any]:
    """Build the baseline expectation suite for ``spec`` from a sample that fits it.

    Expectations: the exact column set, at least one row, and per column (in ``spec.columns``
    order) its type, non-null when the sample had no nulls (always for the id and target), the
    sample's range widened by ``slack`` times its width for numbers, met by ``RANGE_MOSTLY`` of
    the rows (plus a strict ``>= 0`` when the sample has no negatives), the known categories
    or target labels, and unique ids. The id
    column's type follows the sample; the event-time column only gets the null check, as its
    type depends on the source (datetime with or without zone, or ISO text).

    Returns:
        The suite as ``ExpectationSuite.to_json_dict()`` gives it, without ids, so the same
        sample always gives the same file.

    Raises:
        SpecError: the sample lacks a spec column, or a numeric column has no numbers.
        ConfigError: ``slack`` is negative.

    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    if slack < 0:
        raise ConfigError(f"slack must be 0 or more, got {slack}")
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise SpecError(f"the sample lacks columns of dataset {spec.name!r}: {missing}")

    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=spec.columns, exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]
    for column in spec.columns:
        values = df[column]
        if column == spec.event_time_column:
            if not values.isna().any():
                expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
            continue
        if column == spec.id_column:
            numeric = pd.api.types.is_numeric_dtype(values)
            expectations += [
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=column, type_list=NUMERIC_TYPES if numeric else STRING_TYPES
                ),
                gxe.ExpectColumnValuesToNotBeNull(column=column),
                gxe.ExpectColumnValuesToBeUnique(column=column),
            ]
            continue
        if column == spec.target:
            expectations += [
                gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=STRING_TYPES),
                gxe.ExpectColumnValuesToNotBeNull(column=column),
                gxe.ExpectColumnValuesToBeInSet(column=column, value_set=spec.target_values),
            ]
            continue
        expectations += _feature_expectations(gxe, spec.feature(column), values, slack=slack)

    suite = gx.ExpectationSuite(
        name=spec.name,
        expectations=expectations,
        meta={"driftloop": {"dataset": spec.name, "generated_from_rows": len(df)}},
    )
    return suite.to_json_dict()


def _feature_expectations(
    gxe: Any, feature: Feature, values: pd.Series, *, slack: float
) -> list[Any]:
    """A feature's type, null, range (numbers) or category (categoricals) expectations."""
    column = feature.name
    expectations: list[Any] = []
    if feature.kind == "categorical":
        type_list = STRING_TYPES
    else:
        type_list = BOOL_TYPES if feature.dtype == "bool" else NUMERIC_TYPES
    expectations.append(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=type_list))
    if not feature.nullable:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if feature.kind == "categorical":
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=feature.categories)
        )
    elif feature.dtype != "bool":
        low, high = _bounds(values, column, slack=slack, integer=feature.dtype == "int64")
        if low >= 0:
            # A sign is a hard fact of the column (amounts, counts): no row may break it.
            expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
        # The learned range is a soft one: heavy tails put a few honest rows past any
        # sample's extremes, so it only fails when more than RANGE_MOSTLY's share are out.
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high, mostly=RANGE_MOSTLY
            )
        )
    return expectations


def write_suite(suite: dict[str, Any], path: Path) -> None:
    """Write ``suite`` as pretty JSON with sorted keys and a trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(suite, indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def load_suite(path: Path) -> dict[str, Any]:
    """Read a suite file written by :func:`write_suite` (or by GX).

    Raises:
        ConfigError: the file is missing, not JSON, or not shaped like a suite.

    """
    if not path.exists():
        raise ConfigError(f"expectation suite {path} does not exist (run `driftloop init`)")
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"expectation suite {path} is not readable JSON: {exc}") from exc
    if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
        raise ConfigError(f"expectation suite {path} has no 'name'")
    expectations = suite.get("expectations")
    if not isinstance(expectations, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("kwargs"), dict)
        for e in expectations
    ):
        raise ConfigError(
            f"expectation suite {path}: 'expectations' must be a list of objects "
            "with 'type' and 'kwargs'"
        )
    return suite


def validate_frame(
    df: pd.DataFrame,
    *,
    spec: DatasetSpec,
    suite_path: Path,
    reports_dir: Path,
    run_name: str,
    batch_label: str,
) -> ValidationReport:
    """Validate ``df`` against the suite in one GX call and keep the result and its Data Docs.

    Categorical values and target labels are checked as strings: pass batches through
    :func:`driftloop.inference.conform_frame` first. Bad data never raises here; it gives a
    failed report (call :func:`raise_for_failures` to stop on it). Validating again under the
    same ``run_name`` replaces that run's result and page.

    Args:
        df: The batch.
        spec: Its dataset spec.
        suite_path: The suite file (see :func:`build_suite`).
        reports_dir: Where the GX context, Data Docs and ``validations/<run_name>.json`` go.
        run_name: Names this run (e.g. the Airflow run id); one result is kept per name.
        batch_label: Says which batch this is (e.g. branch and path); shown in Data Docs.

    Raises:
        ConfigError: the suite file is missing or invalid, belongs to another dataset, or
            ``run_name`` cannot name a file.

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
    wanted = _gx_suite(suite_dict, suite_path)
    context = _context(reports_dir)
    suite = _sync_suite(context, wanted)
    _forget_run(context, spec.name, run_name)

    batch = _batch_definition(context, spec.name).get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format=_RESULT_FORMAT)
    _release_batch(batch)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.datetime.now(datetime.UTC))
    result.meta["run_id"] = run_id
    result.meta.setdefault("batch_markers", {})["batch_label"] = batch_label

    key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=spec.name), run_id, batch.id)
    context.validation_results_store.set(key, result)
    context.build_data_docs(resource_identifiers=[key])
    docs_path = _docs_page(context, key)

    result_path = reports_dir / "validations" / f"{run_name}.json"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_json_dict(), indent=2, sort_keys=True, default=str)
    result_path.write_text(text + "\n", encoding="utf-8")

    return ValidationReport(
        success=bool(result.success),
        statistics=dict(result.statistics),
        failures=_failures(result, suite, df, spec),
        result_path=result_path,
        docs_path=docs_path,
        rows=len(df),
    )


def raise_for_failures(report: ValidationReport, *, source: str) -> None:
    """Raise if ``report`` failed, naming ``source`` and every failed expectation.

    Raises:
        ValidationFailed: the batch failed; carries the statistics, failures and paths.

    """
    if report.success:
        return
    stats = report.statistics
    lines = [
        f"batch {source} failed validation: {stats.get('unsuccessful_expectations')} of "
        f"{stats.get('evaluated_expectations')} expectations failed",
        *(f"  - {f.expectation}: {f.message}" for f in report.failures),
        f"full result: {report.result_path}",
        f"data docs: {report.docs_path}",
    ]
    raise ValidationFailed(
        "\n".join(lines),
        statistics=stats,
        failures=[f.model_dump(mode="json") for f in report.failures],
        result_path=str(report.result_path),
        docs_path=str(report.docs_path),
    )


def _bounds(values: pd.Series, column: str, *, slack: float, integer: bool) -> tuple[float, float]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        raise SpecError(f"column {column!r} has no numbers in the sample to take a range from")
    low, high = float(numbers.min()), float(numbers.max())
    # A constant column still gets room to move, in proportion to its value.
    width = (high - low) or abs(high) or 1.0
    lower, upper = low - slack * width, high + slack * width
    if low >= 0:
        lower = max(lower, 0.0)
    if integer:
        return float(math.floor(lower)), float(math.ceil(upper))
    # Round outwards to four significant digits of the span, so the file reads well.
    exponent = math.floor(math.log10(upper - lower)) - 3 if upper > lower else 0
    step, digits = 10.0**exponent, max(0, -exponent)
    return (
        round(math.floor(lower / step) * step, digits),
        round(math.ceil(upper / step) * step, digits),
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
            configuration = ExpectationConfiguration(
                type=item["type"], kwargs=item["kwargs"], meta=item.get("meta") or {}
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
    return context


def _sync_suite(context: FileDataContext, wanted: ExpectationSuite) -> ExpectationSuite:
    """Get the context's copy of the suite, replacing it only when the file changed."""
    from great_expectations.exceptions import DataContextError

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


def _release_batch(batch: Any) -> None:
    """Drop the execution engine's hold on the batch's frame.

    GX keeps every loaded batch in its execution engine, which the context (a process-wide
    singleton) keeps alive after validation; in a process that runs several tasks (``airflow
    dags test``, the CLI) the frame would outlive the task: 1.4 GB at 5M rows.
    """
    manager = batch.data.execution_engine.batch_manager
    manager.batch_data_cache.pop(batch.id, None)
    manager.reset_batch_cache()


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


def _failures(
    result: ExpectationSuiteValidationResult,
    suite: ExpectationSuite,
    df: pd.DataFrame,
    spec: DatasetSpec,
) -> list[FailedExpectation]:
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    failed = sorted(
        (r for r in result.results if not r.success),
        key=lambda r: order.get(r.expectation_config.id, len(order)),
    )
    wrong_type = {
        r.expectation_config.kwargs.get("column")
        for r in failed
        if r.expectation_config.type == "expect_column_values_to_be_in_type_list"
        and _exception(r) is None
    }
    return [_describe(r, df, spec, wrong_type) for r in failed]


@dataclass(frozen=True)
class _Failed:
    """What a message about one failed expectation is made from."""

    subject: str
    column: str | None
    kwargs: dict[str, Any]
    details: dict[str, Any]
    examples: list[Any]
    frame: pd.DataFrame

    @property
    def count(self) -> Any:
        return self.details.get("unexpected_count")

    @property
    def observed(self) -> Any:
        return self.details.get("observed_value")


def _describe(
    evr: ExpectationValidationResult,
    df: pd.DataFrame,
    spec: DatasetSpec,
    wrong_type: set[str],
) -> FailedExpectation:
    config = evr.expectation_config
    column = config.kwargs.get("column")
    examples = _examples(evr.result or {})
    if (
        config.type == "expect_column_values_to_be_in_type_list"
        and config.kwargs.get("type_list") == NUMERIC_TYPES
        and column in df.columns
    ):
        # Numbers spelled as text are wrong too, but the junk ('?', 'n/a') is what to show.
        examples = _non_numbers(df[column]) or examples
    failed = _Failed(
        subject=f"target {column!r}" if column == spec.target else f"column {column!r}",
        column=column,
        kwargs=config.kwargs,
        details=evr.result or {},
        examples=examples,
        frame=df,
    )
    error = _exception(evr)
    if error is None:
        message, observed = _MESSAGES.get(config.type, _generic_message)(failed)
    else:
        message, observed = _error_message(failed, error, wrong_type), None
    return FailedExpectation(
        expectation=config.type,
        column=column,
        kwargs={
            k: _abridge(v) for k, v in config.kwargs.items() if k not in {"batch_id", "column"}
        },
        unexpected_count=failed.count,
        unexpected_percent=failed.details.get("unexpected_percent"),
        examples=failed.examples,
        observed=_json_safe(observed),
        message=message,
    )


def _error_message(failed: _Failed, error: str, wrong_type: set[str]) -> str:
    if failed.column is not None and failed.column not in failed.frame.columns:
        return f"{failed.subject} is missing from the batch, so it was not checked"
    repeats = int((failed.frame.columns == failed.column).sum())
    if repeats > 1:
        return f"{failed.subject} appears {repeats} times in the batch, so it was not checked"
    if failed.column in wrong_type:
        return f"{failed.subject} has the wrong type, so its values were not checked"
    return f"{failed.subject} could not be checked: {error}"


def _columns_message(failed: _Failed) -> tuple[str, Any]:
    expected = list(failed.kwargs.get("column_set") or [])
    actual = list(failed.observed or [])
    observed = {
        "missing": [c for c in expected if c not in actual],
        "unexpected": [c for c in actual if c not in expected],
    }
    parts = [f"{label} columns: {observed[label]}" for label in observed if observed[label]]
    return "; ".join(parts) or f"columns {actual} do not match {expected}", observed


def _row_count_message(failed: _Failed) -> tuple[str, Any]:
    wanted = failed.kwargs.get("min_value")
    return f"batch has {failed.observed} rows, expected at least {wanted}", failed.observed


def _type_message(failed: _Failed) -> tuple[str, Any]:
    frame, column = failed.frame, failed.column
    observed = str(frame[column].dtype) if column in frame.columns else failed.observed
    type_list = tuple(failed.kwargs.get("type_list") or ())
    expected = _TYPE_NAMES.get(type_list, f"one of {list(type_list)}")
    message = f"{failed.subject} has type {observed}, expected {expected}"
    if failed.examples:
        message += f"; {_values(failed.count)} of another type, e.g. {_listing(failed.examples)}"
    return message, observed


def _null_message(failed: _Failed) -> tuple[str, Any]:
    percent = failed.details.get("unexpected_percent") or 0.0
    message = (
        f"{failed.subject} has {_values(failed.count, 'null ')} ({percent:.1f}%), none allowed"
    )
    rows = failed.details.get("partial_unexpected_index_list") or []
    if rows:
        message += f", e.g. in rows {_listing(rows[:_MAX_EXAMPLES])}"
    return message, None


def _range_message(failed: _Failed) -> tuple[str, Any]:
    low, high = failed.kwargs.get("min_value"), failed.kwargs.get("max_value")
    if high is None:
        where = f"below {_number(low)}"
    elif low is None:
        where = f"above {_number(high)}"
    else:
        where = f"outside [{_number(low)}, {_number(high)}]"
    return (
        f"{failed.subject}: {_values(failed.count)} {where}, e.g. {_listing(failed.examples)}",
        None,
    )


def _set_message(failed: _Failed) -> tuple[str, Any]:
    allowed = list(failed.kwargs.get("value_set") or [])
    known = allowed if len(allowed) <= _MAX_LISTED else f"the {len(allowed)} known values"
    return (
        f"{failed.subject}: {_values(failed.count)} not in {known}, "
        f"e.g. {_listing(failed.examples)}",
        None,
    )


def _unique_message(failed: _Failed) -> tuple[str, Any]:
    return (
        f"{failed.subject}: {failed.count} rows repeat a value, e.g. {_listing(failed.examples)}",
        None,
    )


def _generic_message(failed: _Failed) -> tuple[str, Any]:
    message = f"{failed.subject if failed.column else 'the batch'} failed"
    if failed.observed is not None:
        message += f": observed {failed.observed}"
    if failed.examples:
        message += f", e.g. {_listing(failed.examples)}"
    return message, failed.observed


_MESSAGES = {
    "expect_table_columns_to_match_set": _columns_message,
    "expect_table_row_count_to_be_between": _row_count_message,
    "expect_column_values_to_be_in_type_list": _type_message,
    "expect_column_values_to_not_be_null": _null_message,
    "expect_column_values_to_be_between": _range_message,
    "expect_column_values_to_be_in_set": _set_message,
    "expect_column_values_to_be_unique": _unique_message,
}


def _exception(evr: ExpectationValidationResult) -> str | None:
    # GX keeps one flat record, or one record per metric that failed to compute.
    info = evr.exception_info or {}
    records = [info] if "raised_exception" in info else list(info.values())
    for record in records:
        if isinstance(record, dict) and record.get("raised_exception"):
            return str(record.get("exception_message") or "an unknown error")
    return None


def _examples(details: dict[str, Any]) -> list[Any]:
    counts = details.get("partial_unexpected_counts")
    values = [c["value"] for c in counts] if counts else details.get("partial_unexpected_list", [])
    unique: list[Any] = []
    for value in map(_json_safe, values or []):
        if value is not None and value not in unique:
            unique.append(value)
    return unique[:_MAX_EXAMPLES]


def _non_numbers(values: pd.Series) -> list[Any]:
    try:
        distinct = pd.Series(pd.unique(values.dropna()), dtype=object)
    except TypeError:  # unhashable values such as lists: GX's own examples will do
        return []
    text = distinct[distinct.map(lambda v: isinstance(v, str))]
    junk = text[pd.to_numeric(text, errors="coerce").isna()]
    return junk.tolist()[:_MAX_EXAMPLES]


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def _abridge(value: Any) -> Any:
    if isinstance(value, list) and len(value) > _MAX_LISTED:
        return [*value[:_MAX_LISTED], f"... {len(value) - _MAX_LISTED} more"]
    return _json_safe(value)


def _listing(values: list[Any]) -> str:
    return ", ".join(_number(v) if isinstance(v, float) else repr(v) for v in values)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _values(count: Any, kind: str = "") -> str:
    return f"{count} {kind}value" if count == 1 else f"{count} {kind}values"

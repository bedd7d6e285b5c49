"""Plain GX, as driftloop validated before it split suites per column: the reference.

One ``batch.validate(suite, SUMMARY)`` of the whole frame in an ephemeral context. The runner
(:mod:`driftloop.validation.runner`) validates each column's expectations on a one-column
frame, briefly first; :func:`outcomes` reduces a result to what its verdict and messages are
made of, so the two can be compared expectation by expectation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop.validation.runner import _gx_suite
from driftloop.validation.suites import load_suite

SUMMARY = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


def plain_gx(frame: pd.DataFrame, suite_path: Path) -> dict[str, Any]:
    """The JSON of one plain GX validation of ``frame`` with the suite file."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(_gx_suite(load_suite(suite_path), suite_path))
    asset = context.data_sources.add_pandas("reference").add_dataframe_asset("batch")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame}
    )
    return batch.validate(suite, result_format=SUMMARY).to_json_dict()


def outcomes(result: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Per expectation (type and kwargs but the batch's id): success, counts, examples, and
    whether it raised."""
    found = {}
    for item in result["results"]:
        config = item["expectation_config"]
        kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
        key = json.dumps([config["type"], kwargs], sort_keys=True, default=str)
        details = item.get("result") or {}
        raised = '"raised_exception": true' in json.dumps(item.get("exception_info") or {})
        found[key] = (
            item["success"],
            details.get("unexpected_count"),
            details.get("missing_count"),
            # A brief run that met nothing unexpected has no lists where SUMMARY has empty ones.
            json.dumps(details.get("partial_unexpected_counts") or [], sort_keys=True, default=str),
            json.dumps(details.get("partial_unexpected_index_list") or [], default=str),
            details.get("observed_value"),
            raised,
        )
    return found

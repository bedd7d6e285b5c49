"""The request body's fast path: records and columns checked a block at a time.

The codec must accept exactly what the pydantic request models accept, encode it exactly as
the record path does, and leave every refusal to pydantic, whose errors name the row and the
field. Each case goes through JSON, as a request does.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pydantic_core
import pytest
from pydantic import TypeAdapter, ValidationError

from driftloop.serving.batch import Batch, Refused
from driftloop.serving.contract import RecordModel, request_body, request_model
from driftloop.serving.limits import learned_limits
from driftloop.serving.scoring import encode, score
from driftloop.spec import DatasetSpec
from driftloop.validation.suites import load_suite

MAX_ROWS = 5

# What JSON can put in a field: numbers of every size and spelling, non-finite ones (Python's
# json writes NaN and Infinity, which pydantic's parser reads), text, booleans, containers.
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    3,
    2**53 + 1,
    10**30,
    10**400,
    0.0,
    -0.0,
    1.5,
    3.0,
    -2.5e-300,
    3.4028234663852886e38,
    3.5e38,
    -1e39,
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    "",
    "3",
    "1.5",
    "car",
    "crypto",
    "nan",
    [],
    [1.5],
    {},
    {"a": 1},
]
# A numeric feature, a nullable one, a categorical one, and the id.
FIELDS = ["age", "income", "purpose", "application_id"]


@pytest.fixture(scope="module")
def record(project, spec: DatasetSpec) -> type[RecordModel]:
    return request_model(spec, limits=learned_limits(load_suite(project.suite_path)))


@pytest.fixture(scope="module")
def body(record: type[RecordModel]):
    return request_body(record, max_rows=MAX_ROWS)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _pydantic(record: type[RecordModel], rows_json: str) -> Batch | None:
    """What the record path makes of the rows: a batch, or None where pydantic refuses."""
    adapter = TypeAdapter(list[record])
    try:
        return encode(adapter.validate_json(rows_json))
    except ValidationError:
        return None


def _same(ours: Batch, theirs: Batch) -> None:
    np.testing.assert_array_equal(ours.matrix, theirs.matrix)
    assert ours.ids == theirs.ids
    assert ours.warnings == theirs.warnings and ours.counts == theirs.counts


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_records_and_columns_accept_what_the_record_model_accepts(
    record, body, rows, field: str, value: Any
) -> None:
    sent = [dict(rows[0]), dict(rows[1], **{field: value}), dict(rows[2])]
    expected = _pydantic(record, json.dumps(sent))

    for form, data in (("records", sent), ("columns", _columns(sent))):
        text = json.dumps({form: data})
        if expected is None:
            with pytest.raises(ValidationError) as caught:
                body.model_validate_json(text)
            # Named as the record path names it: the row and the field.
            where = {(form, 1, field), (form, field, 1)}
            assert all(error["loc"][:3] in where for error in caught.value.errors())
        else:
            _same(body.model_validate_json(text).batch, expected)
            # Accepted on the fast path: the codec itself vouched for it.
            parsed = pydantic_core.from_json(text)[form]
            codec = record.codec
            fast = codec.records if form == "records" else codec.columns
            _same(fast(parsed, max_rows=MAX_ROWS), expected)


def test_the_shape_of_the_body_is_checked_like_the_record_model_does(body, rows) -> None:
    good = rows[:3]
    without_age = [good[0], {k: v for k, v in good[1].items() if k != "age"}]
    cases = {
        "no rows": ({"records": []}, ("records",), "too_short"),
        "too many rows": ({"records": rows[: MAX_ROWS + 1]}, ("records",), "too_long"),
        "records not a list": ({"records": good[0]}, ("records",), "list_type"),
        "a row not an object": ({"records": [good[0], [1, 2]]}, ("records", 1), "model_type"),
        "a missing field": ({"records": without_age}, ("records", 1, "age"), "missing"),
        "columns not an object": ({"columns": [good[0]]}, ("columns",), "model_type"),
        "a missing column": (
            {"columns": {k: v for k, v in _columns(good).items() if k != "region"}},
            ("columns", "region"),
            "missing",
        ),
        "a column not a list": (
            {"columns": dict(_columns(good), region="north")},
            ("columns", "region"),
            "list_type",
        ),
        "columns of different lengths": (
            {"columns": dict(_columns(good), age=[30, 40])},
            ("columns",),
            "value_error",
        ),
        "too many rows as columns": (
            {"columns": _columns(rows[: MAX_ROWS + 1])},
            ("columns", "age"),
            "too_long",
        ),
        "neither form": ({}, (), "value_error"),
        "both forms": ({"records": good, "columns": _columns(good)}, (), "value_error"),
    }
    for name, (sent, location, kind) in cases.items():
        with pytest.raises(ValidationError) as caught:
            body.model_validate_json(json.dumps(sent))
        assert (location, kind) in {(e["loc"], e["type"]) for e in caught.value.errors()}, name


@pytest.mark.parametrize(
    ("sent", "kind", "words"),
    [(b'{"records": [', "json_invalid", "EOF"), (b"[1]", "model_type", "an object")],
)
def test_json_that_is_not_a_body_gets_pydantics_own_error(body, sent, kind, words) -> None:
    with pytest.raises(ValidationError) as caught:
        body.model_validate_json(sent)

    assert caught.value.errors()[0]["type"] == kind
    assert words in caught.value.errors()[0]["msg"]


def test_columns_of_different_lengths_are_named(body, rows) -> None:
    columns = dict(_columns(rows[:3]), age=[30, 40], region=["north"])

    with pytest.raises(ValidationError, match="'age' has 2, 'region' has 1, the others 3"):
        body.model_validate_json(json.dumps({"columns": columns}))


def test_columns_and_records_give_the_same_answers(champion, body, rows) -> None:
    sent = [
        dict(rows[0], income=5_000_000.0),
        dict(rows[1], purpose="crypto", age=None),
        dict(rows[2], region=3, debt_to_income=-1),
        {k: v for k, v in rows[3].items() if k != "application_id"},
    ]
    by_records = body.model_validate_json(json.dumps({"records": sent})).batch
    as_columns = _columns([dict(row, application_id=row.get("application_id")) for row in sent])
    by_columns = body.model_validate_json(json.dumps({"columns": as_columns})).batch

    _same(by_columns, by_records)
    assert by_records.ids[3] is None and len(by_records.warnings) == 3
    assert score(champion, by_columns).json() == score(champion, by_records).json()
    assert by_columns.values == by_records.values
    assert by_records.values[0] == [row["age"] for row in sent]


@pytest.mark.parametrize("unknown", [False, True])
def test_the_json_answer_is_the_response_model_written(champion, record, rows, unknown) -> None:
    sent = [*rows[:20], dict(rows[20], purpose="crypto")] if unknown else rows[:20]
    scores = score(champion, encode(TypeAdapter(list[record]).validate_python(sent)))

    assert scores.json() == scores.response().model_dump_json().encode()
    assert any(p.warnings for p in scores.response().predictions) == unknown


def test_a_refusal_the_record_model_does_not_share_is_still_scored(record, rows) -> None:
    # The codec wants JSON's own types; a tuple is a list to pydantic, so the request model
    # validates the rows and the batch is made from what it validated.
    adapter = request_body(record, max_rows=MAX_ROWS)
    with pytest.raises(Refused):
        record.codec.records(tuple(rows[:2]), max_rows=MAX_ROWS)

    batch = adapter.model_validate({"records": tuple(rows[:2])}).batch

    _same(batch, encode(TypeAdapter(list[record]).validate_python(rows[:2])))


def test_categories_sent_as_numbers_or_booleans_are_compared_as_text(spec, rows) -> None:
    # A category learned from an integer column is spelled "1": 1, 1.0 and "1" are all it.
    features = [
        f.model_copy(update={"categories": ["1", "2", "True"]}) if f.name == "purpose" else f
        for f in spec.features
    ]
    coded = request_model(spec.model_copy(update={"features": features}))
    body = request_body(coded, max_rows=MAX_ROWS)
    cases = {(1, 2.0, "2", True, 7): [0, 1, 1, 2, np.nan], (1, 2, 1, 2, 7): [0, 1, 0, 1, np.nan]}
    unknown = {4: ["feature 'purpose': unknown category 7, scored as missing"]}

    for values, codes in cases.items():
        sent = [dict(rows[i], purpose=value) for i, value in enumerate(values)]
        for form, data in (("records", sent), ("columns", _columns(sent))):
            batch = body.model_validate_json(json.dumps({form: data})).batch
            purpose = batch.matrix[:, spec.feature_names.index("purpose")]
            np.testing.assert_array_equal(purpose, codes)
            assert batch.warnings == unknown

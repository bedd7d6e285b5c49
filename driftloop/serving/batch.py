"""A request's rows checked and encoded a block at a time: the contract's fast path.

JSON gives a request as records (one object per row) or as columns (one list per feature).
Either way :class:`RequestCodec` turns it into a :class:`Batch` with a few C-level passes
instead of one pydantic model per row: the numeric values of all rows go into one flat list
and the categorical ones into another; each list is validated at once against the very types
the record model gives those fields (:mod:`~driftloop.serving.fields`, by pydantic in Rust),
then encoded with training's code (``encode_numbers``, ``encode_categories``). So it accepts
exactly what the request models of :mod:`~driftloop.serving.contract` accept; what it
refuses (a bad value, a missing field, a list of the wrong length) the request model then
validates again, and its errors name each bad row and field. Figures:
``docs/benchmarks.md``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, cycle, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from driftloop.serving.fields import Category, Identifier, Number
from driftloop.serving.limits import FeatureLimits, InputChecks
from driftloop.training.features import category_codes, encode_categories, encode_numbers

if TYPE_CHECKING:
    from driftloop.serving.contract import RecordModel
    from driftloop.spec import DatasetSpec

# Each block validated at once, by pydantic, against the record model's own field types.
_NUMBERS = TypeAdapter(list[Number])
_CATEGORIES = TypeAdapter(list[Category])
_IDS = TypeAdapter(list[Identifier])
_TEXT_TYPES = frozenset({str, type(None)})


class Refused(Exception):
    """The fast path cannot vouch for this input; the request model will judge it."""


class Sent:
    """A request's values as sent, by row and feature, in whichever layout they came.

    The numeric features' values are one flat list and the categorical ones another, each
    row by row (records) or feature by feature (columns).
    """

    def __init__(
        self,
        blocks: tuple[list[Any], list[Any]],
        *,
        rows: int,
        by_row: bool,
        kinds: Sequence[tuple[int, int]],
        widths: tuple[int, int],
    ) -> None:
        self._blocks = blocks
        self._rows = rows
        self._by_row = by_row
        # Per feature: its block (0 numeric, 1 categorical) and its position in the block.
        self._kinds = kinds
        self._widths = widths

    def value(self, row: int, feature: int) -> Any:
        """The value sent for ``feature`` (its index in the spec) in ``row``."""
        block, position = self._kinds[feature]
        if self._by_row:
            return self._blocks[block][row * self._widths[block] + position]
        return self._blocks[block][position * self._rows + row]

    def columns(self) -> list[list[Any]]:
        """Each feature's values, in spec order."""
        columns = []
        for block, position in self._kinds:
            values = self._blocks[block]
            if self._by_row:
                columns.append(values[position :: self._widths[block]])
            else:
                columns.append(values[position * self._rows : (position + 1) * self._rows])
        return columns


@dataclass(frozen=True)
class Batch:
    """The rows of one request, checked: the model's matrix, values as sent, ids, warnings.

    Attributes:
        matrix: The float32 matrix the model predicts on, in spec order.
        sent: The values as sent (for warnings and profiles).
        ids: Each row's id, or ``None`` when the spec has no id column.
        warnings: Each flagged row's warnings (:class:`~driftloop.serving.limits.InputChecks`).
        counts: How many warnings of each (feature, kind) the rows have.
    """

    matrix: np.ndarray
    sent: Sent
    ids: Sequence[str | int | None] | None
    warnings: dict[int, list[str]]
    counts: Counter[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.matrix)

    @functools.cached_property
    def values(self) -> list[Sequence[Any]]:
        """Each feature's values as sent, in spec order."""
        return self.sent.columns()


class RequestCodec:
    """Checks and encodes requests of one spec: records, columns, or validated record models.

    Args:
        spec: The dataset spec.
        attributes: The record model's attribute of each feature, in spec order.
        id_attribute: The record model's attribute of the id column, if the spec has one.
        limits: Learned limits by feature name, for the warnings.
    """

    def __init__(
        self,
        spec: DatasetSpec,
        *,
        attributes: Sequence[str],
        id_attribute: str | None,
        limits: Mapping[str, FeatureLimits],
    ) -> None:
        self.spec = spec
        self.checks = InputChecks(spec, limits)
        features = spec.features
        self._numeric = [i for i, f in enumerate(features) if f.categories is None]
        self._categorical = [i for i, f in enumerate(features) if f.categories is not None]
        self._codes = [category_codes(features[i]) for i in self._categorical]
        kinds = [(0, 0)] * len(features)
        for block, indexes in enumerate((self._numeric, self._categorical)):
            for position, index in enumerate(indexes):
                kinds[index] = (block, position)
        self._kinds = kinds
        self._widths = len(self._numeric), len(self._categorical)
        names = spec.feature_names
        self._names = [names[i] for i in self._numeric], [names[i] for i in self._categorical]
        self._by_name = _tuples(self._names[0]), _tuples(self._names[1])
        self._by_attribute = (
            _tuples([attributes[i] for i in self._numeric]),
            _tuples([attributes[i] for i in self._categorical]),
        )
        self._id_name = spec.id_column
        self._id_getter = itemgetter(spec.id_column) if spec.id_column else None
        self._id_attribute = id_attribute

    def records(self, rows: Any, *, max_rows: int) -> Batch:
        """Check and encode records as JSON gives them: a list of 1 to ``max_rows`` objects.

        Raises:
            Refused: the rows are not such a list, a row lacks a feature, or a value is bad.
        """
        if type(rows) is not list or not 1 <= len(rows) <= max_rows:
            raise Refused
        numbers, categories = self._by_name
        try:
            blocks = (
                list(chain.from_iterable(map(numbers, rows))),
                list(chain.from_iterable(map(categories, rows))),
            )
        except (KeyError, TypeError):
            raise Refused from None
        ids = self._ids(rows) if self._id_name else None
        return self._encode(blocks, ids, len(rows), by_row=True, checked=False)

    def _ids(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Each row's id; ``None`` where it has none (the id is optional)."""
        try:
            return list(map(self._id_getter, rows))
        except KeyError:
            return [row.get(self._id_name) for row in rows]

    def columns(self, columns: Any, *, max_rows: int) -> Batch:
        """Check and encode columns as JSON gives them: an object of one list per feature.

        Every list holds one value per row (1 to ``max_rows``); the id column is optional;
        other keys are ignored, as in records.

        Raises:
            Refused: not such an object, a feature is absent or not a list, the lists differ in
                length, or a value is bad.
        """
        if type(columns) is not dict:
            raise Refused
        try:
            by_block = [[columns[name] for name in names] for names in self._names]
        except KeyError:
            raise Refused from None
        ids = columns.get(self._id_name) if self._id_name else None
        lists = [*by_block[0], *by_block[1], *([] if ids is None else [ids])]
        rows = len(lists[0])
        if not 1 <= rows <= max_rows or any(
            type(values) is not list or len(values) != rows for values in lists
        ):
            raise Refused
        blocks = list(chain.from_iterable(by_block[0])), list(chain.from_iterable(by_block[1]))
        return self._encode(blocks, ids, rows, by_row=False, checked=False)

    def models(self, records: Sequence[RecordModel]) -> Batch:
        """Encode records (one or more) that the request model has validated."""
        rows = [record.__dict__ for record in records]
        numbers, categories = self._by_attribute
        blocks = (
            list(chain.from_iterable(map(numbers, rows))),
            list(chain.from_iterable(map(categories, rows))),
        )
        ids = [row[self._id_attribute] for row in rows] if self._id_attribute else None
        return self._encode(blocks, ids, len(rows), by_row=True, checked=True)

    def _encode(
        self,
        blocks: tuple[list[Any], list[Any]],
        ids: list[Any] | None,
        rows: int,
        *,
        by_row: bool,
        checked: bool,
    ) -> Batch:
        """Check (unless the request model did) and encode; add the warnings."""
        # Text and nulls only (the usual case): valid categories as they are, and their own
        # canonical text.
        text = set(map(type, blocks[1])) <= _TEXT_TYPES
        if not checked:
            numbers = _valid(_NUMBERS, blocks[0])
            categories = blocks[1] if text else _valid(_CATEGORIES, blocks[1])
            ids = None if ids is None else _valid(_IDS, ids)
            blocks = numbers, categories
        matrix = np.empty((rows, len(self._kinds)), dtype=np.float32)
        # Each value's table: the features take turns within a row, or follow one another.
        tables = (
            cycle(self._codes)
            if by_row
            else chain.from_iterable(repeat(codes, rows) for codes in self._codes)
        )
        encoded = (
            encode_numbers(blocks[0], "number"),
            encode_categories(blocks[1], tables, text=text),
        )
        for indexes, values, width in zip(
            (self._numeric, self._categorical), encoded, self._widths, strict=True
        ):
            if width:
                shaped = values.reshape(rows, width) if by_row else values.reshape(width, rows).T
                matrix[:, indexes] = shaped
        sent = Sent(blocks, rows=rows, by_row=by_row, kinds=self._kinds, widths=self._widths)
        warnings, counts = self.checks.review(matrix, sent.value)
        return Batch(matrix, sent, ids, warnings, counts)


def _valid(adapter: TypeAdapter[list[Any]], values: list[Any]) -> list[Any]:
    """``values`` as ``adapter`` validates them (numbers as floats); refused if it does not."""
    try:
        return adapter.validate_python(values)
    except ValidationError:
        raise Refused from None


def _tuples(keys: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``row -> tuple(row[key] for key in keys)`` at C speed, for any number of keys."""
    if len(keys) == 1:
        key = keys[0]
        return lambda row: (row[key],)
    if not keys:
        return lambda row: ()
    return itemgetter(*keys)

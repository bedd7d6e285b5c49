"""Where batches come from: CSV/Parquet files and SQL databases, read one data interval at a time.

Every reader returns the same frame for the same interval (same rows, order and dtypes), so a
re-run writes byte-identical Parquet. Every failure is a :class:`DataSourceError` naming the file,
column or database (password masked) and what is wrong; an unreachable database raises its
subclass :class:`SourceUnavailable`, which is worth retrying.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import math
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from driftloop.data.roots import literal_folder, require_inside
from driftloop.data.urls import url_secrets
from driftloop.exceptions import DataSourceError, SourceUnavailable, SpecError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from driftloop.spec import SourceSpec

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_PARQUET_COMPRESSION = "zstd"
_DECODE_CHUNK = 1 << 20
_SCAN_BLOCK = 1 << 20
_REENCODE = "CSV files must be UTF-8, so re-encode it (for example from Latin-1 or cp1252)"
# Asking pyarrow for a column no CSV has keeps its scan to splitting rows into fields.
_NO_COLUMN = "\x00driftloop: no column"
CONNECT_TIMEOUT_SECONDS = 10.0
QUERY_TIMEOUT_SECONDS = 600.0
# PostgreSQL's query_canceled, which a statement past statement_timeout gets.
_PG_QUERY_CANCELED = "57014"


@dataclass(frozen=True)
class Interval:
    """A half-open data interval ``[start, end)``, held in UTC.

    Raises:
        ValueError: ``start`` or ``end`` has no time zone, or ``start`` is not before ``end``.

    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.utcoffset() is None:
                raise ValueError(f"interval {name} {value.isoformat()} has no time zone")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.start >= self.end:
            raise ValueError(f"interval start {self.start} is not before its end {self.end}")

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


class Source(Protocol):
    """A place batches are read from."""

    def read(self, interval: Interval | None = None) -> pd.DataFrame:
        """Read all rows, or only those whose event time is in ``interval``.

        Raises:
            SourceUnavailable: the source cannot be reached for now (worth retrying).
            DataSourceError: the source cannot be read.
            SpecError: an interval was given but the source has no event-time column.

        """
        ...

    def describe(self) -> str:
        """Describe the source in one line for commit metadata, without secrets."""
        ...

    def datasets(self) -> list[tuple[str, str]]:
        """What a read takes its rows from, as OpenLineage ``(namespace, name)`` pairs."""
        ...


def read_file(path: str | Path, *, format: str | None = None) -> pd.DataFrame:
    """Read one CSV or Parquet file, its format taken from ``format`` or the suffix.

    CSV keeps pandas' type inference (validation reports wrong types) and reads empty cells as
    missing values. A CSV file is UTF-8 (a byte order mark is allowed) with a header row and
    standard quoting: a quoted field may hold delimiters, doubled quotes and line breaks, and a
    column of quoted numbers is read as numbers. Every row must have exactly as many fields as
    the header has names, because pandas would otherwise move values between columns:

    * A row with more fields (often a delimiter at the end of data lines) is an error; pandas
      can take its first field for the row's index and shift the rest one column left.
    * A row with fewer fields is an error too, although pandas would fill the missing ones in.
      It assumes the last values are missing, but a short row cannot say which value was left
      out: one that lost a value in the middle would be read with its later values in the
      wrong columns. A missing value is written as an empty field (``1,,3``).
    * A header that ends with an empty name (a delimiter at the end of every line) is an error
      rather than a column of nothing named ``Unnamed: n``.

    These errors name the line as a text editor numbers it, counting line breaks in quoted
    fields.

    Raises:
        DataSourceError: the file is missing, empty, corrupt, not UTF-8 (CSV), of unknown format,
            or has a row whose number of fields differs from its header's (CSV).

    """
    path = Path(path)
    file_format = _file_format(path, format)
    if not path.exists():
        raise DataSourceError(f"{path} does not exist")
    if not path.is_file():
        raise DataSourceError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise DataSourceError(f"{path} is empty (0 bytes)")
    if file_format == "csv":
        return _read_csv(path)
    try:
        return _read_parquet(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataSourceError(f"{path} is not a readable Parquet file: {exc}") from exc


def _file_format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in _FORMATS.values():
            raise DataSourceError(f"{path}: unknown format {format!r} (use 'csv' or 'parquet')")
        return format
    try:
        return _FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(_FORMATS)
        raise DataSourceError(
            f"{path}: cannot tell the format from suffix {path.suffix!r} "
            f"(known: {known}; or set the source's format)"
        ) from None


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        # low_memory=False infers each column's type from the whole file; chunked inference can
        # give one column both numbers and strings, which Parquet cannot store.
        frame = pd.read_csv(path, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{path} is not valid UTF-8: {_utf8_error_position(path)}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataSourceError(f"{path} is empty: it has no header row") from exc
    except pd.errors.ParserError as exc:
        # pandas rejects a row with more fields than the first data row, but its line number
        # leaves out the line breaks inside quoted fields.
        raise _field_count_error(path, otherwise=f"{path} is not valid CSV: {exc}") from exc
    except OSError as exc:
        raise DataSourceError(f"{path} cannot be read: {exc}") from exc
    if _header_names(path)[-1] == "":
        raise DataSourceError(
            f"{path}: the header's last column has no name; if every line ends with a "
            "delimiter, remove it (a column without a name holds no data)"
        )
    if not isinstance(frame.index, pd.RangeIndex):
        # A first data row with more fields than the header makes pandas read every row's
        # leading fields as its index, shifting the rest.
        raise _field_count_error(
            path, otherwise=f"{path}: the first data row has more fields than the header"
        )
    # pandas fills a short row's missing fields in from the last column backwards, so a file
    # whose last column has no missing value has no short row, and needs no second look.
    if frame.iloc[:, -1].isna().any() and (row := _first_ragged_row(path)) is not None:
        raise _field_count_error(
            path,
            otherwise=(
                f"{path}: a row has {_fields(row.actual_columns)} but the header has "
                f"{row.expected_columns}: {row.text[:80]!r}"
            ),
        )
    return frame


def _header_names(path: Path) -> list[str]:
    """Return the header's names as written; pandas calls an empty one ``Unnamed: n``."""
    header = pd.read_csv(
        path, encoding="utf-8", header=None, nrows=1, dtype=str, keep_default_na=False
    )
    return header.iloc[0].tolist()


def _first_ragged_row(path: Path) -> pa_csv.InvalidRow | None:
    """Find a row whose number of fields differs from the header's, at C++ speed.

    Raises:
        DataSourceError: pyarrow cannot split the file into rows.

    """
    found: list[pa_csv.InvalidRow] = []

    def stop_at_ragged(row: pa_csv.InvalidRow) -> str:
        # pandas skips a line of spaces and tabs as blank, which pyarrow sees as one field.
        if not row.text.strip(" \t"):
            return "skip"
        found.append(row)
        return "error"

    parse_options = pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=stop_at_ragged)
    convert_options = pa_csv.ConvertOptions(
        include_columns=[_NO_COLUMN], include_missing_columns=True
    )
    size = path.stat().st_size
    block = _SCAN_BLOCK
    while True:
        read_options = pa_csv.ReadOptions(block_size=block, use_threads=False)
        try:
            with pa.memory_map(str(path)) as source:
                pa_csv.open_csv(
                    source,
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                ).read_all()
        except pa.ArrowInvalid as exc:
            if found:
                return found[0]
            if block > size:
                raise DataSourceError(f"{path} cannot be split into rows: {exc}") from exc
            # A row must fit in one block: retry with blocks that hold longer rows.
            block *= 16
        else:
            return None


def _field_count_error(path: Path, *, otherwise: str) -> DataSourceError:
    """Name the first line whose number of fields differs from the header's.

    ``otherwise`` is the message when no such line is found.
    """
    located = _first_ragged_line(path)
    if located is None:
        return DataSourceError(otherwise)
    line, fields, expected = located
    if fields > expected:
        hint = "is there a stray delimiter, or one at the end of the line?"
    else:
        hint = "write a missing value as an empty field (1,,3) rather than leaving it out"
    return DataSourceError(
        f"{path}: line {line} has {_fields(fields)} but the header has {expected}; {hint}"
    )


def _fields(count: int) -> str:
    return "1 field" if count == 1 else f"{count} fields"


def _first_ragged_line(path: Path) -> tuple[int, int, int] | None:
    """Return the first ragged row's line number, its number of fields and the header's.

    Returns ``None`` when the csv module finds no such row: it splits rows differently than
    pandas did, or stops at a field longer than its limit (128 KiB).
    """
    expected = None
    end = 0
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            for record in reader:
                # line_num counts the lines read so far, line breaks in quoted fields included.
                start, end = end + 1, reader.line_num
                # pandas skips empty lines and lines of spaces and tabs.
                if len(record) <= 1 and not "".join(record).strip(" \t"):
                    continue
                if expected is None:
                    expected = len(record)
                elif len(record) != expected:
                    return start, len(record), expected
    except csv.Error:
        return None
    return None


def _utf8_error_position(path: Path) -> str:
    """Locate the first invalid byte; pandas' own offset is relative to an internal buffer."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    line = 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_DECODE_CHUNK)
            pending = decoder.getstate()[0]
            data = pending + chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                offset = consumed - len(pending) + exc.start
                line += data[: exc.start].count(b"\n")
                return f"byte 0x{data[exc.start]:02x} at offset {offset} (line {line}); {_REENCODE}"
            if not chunk:
                return f"an invalid byte sequence; {_REENCODE}"
            consumed += len(chunk)
            line += chunk.count(b"\n")


def _event_times(frame: pd.DataFrame, column: str, *, where: str, required: bool) -> pd.Series:
    """Return the event-time column as UTC timestamps; naive values are taken to be UTC."""
    if column not in frame.columns:
        raise DataSourceError(
            f"{where} has no event-time column {column!r} (columns: {list(frame.columns)})"
        )
    values = frame[column]
    missing = values.isna()
    if required and missing.any():
        raise DataSourceError(
            f"{where}: event-time column {column!r} is empty in {int(missing.sum())} rows, "
            "which therefore belong to no data interval"
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = (
            values.dt.tz_convert(UTC) if values.dt.tz is not None else values.dt.tz_localize(UTC)
        )
    elif pd.api.types.is_numeric_dtype(values) and not missing.all():
        raise DataSourceError(
            f"{where}: event-time column {column!r} holds numbers ({values.dtype}), not timestamps"
        )
    else:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
        unparsed = parsed.isna() & ~missing
        if unparsed.any():
            row = int(unparsed.to_numpy().argmax())
            raise DataSourceError(
                f"{where}: event-time column {column!r} has {int(unparsed.sum())} values that "
                f"are not ISO 8601 timestamps, e.g. {values.iloc[row]!r} in data row {row + 1}"
            )
    return parsed.astype("datetime64[ns, UTC]")


def _in_interval(times: pd.Series, interval: Interval) -> pd.Series:
    return (times >= pd.Timestamp(interval.start)) & (times < pd.Timestamp(interval.end))


def _interval_needs_event_time(source: str) -> SpecError:
    return SpecError(
        f"{source} cannot be read for one data interval: the dataset spec has no event_time_column"
    )


class FileSource:
    """CSV or Parquet files matching a path or glob, read in sorted order and concatenated.

    With ``roots``, the path or glob and each of its matches must lie in one of those
    (resolved) folders, or nothing is listed or read (see :mod:`driftloop.data.roots`).
    """

    def __init__(
        self,
        path_or_glob: str | Path,
        *,
        format: str | None = None,
        event_time_column: str | None = None,
        roots: Sequence[Path] | None = None,
    ) -> None:
        self.pattern = str(path_or_glob)
        self.format = format
        self.event_time_column = event_time_column
        self.roots = roots

    def describe(self) -> str:
        """Return the path or glob."""
        return self.pattern

    def datasets(self) -> list[tuple[str, str]]:
        """The matching files, named as OpenLineage names local files (namespace ``file``)."""
        return [("file", str(path.resolve())) for path in self.paths()]

    def paths(self) -> list[Path]:
        """List the files matching the pattern, sorted (resolved, when confined to ``roots``).

        Raises:
            PathNotAllowed: the pattern's folder or a match lies outside ``roots``.
            DataSourceError: no file matches.

        """
        pattern = os.path.expanduser(self.pattern)
        if self.roots is not None:
            require_inside(literal_folder(pattern), self.roots, named=repr(self.pattern))
        matches = glob.glob(pattern, recursive=True)
        paths = sorted(Path(match) for match in matches if Path(match).is_file())
        if self.roots is not None:
            paths = sorted(
                require_inside(
                    path, self.roots, named=f"{str(path)!r} (a match of {self.pattern!r})"
                )
                for path in paths
            )
        if not paths:
            raise DataSourceError(f"no files match {self.pattern!r}")
        return paths

    def read(self, interval: Interval | None = None) -> pd.DataFrame:
        """Read every matching file's rows, or only those whose event time is in ``interval``.

        The event-time column, when set, is returned as UTC timestamps.

        Raises:
            DataSourceError: no file matches, a file cannot be read, or an event time is not a
                timestamp (or is empty while filtering by ``interval``).
            SpecError: ``interval`` is given but there is no event-time column.

        """
        if interval is not None and self.event_time_column is None:
            raise _interval_needs_event_time(self.pattern)
        frames = []
        for path in self.paths():
            frame = read_file(path, format=self.format)
            if self.event_time_column is not None:
                times = _event_times(
                    frame, self.event_time_column, where=str(path), required=interval is not None
                )
                frame[self.event_time_column] = times
                if interval is not None:
                    frame = frame.loc[_in_interval(times, interval)]
            frames.append(frame)
        # Files without matching rows are left out so they cannot change the combined dtypes.
        kept = [frame for frame in frames if len(frame)] or frames[:1]
        return pd.concat(kept, ignore_index=True)


class SqlSource:
    """A table or query in a database reached through an SQLAlchemy URL.

    Connecting gives up after ``connect_timeout_seconds`` (PostgreSQL through psycopg or
    psycopg2, MySQL and MariaDB through PyMySQL or mysqlclient), and a read after
    ``query_timeout_seconds``: PostgreSQL cancels the statement (``statement_timeout``, which
    counts waiting for a lock), MySQL and MariaDB stop waiting for the server
    (``read_timeout``), SQLite stops waiting for a lock. Other databases get no deadline from
    driftloop. Either way the task's own deadline (``task_timeout_minutes``) still holds.
    """

    def __init__(
        self,
        url: str,
        *,
        table: str | None = None,
        query: str | None = None,
        event_time_column: str | None = None,
        connect_timeout_seconds: float | None = None,
        query_timeout_seconds: float | None = None,
    ) -> None:
        if (table is None) == (query is None):
            raise SpecError("an SQL source needs exactly one of 'table' or 'query'")
        self.url = url
        self.table = table
        self.query = query
        self.event_time_column = event_time_column
        self.connect_timeout_seconds = connect_timeout_seconds or CONNECT_TIMEOUT_SECONDS
        self.query_timeout_seconds = query_timeout_seconds or QUERY_TIMEOUT_SECONDS

    def describe(self) -> str:
        """Return the URL (password masked) and the table or the query."""
        if self.table is not None:
            return f"{_display_url(self.url)} table={self.table}"
        return f"{_display_url(self.url)} query={' '.join(str(self.query).split())}"

    def datasets(self) -> list[tuple[str, str]]:
        """The table (``<database>.<table>``) or, for a query, the database, under its server.

        Named as OpenLineage names SQL datasets: namespace ``<scheme>://<host>:<port>``.
        """
        url = make_url(self.url)
        namespace = f"{url.get_backend_name()}://{url.host or 'localhost'}"
        namespace += f":{url.port}" if url.port else ""
        database = url.database or ""
        return [(namespace, f"{database}.{self.table}" if self.table else database)]

    def read(self, interval: Interval | None = None) -> pd.DataFrame:
        """Read the table's or query's rows, sorted by event time and then by every column.

        A table is filtered on ``event_time_column``; a query gets ``interval`` bound to its
        ``:start`` and ``:end`` parameters. The event-time column is returned as UTC timestamps.

        Raises:
            SourceUnavailable: the database cannot be reached, the connection dropped, or the
                read ran past ``query_timeout_seconds``.
            DataSourceError: the URL is invalid, the table does not exist, the query fails, or
                its result lacks the event-time column.
            SpecError: ``interval`` is given but the table has no event-time column or the query
                does not use ``:start`` and ``:end``.

        """
        statement, params = self._statement(interval)
        try:
            deadlines = self._deadline_args()
            engine = sa.create_engine(self.url, connect_args=deadlines)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise DataSourceError(
                f"cannot use database URL {_display_url(self.url)}: {self._mask(str(exc))}"
            ) from exc
        try:
            try:
                connection = engine.connect()
            except SQLAlchemyError as exc:
                deadline = (
                    f" (deadline {deadlines['connect_timeout']:g} s, "
                    "source.connect_timeout_seconds)"
                    if "connect_timeout" in deadlines
                    else ""
                )
                raise SourceUnavailable(
                    f"cannot connect to {self.describe()}{deadline}: {self._reason(exc)}"
                ) from exc
            with connection:
                if connection.dialect.name == "postgresql":
                    # Naive timestamps mean UTC in driftloop, also when compared with the interval.
                    connection.exec_driver_sql("SET TIME ZONE 'UTC'")
                    milliseconds = max(1, round(self.query_timeout_seconds * 1000))
                    connection.exec_driver_sql(f"SET statement_timeout = {milliseconds}")
                if self.table is not None:
                    self._check_table(connection)
                frame = pd.read_sql_query(statement, connection, params=params)
        except DBAPIError as exc:
            if _timed_out(exc):
                raise SourceUnavailable(
                    f"cannot read {self.describe()}: no result within "
                    f"{self.query_timeout_seconds:g} s (source.query_timeout_seconds): "
                    f"{self._reason(exc)}"
                ) from exc
            error = SourceUnavailable if exc.connection_invalidated else DataSourceError
            raise error(f"cannot read {self.describe()}: {self._reason(exc)}") from exc
        except SQLAlchemyError as exc:
            raise DataSourceError(f"cannot read {self.describe()}: {self._reason(exc)}") from exc
        finally:
            engine.dispose()
        if self.event_time_column is not None:
            frame[self.event_time_column] = _event_times(
                frame, self.event_time_column, where=self.describe(), required=interval is not None
            )
        return _sorted_rows(frame, first=self.event_time_column)

    def _statement(self, interval: Interval | None) -> tuple[sa.Executable, dict[str, datetime]]:
        params = {} if interval is None else {"start": interval.start, "end": interval.end}
        # A typed bind makes each dialect send the timestamp in the form it stores them.
        binds = [sa.bindparam(name, type_=sa.DateTime(timezone=True)) for name in params]
        if self.query is not None:
            statement = sa.text(self.query)
            used = set(statement.compile().params)
            if interval is not None and not {"start", "end"} <= used:
                raise SpecError(
                    f"{self.describe()} cannot be read for one data interval: the query does not "
                    "use both :start and :end"
                )
            if interval is None and used & {"start", "end"}:
                raise DataSourceError(
                    f"{self.describe()} uses :start and :end, so it needs a data interval"
                )
            return statement.bindparams(*binds), params
        schema, name = self._table_name()
        table = sa.table(name, schema=schema)
        statement = sa.select(sa.literal_column("*")).select_from(table)
        if interval is not None:
            if self.event_time_column is None:
                raise _interval_needs_event_time(self.describe())
            event_time = sa.column(self.event_time_column, _selectable=table)
            statement = statement.where(event_time >= binds[0], event_time < binds[1])
        return statement, params

    def _table_name(self) -> tuple[str | None, str]:
        schema, _, name = str(self.table).rpartition(".")
        return schema or None, name

    def _check_table(self, connection: sa.Connection) -> None:
        schema, name = self._table_name()
        if not sa.inspect(connection).has_table(name, schema=schema):
            raise DataSourceError(
                f"table {self.table!r} does not exist in {_display_url(self.url)}"
            )

    def _reason(self, exc: SQLAlchemyError) -> str:
        # The driver's own message, on one line, without SQLAlchemy's link to its FAQ.
        return self._mask(" ".join(str(getattr(exc, "orig", None) or exc).split()))

    def _mask(self, message: str) -> str:
        for secret in url_secrets(self.url):
            message = message.replace(secret, "***")
        return _mask_unparsed(message)

    def _deadline_args(self) -> dict[str, float]:
        """The driver's arguments that bound connecting and reading (see the class)."""
        try:
            url = make_url(self.url)
        except ArgumentError:
            return {}  # create_engine reports the URL
        backend, driver = url.get_backend_name(), url.get_driver_name()
        args: dict[str, float] = {}
        if backend == "postgresql" and driver in {"psycopg2", "psycopg"}:
            # libpq takes whole seconds, and waits 2 s for less.
            args = {"connect_timeout": max(2, math.ceil(self.connect_timeout_seconds))}
        elif backend in {"mysql", "mariadb"} and driver in {"pymysql", "mysqldb"}:
            args = {
                "connect_timeout": math.ceil(self.connect_timeout_seconds),
                "read_timeout": math.ceil(self.query_timeout_seconds),
            }
        elif backend == "sqlite" and driver == "pysqlite":
            args = {"timeout": self.query_timeout_seconds}
        # A deadline written in the URL's query wins.
        return {name: value for name, value in args.items() if name not in url.query}


def _timed_out(exc: DBAPIError) -> bool:
    """Whether the database gave up on the read at its deadline (PostgreSQL, SQLite)."""
    error = exc.orig
    # psycopg names the state sqlstate, psycopg2 pgcode.
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state == _PG_QUERY_CANCELED or getattr(error, "sqlite_errorcode", None) == (
        sqlite3.SQLITE_BUSY
    )


def _display_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _mask_unparsed(url)


def _mask_unparsed(text: str) -> str:
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


def _sorted_rows(frame: pd.DataFrame, *, first: str | None) -> pd.DataFrame:
    """Put rows in one total order, whatever order the database returned them in."""
    if frame.empty or frame.columns.empty:
        return frame.reset_index(drop=True)
    keys = [first] if first is not None else []
    keys += [column for column in frame.columns if column != first]
    return frame.sort_values(
        keys, key=_orderable, kind="stable", na_position="last", ignore_index=True
    )


def _orderable(values: pd.Series) -> pd.Series:
    # Database types such as JSON or arrays arrive as Python objects with no ordering; their
    # text form still orders rows the same way on every read.
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) != "string":
        return values.map(repr, na_action="ignore")
    return values


def open_source(spec: SourceSpec, *, event_time_column: str | None) -> Source:
    """Build the source a dataset spec's ``source`` section describes.

    Raises:
        SpecError: the SQL source has both or neither of ``table`` and ``query``.

    """
    if spec.kind == "file":
        return FileSource(str(spec.path), format=spec.format, event_time_column=event_time_column)
    return SqlSource(
        str(spec.url),
        table=spec.table,
        query=spec.query,
        event_time_column=event_time_column,
        connect_timeout_seconds=spec.connect_timeout_seconds,
        query_timeout_seconds=spec.query_timeout_seconds,
    )


def to_parquet_bytes(df: pd.DataFrame) -> bytes:
    """Serialise ``df`` as Parquet without its index; equal frames give identical bytes.

    Raises:
        DataSourceError: a column cannot be stored in Parquet (for example, mixed types).

    """
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataSourceError(f"the batch cannot be written as Parquet: {exc}") from exc
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=_PARQUET_COMPRESSION)
    del table
    data = sink.getvalue().to_pybytes()
    del sink
    _release_arrow_memory()
    return data


def read_parquet_bytes(data: bytes, *, label: str) -> pd.DataFrame:
    """Read Parquet bytes; ``label`` names them in errors (for example, a branch and path).

    Raises:
        DataSourceError: the bytes are not valid Parquet.

    """
    if not data:
        raise DataSourceError(f"{label} is empty (0 bytes)")
    try:
        return _read_parquet(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataSourceError(f"{label} is not readable Parquet: {exc}") from exc


def parquet_row_groups(url: str, *, storage_options: Mapping[str, Any], label: str) -> list[int]:
    """The rows of each row group of the Parquet file at ``url`` (fsspec), from its footer.

    Raises:
        DataSourceError: the file cannot be opened or is not Parquet (``label`` names it).
    """
    import fsspec

    try:
        with fsspec.open(url, "rb", **storage_options) as handle:
            metadata = pq.ParquetFile(handle).metadata
    except pa.ArrowException as exc:
        raise DataSourceError(f"{label} is not readable Parquet: {exc}") from exc
    except OSError as exc:
        raise DataSourceError(f"{label} cannot be read at {url}: {exc}") from exc
    return [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)]


def read_parquet_row_groups(
    url: str, row_groups: Sequence[int], *, storage_options: Mapping[str, Any], label: str
) -> pd.DataFrame:
    """Some row groups of the Parquet file at ``url`` (fsspec), as ``read_parquet_bytes`` reads.

    The same frame as the rows of those groups read from the object's bytes, without
    holding the rest of the file.

    Raises:
        DataSourceError: the file cannot be opened or is not Parquet (``label`` names it).
    """
    import fsspec

    try:
        with fsspec.open(url, "rb", **storage_options) as handle:
            table = pq.ParquetFile(handle).read_row_groups(list(row_groups))
    except pa.ArrowException as exc:
        raise DataSourceError(f"{label} is not readable Parquet: {exc}") from exc
    except OSError as exc:
        raise DataSourceError(f"{label} cannot be read at {url}: {exc}") from exc
    frame = _table_to_frame(table)
    del table
    _release_arrow_memory()
    return frame


def _read_parquet(source: Path | io.BytesIO) -> pd.DataFrame:
    frame = _table_to_frame(pq.read_table(source))
    _release_arrow_memory()
    return frame


def _release_arrow_memory() -> None:
    """Hand the pages of freed Arrow tables back to the system.

    Arrow's allocator (mimalloc) keeps them, and what follows a read or a write runs on
    pandas and NumPy, which cannot use them: 0.8 GB held through the task at 5M rows.
    """
    pa.default_memory_pool().release_unused()


def _table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Convert a table read from Parquet to pandas, one ``str`` object per distinct text value.

    Columns stored from pandas' ``string`` dtype (how batches keep categories and labels) come
    back as ``string`` again, but pyarrow would build a new Python object for every row of
    them (about 1.6 GB for five such columns at 5M rows). Converted as plain text columns
    they share one object per distinct value, and turning those into ``string`` keeps them
    shared: the same frame, a fraction of the memory.
    """
    metadata = table.schema.pandas_metadata or {}
    index = {name for name in metadata.get("index_columns", []) if isinstance(name, str)}
    columns = [c for c in metadata.get("columns", []) if c["field_name"] not in index]
    text = {c["field_name"] for c in columns if c.get("numpy_type") == "string"}
    if not text:
        return table.to_pandas()
    for column in columns:
        if column["field_name"] in text:
            column["numpy_type"] = "object"
    schema_metadata = {**table.schema.metadata, b"pandas": json.dumps(metadata).encode()}
    frame = table.replace_schema_metadata(schema_metadata).to_pandas()
    fields = [name for name in table.schema.names if name not in index]
    for position, name in enumerate(fields):
        if name in text:
            frame.isetitem(position, frame.iloc[:, position].astype("string"))
    return frame

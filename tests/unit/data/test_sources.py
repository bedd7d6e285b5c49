from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from driftloop.data.sources import (
    FileSource,
    Interval,
    SqlSource,
    open_source,
    read_file,
    read_parquet_bytes,
    to_parquet_bytes,
)
from driftloop.exceptions import DataSourceError, SourceUnavailable, SpecError
from driftloop.spec import SourceSpec
from tests.support.services import skip_unless_ci

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
JAN2 = datetime(2026, 1, 2, tzinfo=UTC)
DAY1 = Interval(JAN1, JAN2)


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _events(times: list[datetime]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(len(times)),
            "at": pd.to_datetime(times, utc=True),
            "amount": [float(i) * 1.5 for i in range(len(times))],
            "kind": ["a" if i % 2 else "b" for i in range(len(times))],
        }
    )


# read_file ---------------------------------------------------------------------------------


def test_csv_keeps_inferred_types_and_reads_empty_cells_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", "n,x,s\n1,2.5,a\n2,,\n3,oops,c\n")

    frame = read_file(path)

    assert frame["n"].dtype == "int64"
    assert frame["x"].tolist()[0] == "2.5" and pd.isna(frame["x"][1])  # not coerced to numbers
    assert pd.isna(frame["s"][1])


def test_parquet_and_explicit_format(tmp_path: Path) -> None:
    frame = _events([JAN1, JAN2])
    parquet = tmp_path / "b.parquet"
    parquet.write_bytes(to_parquet_bytes(frame))
    odd_suffix = _write(tmp_path / "b.txt", "a,b\n1,2\n")

    pd.testing.assert_frame_equal(read_file(parquet), frame)
    assert read_file(odd_suffix, format="csv")["b"].tolist() == [2]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty (0 bytes)"),
        ("empty.parquet", b"", "is empty (0 bytes)"),
        ("blank.csv", b"\n\n", "has no header row"),
        ("ragged.csv", b"a,b\n1,2\n1,2,3,4\n", "line 3 has 4 fields but the header has 2"),
        ("unclosed.csv", b'a,b\n1,"2\n3,4\n', "is not valid CSV: "),
        ("junk.parquet", b"PAR1 this is not parquet", "is not a readable Parquet file"),
        ("data.json", b"{}", "cannot tell the format from suffix '.json'"),
    ],
)
def test_unreadable_files_name_the_file_and_the_problem(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = _write(tmp_path / name, content)

    with pytest.raises(DataSourceError, match=re.escape(expected)) as caught:
        read_file(path)

    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"nope\.csv does not exist"):
        read_file(tmp_path / "nope.csv")


@pytest.mark.parametrize("cut", ["half", "corrupt_middle"])
def test_damaged_parquet(tmp_path: Path, cut: str) -> None:
    data = to_parquet_bytes(_events([JAN1 + timedelta(minutes=i) for i in range(500)]))
    damaged = (
        data[: len(data) // 2]
        if cut == "half"
        else data[:100] + bytes(len(data) // 2) + data[100 + len(data) // 2 :]
    )
    path = _write(tmp_path / "b.parquet", damaged)

    with pytest.raises(DataSourceError, match=r"b\.parquet is not a readable Parquet file"):
        read_file(path)


def test_non_utf8_csv_reports_byte_offset_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin1.csv", b"name,city\nann,Paris\nbob,Z\xfcrich\n")

    with pytest.raises(DataSourceError) as caught:
        read_file(path)

    message = str(caught.value)
    assert str(path) in message
    assert "not valid UTF-8: byte 0xfc at offset 25 (line 3)" in message


def test_non_utf8_offset_is_exact_past_the_first_megabyte(tmp_path: Path) -> None:
    # Three-byte lines of a two-byte character put a character across every 1 MiB boundary,
    # which must not be mistaken for an encoding error.
    lines = 400_000
    path = _write(tmp_path / "big.csv", b"ab\n" + "é\n".encode() * lines + b"\xff\n")

    with pytest.raises(
        DataSourceError, match=rf"0xff at offset {3 + 3 * lines} \(line {lines + 2}\)"
    ):
        read_file(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # pandas would read age=1000 and income missing: the first field became the index.
        ("age,income\n30,1000,\n40,2000,\n", "line 2 has 3 fields but the header has 2"),
        ("age,income\n30,1000\n40,2000,\n", "line 3 has 3 fields but the header has 2"),
        ("a,b\n1,2,3,4\n5,6\n", "line 2 has 4 fields but the header has 2"),
        # Physical lines: pandas itself calls this one line 4.
        ('id,note\n1,"two\nlines"\n\n2,x,y\n', "line 5 has 3 fields but the header has 2"),
        # A row over several lines is named by its first.
        ('id,note\n1,x\n2,"two\nlines",y\n', "line 3 has 3 fields but the header has 2"),
    ],
)
def test_csv_row_with_more_fields_than_the_header_names_its_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = _write(tmp_path / "extra.csv", content)

    with pytest.raises(DataSourceError, match=re.escape(expected)) as caught:
        read_file(path)

    assert str(path) in str(caught.value)
    assert "stray delimiter" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields but the header has 3"),
        ('a,b,c\n"x\ny",2,3\n\n  \n4\n', "line 6 has 1 field but the header has 3"),
    ],
)
def test_csv_row_with_fewer_fields_than_the_header_names_its_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = _write(tmp_path / "short.csv", content)

    with pytest.raises(DataSourceError, match=re.escape(expected)) as caught:
        FileSource(tmp_path / "*.csv").read()

    assert str(path) in str(caught.value)
    assert "write a missing value as an empty field" in str(caught.value)


def test_csv_empty_fields_blank_lines_and_lines_of_spaces_are_no_short_rows(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "b.csv", "a,b,c\n1,2,\n\n \t\n,,\n4,5,6\n")

    frame = read_file(path)

    assert frame.shape == (3, 3)
    assert frame["c"].isna().tolist() == [True, True, False]
    assert frame["a"].tolist()[::2] == [1, 4]


def test_csv_trailing_delimiter_on_every_line_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "trailing.csv", "age,income,\n30,1000,\n40,2000,\n")

    with pytest.raises(DataSourceError, match="the header's last column has no name") as caught:
        read_file(path)

    assert str(path) in str(caught.value)


@pytest.mark.parametrize("header", ["age,income", '"age","income"'])
def test_csv_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path, header: str) -> None:
    path = _write(tmp_path / "bom.csv", f"\ufeff{header}\n30,1000\n")

    frame = read_file(path)

    assert list(frame.columns) == ["age", "income"]
    assert frame["age"].tolist() == [30]


def test_csv_quoted_fields_keep_line_breaks_delimiters_and_quotes(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "quoted.csv",
        'id,note,amount\r\n1,"first line\r\nsecond, with a comma",10\r\n2,"say ""hi""",20\r\n',
    )

    frame = read_file(path)

    assert frame["note"].tolist() == ["first line\r\nsecond, with a comma", 'say "hi"']
    assert frame["amount"].tolist() == [10, 20]


def test_csv_quoted_numbers_are_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", 'id,amount,rate\n"1","1000","2.5"\n"2","2000",""\n')

    frame = read_file(path)

    assert [str(dtype) for dtype in frame.dtypes] == ["int64", "int64", "float64"]
    assert frame["amount"].tolist() == [1000, 2000]
    assert frame["rate"].tolist()[0] == 2.5


def test_latin1_csv_must_be_re_encoded_as_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin1.csv", "name,city\nJosé,Paris\n".encode("latin-1"))

    with pytest.raises(DataSourceError) as caught:
        read_file(path)

    message = str(caught.value)
    assert message.startswith(f"{path} is not valid UTF-8: byte 0xe9 at offset 13 (line 2)")
    assert "must be UTF-8" in message


def test_csv_row_longer_than_a_scan_block_is_read(tmp_path: Path) -> None:
    long = "x" * 3_000_000
    path = _write(tmp_path / "long.csv", f'a,b\n"{long}",\n3,4\n')

    frame = read_file(path)

    assert frame["a"].tolist() == [long, "3"]
    assert pd.isna(frame["b"][0])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # The csv module stops at fields over 128 KiB, so the line goes unnamed.
        ('"{long}",2,3\n', "the first data row has more fields than the header"),
        ('"{long}",2\n3\n', "a row has 1 field but the header has 2: '3'"),
    ],
)
def test_ragged_row_that_cannot_be_located_still_fails(
    tmp_path: Path, rows: str, expected: str
) -> None:
    path = _write(tmp_path / "b.csv", "a,b\n" + rows.format(long="x" * 3_000_000))

    with pytest.raises(DataSourceError, match=re.escape(expected)) as caught:
        read_file(path)

    assert str(path) in str(caught.value)


def test_parquet_bytes_round_trip_is_deterministic() -> None:
    frame = _events([JAN1, JAN1 + timedelta(hours=1)])

    data = to_parquet_bytes(frame)

    assert data == to_parquet_bytes(frame.copy())
    pd.testing.assert_frame_equal(read_parquet_bytes(data, label="main:batch.parquet"), frame)


@pytest.mark.parametrize("data", [b"", b"not parquet at all"])
def test_corrupt_parquet_bytes_name_the_label(data: bytes) -> None:
    with pytest.raises(DataSourceError, match=re.escape("lakefs://repo/main/batch.parquet")):
        read_parquet_bytes(data, label="lakefs://repo/main/batch.parquet")


def test_mixed_type_column_cannot_be_written() -> None:
    with pytest.raises(DataSourceError, match="income"):
        to_parquet_bytes(pd.DataFrame({"income": [1.5, "lots"]}))


# Interval ----------------------------------------------------------------------------------


def test_interval_is_held_in_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    interval = Interval(
        datetime(2026, 1, 1, 2, tzinfo=plus2), datetime(2026, 1, 2, 2, tzinfo=plus2)
    )

    assert interval == DAY1
    assert interval.start.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 1, 1), JAN2, "has no time zone"),
        (JAN2, JAN1, "is not before its end"),
        (JAN1, JAN1, "is not before its end"),
    ],
)
def test_invalid_interval(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Interval(start, end)


# FileSource --------------------------------------------------------------------------------


def test_file_source_reads_sorted_matches_and_filters_half_open(tmp_path: Path) -> None:
    _write(
        tmp_path / "b_2.csv",
        "id,at,v\n3,2026-01-02T00:00:00Z,30\n4,2026-01-01T23:59:59+00:00,40\n",
    )
    _write(
        tmp_path / "b_1.csv",
        # 00:30 at +02:00 is the day before in UTC.
        "id,at,v\n1,2026-01-01 00:00:00,10\n2,2026-01-01T00:30:00+02:00,20\n",
    )
    source = FileSource(tmp_path / "b_*.csv", event_time_column="at")

    everything = source.read()
    day = source.read(DAY1)

    assert everything["id"].tolist() == [1, 2, 3, 4]
    assert day["id"].tolist() == [1, 4]
    assert str(day["at"].dtype) == "datetime64[ns, UTC]"
    assert day["at"].tolist() == [pd.Timestamp(JAN1), pd.Timestamp("2026-01-01T23:59:59Z")]
    assert source.describe() == str(tmp_path / "b_*.csv")


def test_file_source_reads_are_byte_identical(tmp_path: Path) -> None:
    for day in range(3):
        start = JAN1 + timedelta(days=day - 1)
        frame = _events([start + timedelta(hours=h) for h in range(0, 24, 5)])
        _write(tmp_path / f"d{day}.parquet", to_parquet_bytes(frame))
    source = FileSource(tmp_path / "*.parquet", event_time_column="at")

    first, second = source.read(DAY1), source.read(DAY1)

    assert len(first) == 5
    assert to_parquet_bytes(first) == to_parquet_bytes(second)


def test_file_source_without_matches_names_the_glob(tmp_path: Path) -> None:
    pattern = str(tmp_path / "landing" / "*.csv")

    with pytest.raises(DataSourceError, match=re.escape(f"no files match {pattern!r}")):
        FileSource(pattern).read()


@pytest.mark.parametrize(
    ("rows", "interval", "expected"),
    [
        (
            "1,yesterday\n",
            None,
            "column 'at' has 1 values that are not ISO 8601 timestamps, "
            "e.g. 'yesterday' in data row 2",
        ),
        ("1,\n", DAY1, "event-time column 'at' is empty in 1 rows"),
    ],
)
def test_bad_event_times_name_file_column_and_value(
    tmp_path: Path, rows: str, interval: Interval | None, expected: str
) -> None:
    path = _write(tmp_path / "b.csv", "id,at\n0,2026-01-01T01:00:00Z\n" + rows)

    with pytest.raises(DataSourceError, match=re.escape(expected)) as caught:
        FileSource(path, event_time_column="at").read(interval)

    assert str(path) in str(caught.value)


def test_missing_event_time_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", "id,when\n1,2026-01-01\n")

    with pytest.raises(DataSourceError, match=r"b\.csv has no event-time column 'at'"):
        FileSource(path, event_time_column="at").read(DAY1)


def test_interval_needs_an_event_time_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", "id\n1\n")

    with pytest.raises(SpecError, match="no event_time_column"):
        FileSource(path).read(DAY1)


def test_open_source_builds_each_kind(tmp_path: Path) -> None:
    files = open_source(
        SourceSpec(kind="file", path=str(tmp_path / "*.csv")), event_time_column="at"
    )
    sql = open_source(
        SourceSpec(kind="sql", url="sqlite:///x.db", table="loans"), event_time_column=None
    )

    assert isinstance(files, FileSource) and files.event_time_column == "at"
    assert isinstance(sql, SqlSource) and sql.describe() == "sqlite:///x.db table=loans"


# SqlSource ---------------------------------------------------------------------------------


def _postgres_url() -> str | None:
    for user in ("postgres", "root"):
        engine = sa.create_engine(
            f"postgresql+psycopg2://{user}@127.0.0.1:5432/test",
            connect_args={"connect_timeout": 3},
        )
        try:
            with engine.connect():
                return engine.url.render_as_string(hide_password=False)
        except sa.exc.OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _postgres_url()
    if url is None:
        skip_unless_ci("PostgreSQL on 127.0.0.1:5432 (database 'test') is unreachable")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path):
    """A database URL and a fresh table name (with a hyphen, so it needs quoting)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    table = f"loan-apps_{uuid.uuid4().hex[:10]}"
    yield url, table
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
    engine.dispose()


def _load(url: str, table: str, frame: pd.DataFrame) -> None:
    engine = sa.create_engine(url)
    frame.to_sql(table, engine, index=False)
    engine.dispose()


# Shuffled, with two rows sharing an event time, and rows exactly at both interval bounds.
ROWS = _events(
    [
        JAN1 + timedelta(hours=5),
        JAN2,
        JAN1 - timedelta(seconds=1),
        JAN1,
        JAN1 + timedelta(hours=5),
        JAN2 - timedelta(microseconds=1),
    ]
)


def test_sql_table_filters_interval_and_orders_rows(database: tuple[str, str]) -> None:
    url, table = database
    _load(url, table, ROWS)
    source = SqlSource(url, table=table, event_time_column="at")

    day = source.read(DAY1)

    assert day["id"].tolist() == [3, 0, 4, 5]
    assert str(day["at"].dtype) == "datetime64[ns, UTC]"
    assert day["at"].iloc[0] == pd.Timestamp(JAN1)
    assert len(source.read()) == len(ROWS)
    assert to_parquet_bytes(day) == to_parquet_bytes(source.read(DAY1))


def test_sql_query_binds_start_and_end(database: tuple[str, str]) -> None:
    url, table = database
    _load(url, table, ROWS)
    query = f"SELECT id, at, kind FROM \"{table}\" WHERE at >= :start AND at < :end AND kind = 'b'"

    day = SqlSource(url, query=query, event_time_column="at").read(DAY1)

    assert day["id"].tolist() == [0, 4]
    assert list(day.columns) == ["id", "at", "kind"]


def test_sql_query_and_interval_must_agree(database: tuple[str, str]) -> None:
    url, table = database
    _load(url, table, ROWS)
    with_params = SqlSource(url, query=f'SELECT * FROM "{table}" WHERE at >= :start AND at < :end')
    without = SqlSource(url, query=f'SELECT * FROM "{table}" WHERE at >= :start')

    with pytest.raises(DataSourceError, match="needs a data interval"):
        with_params.read()
    with pytest.raises(SpecError, match="does not use both :start and :end"):
        without.read(DAY1)


def test_sql_missing_table_names_table_and_url(database: tuple[str, str]) -> None:
    url, table = database

    with pytest.raises(DataSourceError, match=f"table '{table}' does not exist in "):
        SqlSource(url, table=table).read()


def test_sql_query_error_names_the_source(database: tuple[str, str]) -> None:
    url, table = database

    with pytest.raises(
        DataSourceError, match=f"cannot read .* query=SELECT \\* FROM {table}"
    ) as caught:
        SqlSource(url, query=f"SELECT * FROM {table}").read()

    assert not isinstance(caught.value, SourceUnavailable)  # retrying will not create the table


@pytest.mark.postgres
def test_postgres_password_is_masked(postgres_url: str) -> None:
    url = sa.make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    source = SqlSource(url, table="no_such_table_here")

    with pytest.raises(DataSourceError) as caught:
        source.read()

    assert "s3cret-pw" not in str(caught.value) and "s3cret-pw" not in source.describe()
    assert ":***@127.0.0.1:5432/test" in str(caught.value)


@pytest.mark.postgres
def test_postgres_naive_timestamps_are_utc(postgres_url: str) -> None:
    table = f"naive_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"CREATE TABLE {table} (id int, at timestamp)"))
            connection.execute(
                sa.text(
                    f"INSERT INTO {table} VALUES (1, '2025-12-31 23:00'), (2, '2026-01-01 00:00')"
                )
            )
        # A session in another time zone must not move the interval's bounds.
        new_york = sa.make_url(postgres_url).update_query_dict(
            {"options": "-c timezone=America/New_York"}
        )
        source = SqlSource(
            new_york.render_as_string(hide_password=False), table=table, event_time_column="at"
        )
        day = source.read(DAY1)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()

    assert day["id"].tolist() == [2]
    assert day["at"].tolist() == [pd.Timestamp(JAN1)]


def test_unreachable_server_is_retryable_and_masks_the_password() -> None:
    source = SqlSource("postgresql+psycopg2://ingest:hunter22@127.0.0.1:1/loans", table="loans")

    with pytest.raises(SourceUnavailable) as caught:
        source.read()

    message = str(caught.value)
    assert "postgresql+psycopg2://ingest:***@127.0.0.1:1/loans table=loans" in message
    assert "hunter22" not in message
    assert "Connection refused" in message


def test_invalid_url() -> None:
    with pytest.raises(DataSourceError, match="cannot use database URL nosuchdb://u:\\*\\*\\*@h/d"):
        SqlSource("nosuchdb://u:pw@h/d", table="t").read()


def test_sql_source_needs_exactly_one_of_table_and_query() -> None:
    with pytest.raises(SpecError, match="exactly one of 'table' or 'query'"):
        SqlSource("sqlite://", table="t", query="SELECT 1")


def test_text_columns_read_back_as_pyarrow_gives_them_sharing_one_object_per_value(
    tmp_path: Path,
) -> None:
    labels = pd.array(["yes", "no", None, "no"] * 500, dtype="string")
    frame = pd.DataFrame({"id": range(2_000), "label": labels, "note": ["a", "b"] * 1_000})
    frame.to_parquet(tmp_path / "indexed.parquet", index=True)
    rows = pd.Index([f"r{i}" for i in range(2_000)], dtype="string", name="row")
    frame.set_index(rows).to_parquet(tmp_path / "named.parquet")

    reads = {
        "bytes": (read_parquet_bytes(to_parquet_bytes(frame), label="batch"), frame),
        **{
            name: (read_file(tmp_path / name), pd.read_parquet(tmp_path / name))
            for name in ("indexed.parquet", "named.parquet")
        },
    }

    for name, (read, expected) in reads.items():
        pd.testing.assert_frame_equal(read, expected, obj=name)
        assert read["label"].dtype == "string", name
        assert len({id(value) for value in read["label"].dropna()}) == 2, name

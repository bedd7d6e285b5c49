from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from driftloop.exceptions import ProfileError
from driftloop.monitoring.profiles import (
    ValidationWarning,
    list_index,
    list_profiles,
    merge_profiles,
    profile_frame,
    profile_uri,
    read_profile,
    read_profile_uri,
    read_view,
    write_profile,
)
from driftloop.spec import DatasetSpec
from driftloop.versioning.base import VersionStore
from tests.unit.monitoring.conftest import make_batch

WINDOW = (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))


def _summary(data: bytes, column: str) -> dict[str, object]:
    return read_view(data).get_column(column).to_summary_dict()


def test_profile_round_trips_with_every_spec_column(spec: DatasetSpec) -> None:
    frame = make_batch(1, rows=2_000)
    view = read_view(profile_frame(frame, spec))

    assert set(view.get_columns()) == {*spec.feature_names, spec.target}
    assert view.get_column("income").to_summary_dict()["counts/n"] == 2_000
    assert (
        view.get_column("income").to_summary_dict()["counts/null"] == frame["income"].isna().sum()
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_profile_counts_what_a_bare_why_log_counts(spec: DatasetSpec) -> None:
    import whylogs as why

    frame = make_batch(1, rows=3_000)
    frame.loc[:9, "income"] = np.inf  # infinities take whylogs' ordinary path
    columns = [*spec.feature_names, spec.target]
    ours = read_view(profile_frame(frame, spec, chunk_rows=1_000))
    bare = why.log(frame[columns]).view()

    for column in columns:
        mine, theirs = (
            ours.get_column(column).to_summary_dict(),
            bare.get_column(column).to_summary_dict(),
        )
        counted = [k for k in theirs if k.startswith(("counts/", "types/"))]
        assert {k: mine[k] for k in counted} == {k: theirs[k] for k in counted}, column
        assert mine.get("distribution/mean") == pytest.approx(
            theirs.get("distribution/mean"), rel=1e-9, nan_ok=True
        ), column


def test_integer_coded_categories_are_profiled_as_text(spec: DatasetSpec) -> None:
    frame = make_batch(1, rows=1_000)
    codes = {name: code for code, name in enumerate(spec.feature("purpose").categories or [])}
    frame["purpose"] = frame["purpose"].map(codes).astype("int64")

    summary = _summary(profile_frame(frame, spec), "purpose")

    assert summary["types/string"] == 1_000
    assert summary["types/integral"] == 0


def test_float_coded_categories_are_spelled_the_same_in_every_chunk(spec: DatasetSpec) -> None:
    frame = make_batch(1, rows=3_000)
    # The first chunks hold whole codes only; a 2.5 in the last makes the column non-integral.
    frame["purpose"] = np.where(np.arange(3_000) % 2 == 0, 1.0, np.nan)
    frame.loc[2_999, "purpose"] = 2.5
    whole = frame.iloc[:2_000]

    mixed = _summary(profile_frame(frame, spec, chunk_rows=1_000), "purpose")
    coded = _summary(profile_frame(whole, spec, chunk_rows=1_000), "purpose")

    assert {item.value for item in mixed["frequent_items/frequent_strings"]} == {"1.0", "2.5"}
    assert {item.value for item in coded["frequent_items/frequent_strings"]} == {"1"}


def test_merged_profiles_count_all_rows(spec: DatasetSpec) -> None:
    first, second = make_batch(1, rows=1_500), make_batch(2, rows=2_500)

    merged = merge_profiles([profile_frame(first, spec), profile_frame(second, spec)])

    assert _summary(merged, "age")["counts/n"] == 4_000
    assert _summary(merged, "region")["counts/n"] == 4_000


def test_profiling_nothing_is_refused(spec: DatasetSpec) -> None:
    with pytest.raises(ProfileError, match="no rows"):
        profile_frame(make_batch(1, rows=10).iloc[0:0], spec)
    with pytest.raises(ProfileError, match="none of the columns"):
        profile_frame(pd.DataFrame({"other": [1, 2]}), spec)
    with pytest.raises(ProfileError, match="no profiles"):
        merge_profiles([])
    with pytest.raises(ProfileError, match="not a whylogs profile"):
        read_view(b"not a profile")


def test_written_profiles_are_listed_newer_than_a_time(any_store: VersionStore) -> None:
    first = write_profile(
        any_store, dataset="ds", kind="batch", key="b1", data=b"one", rows=10, window=WINDOW
    )
    second = write_profile(any_store, dataset="ds", kind="serving", key="s1", data=b"two", rows=5)

    assert [p.key for p in list_profiles(any_store, dataset="ds")] == ["b1", "s1"]
    assert list_profiles(any_store, dataset="ds", since=first.recorded_at) == [second]
    assert list_profiles(any_store, dataset="ds", since=second.recorded_at) == []
    assert [p.key for p in list_profiles(any_store, dataset="ds", kind="batch")] == ["b1"]
    assert first.window_start == WINDOW[0]
    assert first.path == "monitoring/ds/batch/b1.bin"
    assert read_profile(any_store, first) == b"one"
    assert any_store.branch_exists("monitoring")


def test_the_index_is_known_from_its_names_and_carries_validation_warnings(
    any_store: VersionStore,
) -> None:
    warning = ValidationWarning(
        column="income", expectation="expect_column_values_to_be_between", rule="range", message="m"
    )
    batch = write_profile(
        any_store,
        dataset="ds",
        kind="batch",
        key="2024-01-02T0000Z",
        data=b"one",
        rows=10,
        validation_warnings=[warning],
    )
    serving = write_profile(
        any_store, dataset="ds", kind="serving", key="ds-v1-20240102T000000Z-w1", data=b"2", rows=5
    )

    index = list_index(any_store, dataset="ds")

    assert [(e.recorded_at, e.kind, e.key) for e in index] == [
        (batch.recorded_at, "batch", "2024-01-02T0000Z"),
        (serving.recorded_at, "serving", "ds-v1-20240102T000000Z-w1"),
    ]
    assert list_profiles(any_store, dataset="ds", kind="batch") == [batch]
    assert batch.validation_warnings == [warning]
    assert list_index(any_store, dataset="other") == []


def test_a_profile_is_committed_with_what_it_records(any_store: VersionStore) -> None:
    ref = write_profile(any_store, dataset="ds", kind="batch", key="b1", data=b"x", rows=3)

    commit = any_store.get_commit("monitoring")
    assert commit.message == "Record batch profile b1 of ds"
    assert commit.metadata == {"kind": "batch", "key": "b1", "rows": "3", "path": ref.path}
    assert any_store.uncommitted("monitoring") == []


def test_rewriting_the_same_profile_changes_nothing(any_store: VersionStore) -> None:
    first = write_profile(any_store, dataset="ds", kind="batch", key="b1", data=b"x", rows=1)
    head = any_store.resolve("monitoring")
    # Another writer's profile, staged but not committed yet, is that writer's to commit.
    any_store.write_object("monitoring", "monitoring/ds/serving/s1.bin", b"other")

    again = write_profile(any_store, dataset="ds", kind="batch", key="b1", data=b"x", rows=1)

    assert again == first
    assert any_store.resolve("monitoring") == head
    assert [c.path for c in any_store.uncommitted("monitoring")] == ["monitoring/ds/serving/s1.bin"]


def test_a_rewritten_profile_is_listed_once_with_its_latest_entry(
    any_store: VersionStore,
) -> None:
    write_profile(any_store, dataset="ds", kind="batch", key="b1", data=b"old", rows=1)
    newer = write_profile(any_store, dataset="ds", kind="batch", key="b1", data=b"new", rows=2)

    assert list_profiles(any_store, dataset="ds") == [newer]


def test_reference_profiles_are_listed_only_when_asked(any_store: VersionStore) -> None:
    write_profile(any_store, dataset="ds", kind="reference", key="r1", data=b"r", rows=1)

    assert list_profiles(any_store, dataset="ds") == []
    assert [p.key for p in list_profiles(any_store, dataset="ds", kind="reference")] == ["r1"]


def test_no_monitoring_branch_means_no_profiles(any_store: VersionStore) -> None:
    assert list_profiles(any_store, dataset="ds", since=datetime.now(UTC) - timedelta(days=1)) == []


def test_invalid_profile_keys_are_refused(any_store: VersionStore) -> None:
    with pytest.raises(ProfileError, match="invalid profile key"):
        write_profile(any_store, dataset="ds", kind="batch", key="a/b", data=b"x", rows=1)


def test_profile_uri_pins_a_commit(any_store: VersionStore) -> None:
    ref = write_profile(any_store, dataset="ds", kind="reference", key="r1", data=b"v1", rows=1)
    uri = profile_uri(any_store, any_store.resolve("monitoring"), ref.path)
    write_profile(any_store, dataset="ds", kind="reference", key="r1", data=b"v2", rows=1)

    assert uri.startswith(f"lakefs://{any_store.repository}/")
    assert read_profile_uri(any_store, uri) == b"v1"
    with pytest.raises(ProfileError, match="is not lakefs://"):
        read_profile_uri(any_store, "lakefs://other-repo/main/x.bin")
    with pytest.raises(ProfileError, match="no profile at"):
        read_profile_uri(any_store, uri.replace("r1.bin", "missing.bin"))

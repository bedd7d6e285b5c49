"""One contract for every versioning backend, then what only one backend promises.

The ``store`` fixture (see conftest) runs each contract test on ``local``, on
``LakeFSVersionStore`` against the lakeFS stand-in, and on a real lakeFS when configured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import lakefs_sdk
import pytest

from driftloop.config import LakeFSSettings, Settings
from driftloop.exceptions import (
    BranchExists,
    ConfigError,
    MergeConflict,
    NothingToCommit,
    ObjectCorrupt,
    ObjectNotFound,
    RefNotFound,
    RepositoryNotFound,
    VersioningError,
)
from driftloop.versioning.base import Change, Commit, ObjectLocations, VersionStore
from driftloop.versioning.factory import open_store
from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client
from driftloop.versioning.local import LocalVersionStore
from tests.support.lakefs_standin import LakeFSStandIn

_PROCESSES = multiprocessing.get_context("forkserver")
_PROCESSES.set_forkserver_preload([__name__])

REPO = Path(__file__).resolve().parents[3]


def commit_file(store: VersionStore, branch: str, path: str, data: bytes) -> Commit:
    store.write_object(branch, path, data)
    return store.commit(branch, f"write {path}")


def standin_client(standin: LakeFSStandIn, *, secret: str | None = None) -> lakefs_sdk.ApiClient:
    secret = standin.secret_access_key if secret is None else secret
    return lakefs_client(standin.endpoint, standin.access_key_id, secret)


# --- The contract -------------------------------------------------------------------------


def test_ensure_repository_is_idempotent(store: VersionStore) -> None:
    head = store.resolve("main")
    store.ensure_repository("main")
    assert store.list_branches() == ["main"]
    assert store.resolve("main") == head
    history = store.log("main")
    assert [commit.id for commit in history] == [head]
    assert history[0].parents == []


def test_create_branch_starts_at_the_source_head(store: VersionStore) -> None:
    head = store.resolve("main")
    assert store.create_branch("ingest-1", "main") == head
    assert store.branch_exists("ingest-1")
    assert not store.branch_exists("ingest-2")
    assert store.list_branches() == ["ingest-1", "main"]


def test_create_branch_from_a_commit_id(store: VersionStore) -> None:
    store.create_branch("work", "main")
    first = commit_file(store, "work", "a.csv", b"1")
    commit_file(store, "work", "a.csv", b"2")
    assert store.create_branch("replay", first.id) == first.id
    assert store.read_object("replay", "a.csv") == b"1"


def test_existing_branch_raises_branch_exists_unless_exist_ok(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    moved = commit_file(store, "ingest-1", "a.csv", b"1").id
    with pytest.raises(BranchExists):
        store.create_branch("ingest-1", "main")
    assert store.create_branch("ingest-1", "main", exist_ok=True) == moved
    assert store.resolve("ingest-1") == moved


def test_branch_from_a_missing_ref_raises_ref_not_found(store: VersionStore) -> None:
    with pytest.raises(RefNotFound):
        store.create_branch("ingest-1", "no-such-branch")
    assert not store.branch_exists("ingest-1")


@pytest.mark.parametrize(
    "name",
    ["ingest/2024-01-01", "-leading-dash", "has space", "dotted.name", "ünïcode", "", "main\n"],
)
def test_branch_names_lakefs_rejects_are_rejected(store: VersionStore, name: str) -> None:
    with pytest.raises(VersioningError, match=re.escape(repr(name))):
        store.create_branch(name, "main")
    assert store.list_branches() == ["main"]


@pytest.mark.parametrize("name", ["ingest-2024-01-01", "ingest_2024_01_01", "_x", "2024"])
def test_branch_names_lakefs_accepts_are_accepted(store: VersionStore, name: str) -> None:
    store.create_branch(name, "main")
    assert store.branch_exists(name)


def test_deleting_a_branch_keeps_its_commits_readable(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    commit = commit_file(store, "ingest-1", "data/a.csv", b"a")
    store.delete_branch("ingest-1")
    assert not store.branch_exists("ingest-1")
    assert store.get_commit(commit.id).id == commit.id
    assert store.read_object(commit.id, "data/a.csv") == b"a"
    with pytest.raises(RefNotFound):
        store.delete_branch("ingest-1")


def test_the_default_branch_cannot_be_deleted(store: VersionStore) -> None:
    with pytest.raises(VersioningError):
        store.delete_branch("main")
    assert store.branch_exists("main")


def test_objects_are_written_read_listed_and_deleted(store: VersionStore) -> None:
    store.create_branch("work", "main")
    written = store.write_object("work", "data/b.csv", b"bbb")
    assert (written.path, written.size_bytes) == ("data/b.csv", 3)
    assert written.checksum
    store.write_object("work", "data/a.csv", b"old")
    store.write_object("work", "data/a.csv", b"a")
    store.write_object("work", "readme.txt", b"")

    assert store.read_object("work", "data/a.csv") == b"a"
    assert store.read_object("work", "readme.txt") == b""
    listed = store.list_objects("work")
    assert [(o.path, o.size_bytes) for o in listed] == [
        ("data/a.csv", 1),
        ("data/b.csv", 3),
        ("readme.txt", 0),
    ]
    assert listed[1].checksum == written.checksum
    assert [o.path for o in store.list_objects("work", "data/")] == ["data/a.csv", "data/b.csv"]

    store.delete_object("work", "data/a.csv")
    with pytest.raises(ObjectNotFound):
        store.read_object("work", "data/a.csv")
    assert [o.path for o in store.list_objects("work")] == ["data/b.csv", "readme.txt"]
    with pytest.raises(ObjectNotFound):
        store.delete_object("work", "data/a.csv")


def test_binary_content_round_trips_exactly(store: VersionStore) -> None:
    data = bytes(range(256)) * 64 + b"\r\n\x00--boundary\r\n"
    store.create_branch("work", "main")
    store.write_object("work", "blob.bin", data)
    commit = store.commit("work", "binary")
    assert store.read_object(commit.id, "blob.bin") == data


def test_uncommitted_changes_are_visible_on_their_branch_only(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    store.write_object("ingest-1", "batch.csv", b"x")
    assert store.read_object("ingest-1", "batch.csv") == b"x"
    with pytest.raises(ObjectNotFound):
        store.read_object("main", "batch.csv")
    assert store.list_objects("main") == []
    assert store.uncommitted("ingest-1") == [Change(path="batch.csv", type="added")]
    assert store.uncommitted("main") == []


def test_uncommitted_lists_additions_changes_and_removals(store: VersionStore) -> None:
    store.create_branch("work", "main")
    store.write_object("work", "keep.csv", b"1")
    store.write_object("work", "drop.csv", b"1")
    store.commit("work", "base")
    store.write_object("work", "keep.csv", b"2")
    store.delete_object("work", "drop.csv")
    store.write_object("work", "new.csv", b"3")
    assert store.uncommitted("work") == [
        Change(path="drop.csv", type="removed"),
        Change(path="keep.csv", type="changed"),
        Change(path="new.csv", type="added"),
    ]


def test_a_commit_id_reads_its_snapshot_not_later_changes(store: VersionStore) -> None:
    store.create_branch("work", "main")
    sealed = commit_file(store, "work", "a.csv", b"1")
    store.write_object("work", "a.csv", b"2")
    assert store.read_object(sealed.id, "a.csv") == b"1"
    assert store.read_object("work", "a.csv") == b"2"


def test_commit_round_trips_message_metadata_and_parents(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    parent = store.resolve("ingest-1")
    store.write_object("ingest-1", "batch.csv", b"x")
    commit = store.commit("ingest-1", "Stage batch 1", {"rows": "10", "source": "demo"})

    assert commit.message == "Stage batch 1"
    assert commit.metadata == {"rows": "10", "source": "demo"}
    assert commit.parents == [parent]
    assert store.resolve("ingest-1") == commit.id
    fetched = store.get_commit(commit.id)
    assert (fetched.message, fetched.metadata, fetched.parents) == (
        "Stage batch 1",
        {"rows": "10", "source": "demo"},
        [parent],
    )
    assert store.uncommitted("ingest-1") == []
    assert store.read_object("ingest-1", "batch.csv") == b"x"


def test_commit_without_changes_raises_nothing_to_commit(store: VersionStore) -> None:
    head = store.resolve("main")
    with pytest.raises(NothingToCommit):
        store.commit("main", "empty")
    store.write_object("main", "scratch.csv", b"1")
    store.delete_object("main", "scratch.csv")
    with pytest.raises(NothingToCommit):
        store.commit("main", "still empty")
    assert store.resolve("main") == head


def test_commit_metadata_values_must_be_strings(store: VersionStore) -> None:
    store.create_branch("work", "main")
    store.write_object("work", "a.csv", b"1")
    head = store.resolve("work")
    with pytest.raises(VersioningError, match="rows"):
        store.commit("work", "bad metadata", {"rows": 10})  # type: ignore[dict-item]
    assert store.resolve("work") == head
    assert store.uncommitted("work") == [Change(path="a.csv", type="added")]


def test_diff_compares_the_two_refs_directly(store: VersionStore) -> None:
    store.create_branch("work", "main")
    for path in ("data/a.csv", "data/b.csv", "data/c.csv"):
        store.write_object("work", path, b"1")
    store.commit("work", "base")
    store.create_branch("next", "work")
    store.write_object("next", "data/b.csv", b"2")
    store.delete_object("next", "data/c.csv")
    store.write_object("next", "data/d.csv", b"1")
    store.commit("next", "changes")
    store.write_object("next", "data/uncommitted.csv", b"1")
    # A commit on the left side after branching must show up too (a two-dot diff).
    commit_file(store, "work", "data/w.csv", b"1")

    assert store.diff("work", "next") == [
        Change(path="data/b.csv", type="changed"),
        Change(path="data/c.csv", type="removed"),
        Change(path="data/d.csv", type="added"),
        Change(path="data/w.csv", type="removed"),
    ]
    assert store.diff("next", "work") == [
        Change(path="data/b.csv", type="changed"),
        Change(path="data/c.csv", type="added"),
        Change(path="data/d.csv", type="removed"),
        Change(path="data/w.csv", type="added"),
    ]
    assert store.diff("work", "next", prefix="data/d") == [Change(path="data/d.csv", type="added")]
    assert store.diff("work", "work") == []
    with pytest.raises(RefNotFound):
        store.diff("work", "no-such-ref")


def test_merge_brings_a_branch_into_main_with_a_merge_commit(store: VersionStore) -> None:
    main_head = store.resolve("main")
    store.create_branch("ingest-1", "main")
    staged = commit_file(store, "ingest-1", "data/batch-1.csv", b"rows")

    head = store.merge("ingest-1", "main", "Publish batch 1", {"batch": "1"})

    merge_commit = store.get_commit("main")
    assert head == merge_commit.id
    assert merge_commit.parents == [main_head, staged.id]
    assert merge_commit.message == "Publish batch 1"
    # Real lakeFS adds its own keys (".lakefs.merge.strategy"), so check ours are there.
    assert merge_commit.metadata.items() >= {"batch": "1"}.items()
    assert store.read_object("main", "data/batch-1.csv") == b"rows"


def test_merging_again_changes_nothing_and_returns_the_head(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    staged = commit_file(store, "ingest-1", "data/batch-1.csv", b"rows")
    head = store.merge("ingest-1", "main", "Publish")
    commits = len(store.log("main"))

    assert store.merge("ingest-1", "main", "Publish again") == head
    assert store.merge(staged.id, "main", "Publish by id") == head
    assert store.resolve("main") == head
    assert len(store.log("main")) == commits
    # The reverse direction has nothing new either: main only adds a merge commit.
    assert store.merge("main", "ingest-1", "Back-merge") == staged.id


def test_merge_combines_changes_to_different_paths(store: VersionStore) -> None:
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    commit_file(store, "a", "from-a.csv", b"a")
    b_head = commit_file(store, "b", "from-b.csv", b"b").id
    after_a = store.merge("a", "main", "merge a")

    head = store.merge("b", "main", "merge b")

    assert store.get_commit(head).parents == [after_a, b_head]
    assert [o.path for o in store.list_objects("main")] == ["from-a.csv", "from-b.csv"]


def test_merge_conflict_names_the_path_and_leaves_main_untouched(store: VersionStore) -> None:
    store.create_branch("work", "main")
    commit_file(store, "work", "data/shared.csv", b"v0")
    store.merge("work", "main", "base")
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    commit_file(store, "a", "data/shared.csv", b"v1")
    commit_file(store, "b", "data/shared.csv", b"v2")
    commit_file(store, "b", "data/b-only.csv", b"b")
    head = store.merge("a", "main", "merge a")

    with pytest.raises(MergeConflict) as caught:
        store.merge("b", "main", "merge b")

    assert caught.value.paths == ["data/shared.csv"]
    assert "data/shared.csv" in str(caught.value)
    assert store.resolve("main") == head
    assert store.read_object("main", "data/shared.csv") == b"v1"
    with pytest.raises(ObjectNotFound):
        store.read_object("main", "data/b-only.csv")
    assert store.uncommitted("main") == []


def test_the_same_change_on_both_sides_is_not_a_conflict(store: VersionStore) -> None:
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    commit_file(store, "a", "shared.csv", b"same")
    commit_file(store, "b", "shared.csv", b"same")
    commit_file(store, "b", "b-only.csv", b"b")
    store.merge("a", "main", "merge a")

    store.merge("b", "main", "merge b")

    assert [o.path for o in store.list_objects("main")] == ["b-only.csv", "shared.csv"]


def test_merge_into_a_branch_with_uncommitted_changes_is_refused(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    commit_file(store, "ingest-1", "batch.csv", b"x")
    store.write_object("main", "draft.csv", b"d")
    head = store.resolve("main")

    with pytest.raises(VersioningError):
        store.merge("ingest-1", "main", "publish")

    assert store.resolve("main") == head
    assert store.uncommitted("main") == [Change(path="draft.csv", type="added")]


def test_merge_of_missing_refs_raises_ref_not_found(store: VersionStore) -> None:
    with pytest.raises(RefNotFound):
        store.merge("no-such-branch", "main", "merge")
    with pytest.raises(RefNotFound):
        store.merge("main", "no-such-branch", "merge")


def test_revert_undoes_a_commit_as_a_new_commit(store: VersionStore) -> None:
    store.create_branch("work", "main")
    first = commit_file(store, "work", "model.json", b"v1")
    second = commit_file(store, "work", "model.json", b"v2")

    reverted = store.revert("work", second.id, {"reason": "bad batch"})

    assert reverted.parents == [second.id]
    assert store.resolve("work") == reverted.id
    assert reverted.metadata.items() >= {"reason": "bad batch"}.items()
    assert store.read_object("work", "model.json") == b"v1"
    assert store.diff(first.id, reverted.id) == []


def test_revert_of_a_merge_removes_what_the_merge_brought(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    commit_file(store, "ingest-1", "data/batch-1.csv", b"1")
    first_merge = store.merge("ingest-1", "main", "publish 1")
    store.create_branch("ingest-2", "main")
    commit_file(store, "ingest-2", "data/batch-2.csv", b"2")
    second_merge = store.merge("ingest-2", "main", "publish 2")

    reverted = store.revert("main", second_merge)

    assert reverted.parents == [second_merge]
    assert [o.path for o in store.list_objects("main")] == ["data/batch-1.csv"]
    assert store.diff(first_merge, "main") == []


def test_revert_conflicting_with_later_changes_raises_merge_conflict(store: VersionStore) -> None:
    store.create_branch("work", "main")
    commit_file(store, "work", "model.json", b"v1")
    middle = commit_file(store, "work", "model.json", b"v2")
    head = commit_file(store, "work", "model.json", b"v3").id

    with pytest.raises(MergeConflict) as caught:
        store.revert("work", middle.id)

    assert caught.value.paths == ["model.json"]
    assert store.resolve("work") == head


def test_resolve_takes_branches_commit_ids_and_unique_prefixes(store: VersionStore) -> None:
    store.create_branch("work", "main")
    commit = commit_file(store, "work", "a.csv", b"1")
    assert store.resolve("work") == commit.id
    assert store.resolve(commit.id) == commit.id
    assert store.resolve(commit.id[:12]) == commit.id
    with pytest.raises(RefNotFound):
        store.resolve("no-such-ref")


def test_log_is_newest_first_and_honours_the_limit(store: VersionStore) -> None:
    initial = store.resolve("main")
    store.create_branch("work", "main")
    first = commit_file(store, "work", "a.csv", b"1")
    second = commit_file(store, "work", "b.csv", b"2")

    assert [c.id for c in store.log("work")] == [second.id, first.id, initial]
    assert [c.id for c in store.log("work", limit=2)] == [second.id, first.id]
    assert [c.id for c in store.log(first.id)] == [first.id, initial]


def test_log_after_a_merge_reaches_both_sides(store: VersionStore) -> None:
    store.create_branch("ingest-1", "main")
    staged = commit_file(store, "ingest-1", "batch.csv", b"x")
    head = store.merge("ingest-1", "main", "publish")
    history = [c.id for c in store.log("main")]
    assert history[0] == head
    assert staged.id in history
    assert history[-1] == staged.parents[0]


def test_merge_base_is_the_nearest_common_ancestor(store: VersionStore) -> None:
    fork = store.resolve("main")
    store.create_branch("ingest-1", "main")
    commit_file(store, "ingest-1", "batch.csv", b"x")
    commit_file(store, "main", "other.csv", b"y")

    assert store.merge_base("ingest-1", "main") == fork
    assert store.merge_base("main", "ingest-1") == fork
    assert store.merge_base(fork, "main") == fork
    with pytest.raises(RefNotFound):
        store.merge_base("no-such-ref", "main")


def test_is_ancestor_accepts_main_and_its_history_only(store: VersionStore) -> None:
    initial = store.resolve("main")
    store.create_branch("ingest-1", "main")
    staged = commit_file(store, "ingest-1", "batch.csv", b"x")
    store.create_branch("ingest-2", "main")
    quarantined = commit_file(store, "ingest-2", "bad.csv", b"z")

    assert store.is_ancestor("main", "main")
    assert store.is_ancestor(initial, "main")
    assert not store.is_ancestor(staged.id, "main")
    assert not store.is_ancestor("ingest-2", "main")

    store.merge("ingest-1", "main", "publish")

    assert store.is_ancestor(staged.id, "main")
    assert store.is_ancestor(initial[:12], "main")
    assert not store.is_ancestor(quarantined.id, "main")
    assert not store.is_ancestor("main", "ingest-1")


def _read_located(located: ObjectLocations) -> dict[str, bytes]:
    """Each located object's bytes, read as a Dask worker reads them (fsspec)."""
    import fsspec

    read = {}
    for obj in located.objects:
        with fsspec.open(obj.url, "rb", **located.storage_options) as handle:
            read[obj.path] = handle.read()
    return read


def test_located_objects_are_read_outside_the_store_as_of_their_commit(
    store: VersionStore,
) -> None:
    store.create_branch("work", "main")
    data = bytes(range(256)) * 300
    commit_file(store, "work", "data/ds/b.parquet", data)
    commit = commit_file(store, "work", "data/ds/a.parquet", b"a" * 10).id
    store.write_object("work", "data/ds/c.parquet", b"staged, not committed")

    located = store.locate_objects("work", "data/ds/")

    assert located.commit_id == commit
    assert [(o.path, o.size_bytes) for o in located.objects] == [
        ("data/ds/a.parquet", 10),
        ("data/ds/b.parquet", len(data)),
    ]
    assert _read_located(located) == {"data/ds/a.parquet": b"a" * 10, "data/ds/b.parquet": data}
    # the locations stay on their commit while the branch moves on
    commit_file(store, "work", "data/ds/a.parquet", b"changed")
    assert _read_located(located)["data/ds/a.parquet"] == b"a" * 10
    assert store.locate_objects("work", "nothing/").objects == []
    with pytest.raises(RefNotFound):
        store.locate_objects("no-such-ref")


def test_missing_refs_raise_ref_not_found(store: VersionStore) -> None:
    for call in (
        lambda: store.read_object("no-such-ref", "a.csv"),
        lambda: store.list_objects("no-such-ref"),
        lambda: store.get_commit("no-such-ref"),
        lambda: store.log("no-such-ref"),
        lambda: store.uncommitted("no-such-ref"),
        lambda: store.write_object("no-such-ref", "a.csv", b"1"),
        lambda: store.commit("no-such-ref", "message"),
    ):
        with pytest.raises(RefNotFound):
            call()


# --- The local backend --------------------------------------------------------------------


def _work_concurrently(root: str, worker: int, rounds: int) -> None:
    """Set up the repository, then commit on an own branch, merge it to main, and commit
    to a branch both workers share."""
    store = LocalVersionStore(root=Path(root), repository="shared")
    store.ensure_repository()
    store.create_branch("both", "main", exist_ok=True)
    branch = f"worker-{worker}"
    store.create_branch(branch, "main")
    for round_ in range(rounds):
        store.write_object(branch, f"{branch}/{round_}.txt", f"{worker}:{round_}".encode())
        store.commit(branch, f"{branch} commit {round_}")
        store.merge(branch, "main", f"merge {branch} round {round_}")
        store.write_object("both", f"both/{branch}-{round_}.txt", b"x")
        try:
            store.commit("both", f"{branch} shared {round_}")
        except NothingToCommit:
            pass  # the other worker's commit already sealed this write


def test_local_store_is_safe_with_two_processes_committing(tmp_path: Path) -> None:
    rounds = 12
    store = LocalVersionStore(root=tmp_path, repository="shared")

    # Separate processes with their own SQLite connections, like Airflow tasks. Not forked
    # from this one: a lock held by one of its threads at the fork (earlier tests leave
    # some running) would stay held in the child forever. The fork server imports this
    # module once (without bytecode that takes seconds), then forks the workers from it.
    with _PROCESSES.Pool(2) as pool:
        pool.starmap(_work_concurrently, [(str(tmp_path), worker, rounds) for worker in (0, 1)])

    expected = sorted(f"worker-{w}/{r}.txt" for w in (0, 1) for r in range(rounds))
    assert [o.path for o in store.list_objects("main")] == expected
    merges = [c for c in store.log("main", limit=1000) if c.message.startswith("merge worker")]
    assert len(merges) == 2 * rounds
    assert all(len(c.parents) == 2 for c in merges)
    assert len(store.list_objects("both")) == 2 * rounds
    assert store.uncommitted("both") == []
    assert store.log("main", limit=1000)[-1].message == "Repository created"
    assert len([c for c in store.log("main", limit=1000) if not c.parents]) == 1


def test_local_store_keeps_one_file_per_distinct_content(tmp_path: Path) -> None:
    store = LocalVersionStore(root=tmp_path, repository="dedup")
    store.ensure_repository()
    data = b"the same bytes"
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    store.write_object("a", "one.csv", data)
    store.write_object("a", "two.csv", data)
    store.write_object("b", "three.csv", data)
    store.commit("a", "a")
    store.commit("b", "b")

    blobs = [p for p in (tmp_path / "dedup" / "objects").rglob("*") if p.is_file()]
    digest = hashlib.sha256(data).hexdigest()
    assert [(p.parent.name, p.name) for p in blobs] == [(digest[:2], digest)]
    assert blobs[0].read_bytes() == data
    assert store.list_objects("a")[0].checksum == digest


def test_local_commit_ids_are_unique_even_for_identical_trees(tmp_path: Path) -> None:
    store = LocalVersionStore(root=tmp_path, repository="ids")
    store.ensure_repository()
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    left = commit_file(store, "a", "x.csv", b"1")
    right = commit_file(store, "b", "x.csv", b"1")
    assert left.id != right.id
    assert store.diff(left.id, right.id) == []
    assert all(re.fullmatch(r"[0-9a-f]{64}", c.id) for c in (left, right))


def test_local_store_needs_ensure_repository_first(tmp_path: Path) -> None:
    store = LocalVersionStore(root=tmp_path, repository="missing")
    with pytest.raises(RepositoryNotFound):
        store.list_branches()
    with pytest.raises(VersioningError, match="Bad_Name"):
        LocalVersionStore(root=tmp_path, repository="Bad_Name")


# --- The lakeFS backend and the stand-in --------------------------------------------------


def test_wrong_credentials_are_a_versioning_error(lakefs_standin: LakeFSStandIn) -> None:
    store = LakeFSVersionStore(
        client=standin_client(lakefs_standin, secret="wrong"), repository="anything"
    )
    with pytest.raises(VersioningError, match="401") as caught:
        store.list_branches()
    assert type(caught.value) is VersioningError


def test_a_located_object_is_served_by_byte_ranges_to_signed_requests_only(
    lakefs_standin: LakeFSStandIn, tmp_path: Path
) -> None:
    import fsspec

    store = LakeFSVersionStore(
        client=standin_client(lakefs_standin),
        repository="located",
        storage_namespace="local://standin/located",
    )
    store.ensure_repository()
    data = bytes(range(256)) * 4096
    commit = commit_file(store, "main", "data/x.bin", data).id
    located = store.locate_objects("main", "data/")
    (obj,) = located.objects
    assert obj.url == f"s3://located/{commit}/data/x.bin"
    assert located.storage_options["endpoint_url"] == lakefs_standin.endpoint
    assert lakefs_standin.secret_access_key not in repr(located)

    with fsspec.open(obj.url, "rb", **located.storage_options) as handle:
        handle.seek(1000)
        assert handle.read(10) == data[1000:1010]
        handle.seek(-5, 2)
        assert handle.read() == data[-5:]
    wrong = located.storage_options | {"secret": "wrong"}
    with pytest.raises(PermissionError), fsspec.open(obj.url, "rb", **wrong) as handle:
        handle.read()
    missing = f"s3://located/{commit}/data/none.bin"
    with pytest.raises(FileNotFoundError), fsspec.open(missing, "rb", **located.storage_options):
        pass


def test_a_local_located_object_is_checked_against_its_hash(tmp_path: Path) -> None:
    store = LocalVersionStore(root=tmp_path, repository="checked")
    store.ensure_repository()
    commit_file(store, "main", "data/a.bin", b"good bytes")
    (obj,) = store.locate_objects("main").objects
    Path(obj.url).write_bytes(b"bad bytes!")
    with pytest.raises(ObjectCorrupt, match=r"data/a\.bin.* is corrupt"):
        store.locate_objects("main")


def test_an_unreachable_server_is_a_versioning_error(tmp_path: Path) -> None:
    with LakeFSStandIn(data_dir=tmp_path) as standin:
        store = LakeFSVersionStore(client=standin_client(standin), repository="anything")
    with pytest.raises(VersioningError, match="cannot reach lakeFS"):
        store.list_branches()


def test_a_missing_repository_without_namespace_is_reported(lakefs_standin: LakeFSStandIn) -> None:
    store = LakeFSVersionStore(client=standin_client(lakefs_standin), repository="never-created")
    with pytest.raises(RepositoryNotFound, match="storage namespace"):
        store.ensure_repository()
    with pytest.raises(RepositoryNotFound):
        store.list_branches()


def test_standin_answers_with_lakefs_error_bodies(lakefs_standin: LakeFSStandIn) -> None:
    token = f"{lakefs_standin.access_key_id}:{lakefs_standin.secret_access_key}"
    request = urllib.request.Request(
        f"{lakefs_standin.endpoint}/api/v1/repositories/does-not-exist",
        headers={"Authorization": "Basic " + base64.b64encode(token.encode()).decode()},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404
    assert json.loads(caught.value.read()) == {"message": "repository not found"}
    with urllib.request.urlopen(f"{lakefs_standin.endpoint}/api/v1/healthcheck", timeout=10) as ok:
        assert ok.status == 204


def test_standin_takes_the_sdk_multipart_upload(
    lakefs_standin: LakeFSStandIn, tmp_path: Path
) -> None:
    client = standin_client(lakefs_standin)
    store = LakeFSVersionStore(
        client=client, repository="multipart", storage_namespace="local://standin/multipart"
    )
    store.ensure_repository()
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"\x00\r\nform data\r\n")
    # The generated upload_object sends a file path as multipart/form-data.
    stats = lakefs_sdk.ObjectsApi(client).upload_object(
        "multipart", "main", "upload.bin", content=str(upload)
    )
    assert stats.size_bytes == len(upload.read_bytes())
    assert store.read_object("main", "upload.bin") == upload.read_bytes()


def test_standin_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    with LakeFSStandIn(data_dir=tmp_path) as standin:
        store = LakeFSVersionStore(
            client=standin_client(standin),
            repository="kept",
            storage_namespace="local://standin/kept",
        )
        store.ensure_repository()
        store.create_branch("kept", "main")
    with LakeFSStandIn(data_dir=tmp_path) as restarted:
        store = LakeFSVersionStore(client=standin_client(restarted), repository="kept")
        assert store.list_branches() == ["kept", "main"]


def test_standin_runs_as_its_own_process(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.lakefs_standin", "--data", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = json.loads(process.stdout.readline())
        store = LakeFSVersionStore(
            client=lakefs_client(**credentials),
            repository="from-cli",
            storage_namespace="local://standin/from-cli",
        )
        store.ensure_repository()
        assert store.list_branches() == ["main"]
    finally:
        process.terminate()
        returncode = process.wait(timeout=30)
    assert returncode == 0


# --- Choosing the backend -----------------------------------------------------------------


def test_open_store_names_the_missing_lakefs_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        versioning_backend="lakefs",
        lakefs=LakeFSSettings(endpoint="http://127.0.0.1:9"),
    )
    with pytest.raises(ConfigError, match=r"lakefs\.access_key_id") as caught:
        open_store(settings)
    missing = str(caught.value).split("(")[0]
    assert "lakefs.secret_access_key" in missing
    assert "lakefs.endpoint" not in missing


def test_open_store_builds_the_local_backend_under_the_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, versioning_backend="local", repository="chosen")
    store = open_store(settings)
    store.ensure_repository()
    assert isinstance(store, LocalVersionStore)
    assert (settings.versioning_dir / "chosen" / "refs.db").is_file()

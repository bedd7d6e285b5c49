"""The local store's blobs: durable on disk, checked on read, and checked all at once."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from driftloop.exceptions import ObjectCorrupt, VersioningError
from driftloop.versioning.local import LocalVersionStore


def blob_file(root: Path, repository: str, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return root / repository / "objects" / digest[:2] / digest


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path: Path) -> LocalVersionStore:
    store = LocalVersionStore(root=tmp_path, repository="blobs")
    store.ensure_repository()
    return store


def test_a_flipped_byte_is_refused_on_read_naming_path_ref_and_both_hashes(
    store: LocalVersionStore, tmp_path: Path
) -> None:
    data = b"id,amount\n1,10\n"
    store.write_object("main", "data/batch.csv", data)
    commit = store.commit("main", "batch")
    blob = blob_file(tmp_path, "blobs", data)
    flip_a_byte(blob)
    actual = hashlib.sha256(blob.read_bytes()).hexdigest()

    for ref in ("main", commit.id):
        with pytest.raises(ObjectCorrupt) as caught:
            store.read_object(ref, "data/batch.csv")
        message = str(caught.value)
        assert "'data/batch.csv'" in message and repr(ref) in message
        assert hashlib.sha256(data).hexdigest() in message and actual in message
        assert str(blob) in message
    assert isinstance(caught.value, VersioningError)


def test_a_missing_blob_is_a_versioning_error_naming_the_object(
    store: LocalVersionStore, tmp_path: Path
) -> None:
    store.write_object("main", "model.ubj", b"model bytes")
    blob_file(tmp_path, "blobs", b"model bytes").unlink()
    with pytest.raises(VersioningError, match=re.escape("'model.ubj' at 'main' is missing its")):
        store.read_object("main", "model.ubj")


def test_writing_the_same_bytes_again_repairs_a_damaged_blob(
    store: LocalVersionStore, tmp_path: Path
) -> None:
    data = b"the same bytes, written by a rerun"
    store.write_object("main", "a.bin", data)
    store.commit("main", "a")
    flip_a_byte(blob_file(tmp_path, "blobs", data))

    store.create_branch("rerun", "main")
    store.write_object("rerun", "b.bin", data)

    assert store.read_object("main", "a.bin") == data
    assert store.verify().ok


def test_every_new_name_is_synced_in_its_directory_before_a_ref_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename is lost on power failure unless its directory is fsynced (the file's own
    fsync does not persist its name); the same holds for each directory created."""
    events: list[tuple[str, tuple[int, int]]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        events.append(("fsync", (info.st_dev, info.st_ino)))
        real_fsync(fd)

    def replace(source: str, target: str) -> None:
        real_replace(source, target)
        info = os.stat(target)
        events.append(("replace", (info.st_dev, info.st_ino)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)

    def identity(path: Path) -> tuple[int, int]:
        info = os.stat(path)
        return (info.st_dev, info.st_ino)

    store = LocalVersionStore(root=tmp_path / "home", repository="durable")
    store.ensure_repository()
    repository = tmp_path / "home" / "durable"
    synced = {key for kind, key in events if kind == "fsync"}
    # the repository folder in its new parent, and refs.db in the repository folder
    assert {identity(tmp_path), identity(tmp_path / "home"), identity(repository)} <= synced

    events.clear()
    store.write_object("main", "x.csv", b"1,2\n")
    blob = blob_file(tmp_path / "home", "durable", b"1,2\n")
    renamed = events.index(("replace", identity(blob)))
    assert ("fsync", identity(blob)) in events[:renamed]
    assert ("fsync", identity(blob.parent)) in events[renamed:]
    assert ("fsync", identity(repository / "objects")) in events
    assert ("fsync", identity(repository)) in events


def test_verify_finds_corrupt_and_missing_blobs_across_branches_history_and_staging(
    store: LocalVersionStore, tmp_path: Path
) -> None:
    store.create_branch("ingest-1", "main")
    store.write_object("ingest-1", "data/old.csv", b"old")
    old = store.commit("ingest-1", "old")
    store.delete_object("ingest-1", "data/old.csv")
    store.write_object("ingest-1", "data/new.csv", b"new")
    store.commit("ingest-1", "replace old with new")
    store.write_object("main", "staged.csv", b"staged")
    store.write_object("main", "fine.csv", b"fine")
    clean = store.verify()
    assert clean.ok and clean.blobs == 4 and clean.branches == 2 and clean.commits == 3
    assert "all intact" in clean.summary()

    flipped = blob_file(tmp_path, "blobs", b"old")  # only in ingest-1's history
    flip_a_byte(flipped)
    blob_file(tmp_path, "blobs", b"staged").unlink()  # only an uncommitted change
    check = store.verify()

    assert not check.ok and "2 damaged" in check.summary()
    by_file = {damaged.file.name: damaged for damaged in check.damaged}
    corrupt = by_file[hashlib.sha256(b"old").hexdigest()]
    assert corrupt.actual == hashlib.sha256(flipped.read_bytes()).hexdigest()
    assert [(r.path, r.branch, r.commit) for r in corrupt.references] == [
        ("data/old.csv", "ingest-1", old.id)
    ]
    assert "corrupt" in corrupt.describe() and "'data/old.csv' on 'ingest-1'" in corrupt.describe()
    missing = by_file[hashlib.sha256(b"staged").hexdigest()]
    assert missing.actual is None
    assert "missing" in missing.describe() and "(uncommitted)" in missing.describe()


def test_verify_names_a_blob_once_with_all_the_objects_that_use_it(
    store: LocalVersionStore, tmp_path: Path
) -> None:
    for path in ("a.csv", "b.csv"):
        store.write_object("main", path, b"shared")
        store.commit("main", path)
    flip_a_byte(blob_file(tmp_path, "blobs", b"shared"))

    (damaged,) = store.verify().damaged
    assert {(r.path, r.branch) for r in damaged.references} == {
        ("a.csv", "main"),
        ("b.csv", "main"),
    }
    assert "and 1 more reference(s)" in damaged.describe()

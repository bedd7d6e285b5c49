"""The unit of work on the store, on every backend (the ``store`` fixture, see conftest)."""

from __future__ import annotations

import pytest

from driftloop.exceptions import ObjectNotFound, RefNotFound
from driftloop.versioning.base import VersionStore
from driftloop.versioning.transact import transact


class Boom(Exception):
    pass


def test_the_block_commits_its_writes_and_deletes_with_message_and_metadata(
    store: VersionStore,
) -> None:
    store.create_branch("work", "main")
    store.write_object("work", "old.csv", b"old")
    store.commit("work", "seed")
    before = store.resolve("work")

    with transact(
        store, "work", source_ref="main", message="Stage batch b1", metadata={"batch": "b1"}
    ) as tx:
        tx.write("a.csv", b"1")
        assert tx.write_if_changed("b.csv", b"2")
        tx.delete("old.csv")

    commit = store.get_commit("work")
    assert tx.commit_id == commit.id != before
    assert commit.message == "Stage batch b1"
    assert commit.metadata == {"batch": "b1"}
    assert commit.parents == [before]
    assert [o.path for o in store.list_objects("work")] == ["a.csv", "b.csv"]
    assert store.uncommitted("work") == []


def test_nothing_to_commit_is_success_and_gives_the_head(store: VersionStore) -> None:
    with transact(store, "work", source_ref="main", message="first") as first:
        first.write("a.csv", b"1")
    history = store.log("work")

    with transact(store, "work", source_ref="main", message="again") as again:
        assert not again.write_if_changed("a.csv", b"1")
        again.delete("never-written.csv", missing_ok=True)

    assert again.commit_id == first.commit_id == store.resolve("work")
    assert store.log("work") == history


def test_a_missing_branch_is_created_from_the_source_ref(store: VersionStore) -> None:
    store.create_branch("source", "main")
    store.write_object("source", "seed.csv", b"seed")
    seed = store.commit("source", "seed")
    store.write_object("source", "later.csv", b"later")
    store.commit("source", "later")

    with transact(store, "work", source_ref=seed.id, message="on top of seed") as tx:
        tx.write("mine.csv", b"mine")

    assert store.get_commit(tx.commit_id).parents == [seed.id]
    assert [o.path for o in store.list_objects("work")] == ["mine.csv", "seed.csv"]


def test_an_existing_branch_stays_where_it_is(store: VersionStore) -> None:
    store.create_branch("work", "main")
    store.write_object("work", "own.csv", b"own")
    own = store.commit("work", "own")

    with transact(store, "work", source_ref="main", message="more") as tx:
        tx.write("more.csv", b"more")

    assert store.get_commit(tx.commit_id).parents == [own.id]
    assert [o.path for o in store.list_objects("work")] == ["more.csv", "own.csv"]


def test_a_missing_source_ref_is_refused(store: VersionStore) -> None:
    with (
        pytest.raises(RefNotFound),
        transact(store, "work", source_ref="no-such-ref", message="never"),
    ):
        pass
    assert "work" not in store.list_branches()


def test_an_exception_in_the_block_commits_nothing_and_propagates(store: VersionStore) -> None:
    store.create_branch("work", "main")
    head = store.resolve("work")

    with pytest.raises(Boom), transact(store, "work", source_ref="main", message="x") as tx:
        tx.write("half.csv", b"half")
        raise Boom

    assert store.resolve("work") == head
    assert [change.path for change in store.uncommitted("work")] == ["half.csv"]
    with pytest.raises(RuntimeError, match="has not committed"):
        _ = tx.commit_id


def test_the_next_transaction_seals_what_a_failed_one_left(store: VersionStore) -> None:
    with pytest.raises(Boom), transact(store, "work", source_ref="main", message="first") as tx:
        tx.write("a.csv", b"1")
        raise Boom

    with transact(store, "work", source_ref="main", message="retry") as retry:
        assert not retry.write_if_changed("a.csv", b"1")

    assert store.get_commit(retry.commit_id).message == "retry"
    assert store.read_object(retry.commit_id, "a.csv") == b"1"
    assert store.uncommitted("work") == []


def test_deleting_a_missing_object_is_refused_unless_allowed(store: VersionStore) -> None:
    with transact(store, "work", source_ref="main", message="deletes") as tx:
        with pytest.raises(ObjectNotFound):
            tx.delete("missing.csv")
        tx.delete("missing.csv", missing_ok=True)


def test_writes_outside_the_block_are_refused(store: VersionStore) -> None:
    tx = transact(store, "work", source_ref="main", message="m")
    with pytest.raises(RuntimeError, match="not open"):
        tx.write("early.csv", b"1")
    with tx:
        tx.write("inside.csv", b"1")
    for late in (
        lambda: tx.write("late.csv", b"1"),
        lambda: tx.write_if_changed("late.csv", b"1"),
        lambda: tx.delete("inside.csv"),
    ):
        with pytest.raises(RuntimeError, match="not open"):
            late()
    assert store.uncommitted("work") == []
    assert [o.path for o in store.list_objects("work")] == ["inside.csv"]

"""A unit of work on one branch: ensure it, write, commit once (like lakeFS's ``transact()``).

Every writer to the store does the same four things: make sure its branch exists (created from
a source ref the first time), stage objects on it, commit them with a message and metadata, and
take "nothing to commit" as success, because a retried task, or another writer that committed
our staged objects along with its own, leaves nothing new::

    with transact(store, "models", source_ref="main", message="Model artifacts") as tx:
        tx.write_if_changed("models/m/model.ubj", data)
    tx.commit_id  # the new commit, or the branch's head when nothing changed

Unlike lakeFS's ``Branch.transact()``, which works on an ephemeral branch and merges it back,
writes go straight to the branch, as every writer here did by hand: when the block raises,
nothing is committed, the exception propagates, and what it wrote stays on the branch as
uncommitted changes (as any uncommitted lakeFS write does). The next commit on the branch
seals them, e.g. the retried task's own transaction, even if that one writes nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.exceptions import NothingToCommit, ObjectNotFound

if TYPE_CHECKING:
    from types import TracebackType

    from driftloop.versioning.base import ObjectInfo, VersionStore

__all__ = ["Transaction", "transact"]


class Transaction:
    """Writes to one branch that are committed together when the ``with`` block ends.

    Use it through :func:`transact`. The writes are staged on the branch as they are made
    (reads of the branch see them); the block's normal end commits them.
    """

    def __init__(
        self,
        store: VersionStore,
        branch: str,
        *,
        source_ref: str,
        message: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.store = store
        self.branch = branch
        self.source_ref = source_ref
        self.message = message
        self.metadata = metadata
        self._open = False
        self._commit_id: str | None = None

    def __enter__(self) -> Transaction:
        """Create the branch from the source ref unless it exists; open the transaction.

        Raises:
            RefNotFound: the branch is missing and so is the source ref.
            VersioningError: the store failed.
        """
        self.store.create_branch(self.branch, self.source_ref, exist_ok=True)
        self._open = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Commit what is staged on the branch, unless the block raised (which propagates).

        Raises:
            VersioningError: the commit failed.
        """
        self._open = False
        if exc_type is not None:
            return
        try:
            self._commit_id = self.store.commit(self.branch, self.message, self.metadata).id
        except NothingToCommit:
            self._commit_id = self.store.resolve(self.branch)

    @property
    def commit_id(self) -> str:
        """The commit the block made, or the branch's head when there was nothing to commit.

        Raises:
            RuntimeError: the block has not ended yet, or it raised.
        """
        if self._commit_id is None:
            raise RuntimeError(f"the transaction on branch {self.branch!r} has not committed")
        return self._commit_id

    def write(self, path: str, data: bytes) -> ObjectInfo:
        """Stage ``data`` at ``path``.

        Raises:
            RuntimeError: the transaction is not open (outside its ``with`` block).
            VersioningError: the store failed.
        """
        self._check_open()
        return self.store.write_object(self.branch, path, data)

    def write_if_changed(self, path: str, data: bytes) -> bool:
        """Stage ``data`` at ``path`` unless the branch holds exactly it; say whether it wrote.

        Raises:
            RuntimeError: the transaction is not open (outside its ``with`` block).
            VersioningError: the store failed.
        """
        self._check_open()
        return self.store.write_if_changed(self.branch, path, data)

    def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Stage the removal of ``path``.

        Raises:
            ObjectNotFound: nothing is at ``path`` and ``missing_ok`` is false.
            RuntimeError: the transaction is not open (outside its ``with`` block).
            VersioningError: the store failed.
        """
        self._check_open()
        try:
            self.store.delete_object(self.branch, path)
        except ObjectNotFound:
            if not missing_ok:
                raise

    def _check_open(self) -> None:
        if not self._open:
            # A write outside the block would stay uncommitted with nobody to commit it.
            raise RuntimeError(f"the transaction on branch {self.branch!r} is not open")


def transact(
    store: VersionStore,
    branch: str,
    *,
    source_ref: str,
    message: str,
    metadata: dict[str, str] | None = None,
) -> Transaction:
    """A unit of work on ``branch``: enter it in a ``with`` block and write through it.

    Entering creates ``branch`` from ``source_ref`` unless it exists (an existing branch
    stays where it is). The block writes through ``tx``. Its normal end commits everything
    uncommitted on the branch with ``message`` and ``metadata``; when there is nothing to
    commit, that is success and no commit is made. Either way ``tx.commit_id`` then names
    the branch's head. When the block raises, nothing is committed and the exception
    propagates; its writes stay on the branch uncommitted (see the module's docstring).

    Args:
        store: The version store.
        branch: The branch to write to.
        source_ref: Where ``branch`` starts if it does not exist yet.
        message: The commit message.
        metadata: The commit's string metadata.

    Returns:
        The transaction; nothing happens until its ``with`` block is entered.
    """
    return Transaction(store, branch, source_ref=source_ref, message=message, metadata=metadata)

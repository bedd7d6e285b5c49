"""The embedded ``local`` backend: content-addressed objects on disk, refs in SQLite.

Layout under ``<root>/<repository>/``: ``objects/<sha256[:2]>/<sha256>`` holds object
bytes (written to a temporary file, then renamed into place, the directory synced before
any ref names it), and ``refs.db`` holds commits, trees, branches and staged changes. Every
write runs in one ``BEGIN IMMEDIATE`` transaction on a WAL database (``synchronous=FULL``:
a committed ref survives a power cut), so several processes (Airflow tasks) can share a
store. Reads check an object's bytes against its hash; :meth:`LocalVersionStore.verify`
checks every blob reachable from every branch.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from driftloop.exceptions import (
    BranchExists,
    MergeConflict,
    NothingToCommit,
    ObjectCorrupt,
    ObjectNotFound,
    RefNotFound,
    RepositoryNotFound,
    VersioningError,
)
from driftloop.sqlite import enable_wal
from driftloop.versioning.base import (
    Change,
    Commit,
    ObjectInfo,
    ObjectLocation,
    ObjectLocations,
    VersionStore,
)
from driftloop.versioning.integrity import (
    BlobReference,
    DamagedBlob,
    StoreCheck,
    file_sha256,
    fsync_directory,
    make_directories,
    write_atomically,
)

# lakeFS's own rules (pkg/validator/validate.go); Go's \w is ASCII-only, so no "/" in branches.
BRANCH_NAME = re.compile(r"\w[-\w]*", re.ASCII)
REPOSITORY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{2,62}")

_MIN_COMMIT_PREFIX = 8
_HEX = re.compile(r"[0-9a-f]+")
_BUSY_TIMEOUT_S = 60.0
_INITIAL_MESSAGE = "Repository created"
_DIRTY = "uncommitted changes (dirty branch)"
# A WAL commit is fsynced before it returns (NORMAL may lose the last commits on power loss).
_SYNCHRONOUS = "PRAGMA synchronous=FULL"

Entry = tuple[str, int]
"""An object in a tree: its sha256 and size in bytes."""
Tree = dict[str, Entry]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS repository (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        default_branch TEXT NOT NULL,
        created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS trees (
        tree_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
        PRIMARY KEY (tree_id, path)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS commits (
        id TEXT PRIMARY KEY, tree_id TEXT NOT NULL, message TEXT NOT NULL,
        metadata TEXT NOT NULL, created_at TEXT NOT NULL, generation INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS commit_parents (
        commit_id TEXT NOT NULL, position INTEGER NOT NULL, parent_id TEXT NOT NULL,
        PRIMARY KEY (commit_id, position)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, commit_id TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS staged (
        branch TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, size INTEGER,
        PRIMARY KEY (branch, path)) WITHOUT ROWID""",
)

_MERGE_BASE = """
WITH RECURSIVE
    left_side(id) AS (
        VALUES (?)
        UNION SELECT p.parent_id FROM commit_parents p JOIN left_side l ON p.commit_id = l.id),
    right_side(id) AS (
        VALUES (?)
        UNION SELECT p.parent_id FROM commit_parents p JOIN right_side r ON p.commit_id = r.id)
SELECT c.id FROM commits c
JOIN left_side l ON l.id = c.id
JOIN right_side r ON r.id = c.id
ORDER BY c.generation DESC, c.created_at DESC
LIMIT 1
"""

_REACHABLE = """
WITH RECURSIVE reachable(branch, id) AS (
    SELECT name, commit_id FROM branches
    UNION SELECT r.branch, p.parent_id FROM commit_parents p JOIN reachable r ON p.commit_id = r.id)
"""
_REACHABLE_COMMITS = _REACHABLE + "SELECT COUNT(DISTINCT id) FROM reachable"
# Newest commit first, so each blob is reported with its latest use; uncommitted ones last.
_REACHABLE_BLOBS = (
    _REACHABLE
    + """SELECT t.sha256, t.path, r.branch, r.id, c.generation FROM reachable r
JOIN commits c ON c.id = r.id JOIN trees t ON t.tree_id = c.tree_id
UNION ALL
SELECT sha256, path, branch, NULL, 0 FROM staged WHERE sha256 IS NOT NULL
ORDER BY 3, 5 DESC, 2
"""
)


def validate_branch_name(name: str) -> str:
    r"""Return ``name`` if lakeFS accepts it as a branch id (``^\w[-\w]*$``: ASCII, no ``/``).

    Raises:
        VersioningError: the name is not a valid branch id.

    """
    # fullmatch: "$" would also accept a trailing newline ("main\n").
    if not BRANCH_NAME.fullmatch(name):
        raise VersioningError(
            f"invalid branch name {name!r}: lakeFS branch ids match ^\\w[-\\w]*$ "
            "(ASCII letters, digits, '_' and '-', no '/', not starting with '-')"
        )
    return name


class LocalVersionStore(VersionStore):
    """A lakeFS-like versioned object store in a local folder.

    Args:
        root: Folder holding one sub-folder per repository.
        repository: Repository name (lakeFS rules: ``^[a-z0-9][a-z0-9-]{2,62}$``).

    Raises:
        VersioningError: the repository name is invalid.

    """

    def __init__(self, *, root: Path, repository: str) -> None:
        if not REPOSITORY_NAME.fullmatch(repository):
            raise VersioningError(
                f"invalid repository name {repository!r}: must match ^[a-z0-9][a-z0-9-]{{2,62}}$"
            )
        self.repository = repository
        self._dir = Path(root).resolve() / repository
        self._db = self._dir / "refs.db"
        self._objects = self._dir / "objects"

    def ensure_repository(self, default_branch: str = "main") -> None:
        """Create the repository with an initial commit on ``default_branch`` if it is missing.

        Raises:
            VersioningError: ``default_branch`` is not a valid branch name.

        """
        validate_branch_name(default_branch)
        try:
            make_directories(self._dir)
            conn = sqlite3.connect(self._db, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise VersioningError(f"cannot create repository at {self._dir}: {exc}") from exc
        try:
            enable_wal(conn, timeout=_BUSY_TIMEOUT_S)
            conn.execute(_SYNCHRONOUS)
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            if conn.execute("SELECT 1 FROM repository").fetchone() is None:
                conn.execute(
                    "INSERT INTO repository VALUES (1, ?, ?)",
                    (default_branch, datetime.now(UTC).isoformat()),
                )
                initial = self._add_commit(conn, {}, [], _INITIAL_MESSAGE, {})
                conn.execute("INSERT INTO branches VALUES (?, ?)", (default_branch, initial.id))
            conn.execute("COMMIT")
            # SQLite syncs the directory for its WAL file, not for the database file itself.
            fsync_directory(self._dir)
        except (OSError, sqlite3.Error) as exc:
            raise VersioningError(f"cannot create repository at {self._dir}: {exc}") from exc
        finally:
            conn.close()

    def create_branch(self, name: str, source_ref: str, *, exist_ok: bool = False) -> str:
        """Create ``name`` at ``source_ref`` (its committed head) and return the commit id.

        Raises:
            VersioningError: ``name`` is not a valid branch name.
            BranchExists: ``name`` exists and ``exist_ok`` is false.
            RefNotFound: ``source_ref`` does not exist.

        """
        validate_branch_name(name)
        with self._transaction(write=True) as conn:
            existing = self._branch_commit(conn, name)
            if existing is not None:
                if exist_ok:
                    return existing
                raise BranchExists(f"branch {name!r} already exists")
            commit_id = self._resolve(conn, source_ref)
            conn.execute("INSERT INTO branches VALUES (?, ?)", (name, commit_id))
            return commit_id

    def delete_branch(self, name: str) -> None:
        """Delete a branch and its uncommitted changes (its commits stay reachable by id).

        Raises:
            RefNotFound: no such branch.
            VersioningError: ``name`` is the repository's default branch.

        """
        with self._transaction(write=True) as conn:
            self._head(conn, name)
            if name == self._default_branch(conn):
                raise VersioningError(f"cannot delete the repository's default branch {name!r}")
            conn.execute("DELETE FROM staged WHERE branch = ?", (name,))
            conn.execute("DELETE FROM branches WHERE name = ?", (name,))

    def list_branches(self) -> list[str]:
        """List the names of all branches, sorted."""
        with self._transaction() as conn:
            rows = conn.execute("SELECT name FROM branches ORDER BY name").fetchall()
        return [name for (name,) in rows]

    def write_object(self, branch: str, path: str, data: bytes) -> ObjectInfo:
        """Stage ``data`` at ``path`` on ``branch`` (uncommitted until :meth:`commit`).

        Raises:
            RefNotFound: no such branch.
            VersioningError: ``path`` is empty or the data cannot be stored.

        """
        if not path:
            raise VersioningError("an object path must not be empty")
        digest = self._store_blob(data)
        with self._transaction(write=True) as conn:
            self._head(conn, branch)
            conn.execute(
                "INSERT OR REPLACE INTO staged VALUES (?, ?, ?, ?)",
                (branch, path, digest, len(data)),
            )
        return ObjectInfo(path=path, size_bytes=len(data), checksum=digest)

    def delete_object(self, branch: str, path: str) -> None:
        """Stage the removal of ``path`` on ``branch``.

        Raises:
            RefNotFound: no such branch.
            ObjectNotFound: nothing at ``path``.

        """
        with self._transaction(write=True) as conn:
            committed = self._commit_tree(conn, self._head(conn, branch))
            if path not in self._tree_at(conn, branch, staged=True):
                raise ObjectNotFound(f"no object {path!r} on branch {branch!r}")
            if path in committed:
                conn.execute(
                    "INSERT OR REPLACE INTO staged VALUES (?, ?, NULL, NULL)", (branch, path)
                )
            else:
                conn.execute("DELETE FROM staged WHERE branch = ? AND path = ?", (branch, path))

    def read_object(self, ref: str, path: str) -> bytes:
        """Read ``path`` at ``ref`` (a branch reads its uncommitted changes too).

        Raises:
            RefNotFound: no such ref.
            ObjectNotFound: nothing at ``path``.
            ObjectCorrupt: the bytes on disk do not hash to the object's checksum (the path,
                the ref, the file and both hashes are named).
            VersioningError: the object's bytes are missing from disk.

        """
        with self._transaction() as conn:
            entry = self._tree_at(conn, ref, staged=True).get(path)
        if entry is None:
            raise ObjectNotFound(f"no object {path!r} at {ref!r}")
        expected = entry[0]
        try:
            data = self._blob_path(expected).read_bytes()
        except OSError as exc:
            raise _missing_data(path, ref, expected, exc) from exc
        self._check_blob(path, ref, expected, hashlib.sha256(data).hexdigest())
        return data

    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        """List the objects under ``prefix`` at ``ref``, sorted by path.

        Raises:
            RefNotFound: no such ref.

        """
        with self._transaction() as conn:
            tree = self._tree_at(conn, ref, staged=True)
        return [
            ObjectInfo(path=path, size_bytes=size, checksum=digest)
            for path, (digest, size) in sorted(tree.items())
            if path.startswith(prefix)
        ]

    def locate_objects(self, ref: str, prefix: str = "") -> ObjectLocations:
        """The object files under ``prefix`` at ``ref``'s commit, each checked against its hash.

        Objects are content-addressed files that are never rewritten, so a path stays valid
        for as long as the store keeps the commit.

        Raises:
            RefNotFound: no such ref.
            ObjectCorrupt: a file's bytes do not hash to its object's checksum.
            VersioningError: an object's file is missing.

        """
        with self._transaction() as conn:
            commit_id = self._resolve(conn, ref)
            tree = self._commit_tree(conn, commit_id)
        objects = []
        for path, (digest, size) in sorted(tree.items()):
            if not path.startswith(prefix):
                continue
            blob = self._blob_path(digest)
            try:
                actual = file_sha256(blob)
            except OSError as exc:
                raise _missing_data(path, ref, digest, exc) from exc
            self._check_blob(path, ref, digest, actual)
            objects.append(
                ObjectLocation(path=path, url=str(blob), size_bytes=size, checksum=digest)
            )
        return ObjectLocations(commit_id=commit_id, objects=objects)

    def uncommitted(self, branch: str) -> list[Change]:
        """List the uncommitted changes on ``branch``, sorted by path.

        Raises:
            RefNotFound: no such branch.

        """
        with self._transaction() as conn:
            committed = self._commit_tree(conn, self._head(conn, branch))
            return _changes(committed, self._tree_at(conn, branch, staged=True))

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> Commit:
        """Seal the uncommitted changes on ``branch``.

        Raises:
            RefNotFound: no such branch.
            NothingToCommit: there are no uncommitted changes.
            VersioningError: a metadata key or value is not a string.

        """
        metadata = _string_metadata(metadata)
        with self._transaction(write=True) as conn:
            head = self._head(conn, branch)
            tree = self._tree_at(conn, branch, staged=True)
            if tree == self._commit_tree(conn, head):
                raise NothingToCommit(f"branch {branch!r} has no uncommitted changes")
            commit = self._add_commit(conn, tree, [head], message, metadata)
            self._move_branch(conn, branch, commit.id)
            return commit

    def get_commit(self, ref: str) -> Commit:
        """Return the commit a ref (branch, commit id, unique id prefix of 8+ chars) points at.

        Raises:
            RefNotFound: no such ref.

        """
        with self._transaction() as conn:
            return self._load_commit(conn, self._resolve(conn, ref))[0]

    def log(self, ref: str, limit: int = 100) -> list[Commit]:
        """Return the commits reachable from ``ref``, newest first (by date, as lakeFS does).

        Raises:
            RefNotFound: no such ref.

        """
        with self._transaction() as conn:
            start = self._resolve(conn, ref)
            seen = {start}
            queue = [self._log_entry(conn, start)]
            commits: list[Commit] = []
            while queue and len(commits) < limit:
                commit = heapq.heappop(queue)[-1]
                commits.append(commit)
                for parent in commit.parents:
                    if parent not in seen:
                        seen.add(parent)
                        heapq.heappush(queue, self._log_entry(conn, parent))
            return commits

    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        """Return the committed changes that turn ``left_ref`` into ``right_ref``, by path.

        Raises:
            RefNotFound: either ref does not exist.

        """
        with self._transaction() as conn:
            left = self._tree_at(conn, left_ref, staged=False)
            right = self._tree_at(conn, right_ref, staged=False)
        return [change for change in _changes(left, right) if change.path.startswith(prefix)]

    def merge_base(self, left_ref: str, right_ref: str) -> str:
        """Return the lowest common ancestor of two refs.

        Raises:
            RefNotFound: either ref does not exist.
            VersioningError: the refs share no history.

        """
        with self._transaction() as conn:
            base = self._merge_base(
                conn, self._resolve(conn, left_ref), self._resolve(conn, right_ref)
            )
        if base is None:
            raise VersioningError(f"{left_ref!r} and {right_ref!r} have no common ancestor")
        return base

    def merge(
        self,
        source_ref: str,
        destination_branch: str,
        message: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Three-way merge ``source_ref`` into ``destination_branch`` with a two-parent commit.

        When the merge would not change the destination, nothing is written and the
        destination's head is returned.

        Raises:
            RefNotFound: no such source ref or destination branch.
            VersioningError: the destination has uncommitted changes, or bad metadata.
            MergeConflict: both sides changed the same paths since their merge base.

        """
        metadata = _string_metadata(metadata)
        with self._transaction(write=True) as conn:
            head = self._head(conn, destination_branch)
            source = self._resolve(conn, source_ref)
            self._require_clean(conn, destination_branch, head)
            base = self._merge_base(conn, source, head)
            ours = self._commit_tree(conn, head)
            merged, conflicts = _three_way(
                base=self._commit_tree(conn, base) if base else {},
                ours=ours,
                theirs=self._commit_tree(conn, source),
            )
            if conflicts:
                raise MergeConflict(
                    f"merging {source_ref!r} into {destination_branch!r} conflicts at "
                    + ", ".join(conflicts),
                    paths=conflicts,
                )
            if merged == ours:
                return head
            commit = self._add_commit(conn, merged, [head, source], message, metadata)
            self._move_branch(conn, destination_branch, commit.id)
            return commit.id

    def revert(self, branch: str, commit_id: str, metadata: dict[str, str] | None = None) -> Commit:
        """Add a commit to ``branch`` that undoes ``commit_id`` (first parent for merges).

        Raises:
            RefNotFound: no such branch or commit.
            VersioningError: the branch has uncommitted changes, or the commit has no parent.
            NothingToCommit: undoing the commit would not change the branch.
            MergeConflict: later commits changed the same paths.

        """
        metadata = _string_metadata(metadata)
        with self._transaction(write=True) as conn:
            head = self._head(conn, branch)
            target = self._resolve(conn, commit_id)
            self._require_clean(conn, branch, head)
            reverted, _ = self._load_commit(conn, target)
            if not reverted.parents:
                raise VersioningError(f"commit {target} has no parent to revert to")
            ours = self._commit_tree(conn, head)
            merged, conflicts = _three_way(
                base=self._commit_tree(conn, target),
                ours=ours,
                theirs=self._commit_tree(conn, reverted.parents[0]),
            )
            if conflicts:
                raise MergeConflict(
                    f"reverting {target} on {branch!r} conflicts at " + ", ".join(conflicts),
                    paths=conflicts,
                )
            if merged == ours:
                raise NothingToCommit(f"reverting {target} would not change branch {branch!r}")
            commit = self._add_commit(conn, merged, [head], f"Revert {target}", metadata)
            self._move_branch(conn, branch, commit.id)
            return commit

    def verify(self) -> StoreCheck:
        """Hash every blob that a commit reachable from a branch, or a staged change, uses.

        Each distinct blob is read once; a missing or unreadable file, or bytes that no
        longer hash to the blob's name, is reported with the objects that use it.

        Raises:
            RepositoryNotFound: the repository does not exist.

        """
        with self._transaction() as conn:
            branches = conn.execute("SELECT COUNT(*) FROM branches").fetchone()[0]
            commits = conn.execute(_REACHABLE_COMMITS).fetchone()[0]
            uses: dict[str, dict[tuple[str, str], BlobReference]] = {}
            for digest, path, branch, commit_id, _ in conn.execute(_REACHABLE_BLOBS):
                uses.setdefault(digest, {}).setdefault(
                    (path, branch), BlobReference(path=path, branch=branch, commit=commit_id)
                )
        damaged = []
        for digest, references in sorted(uses.items()):
            blob = self._blob_path(digest)
            try:
                actual: str | None = file_sha256(blob)
            except OSError:
                actual = None
            if actual != digest:
                damaged.append(
                    DamagedBlob(
                        file=blob,
                        expected=digest,
                        actual=actual,
                        references=tuple(references.values()),
                    )
                )
        return StoreCheck(
            repository=self.repository,
            branches=branches,
            commits=commits,
            blobs=len(uses),
            damaged=tuple(damaged),
        )

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Run one transaction on the repository's database (a snapshot for readers)."""
        if not self._db.exists():
            raise RepositoryNotFound(
                f"repository {self.repository!r} does not exist at {self._dir}"
            )
        try:
            conn = sqlite3.connect(
                f"{self._db.as_uri()}?mode=rw",
                uri=True,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise VersioningError(f"cannot open {self._db}: {exc}") from exc
        try:
            conn.execute(_SYNCHRONOUS)
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            self._default_branch(conn)
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise VersioningError(f"repository {self.repository!r} at {self._dir}: {exc}") from exc
        finally:
            # Closing without COMMIT rolls back whatever the failed block started.
            conn.close()

    def _default_branch(self, conn: sqlite3.Connection) -> str:
        try:
            row = conn.execute("SELECT default_branch FROM repository").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None:
            raise RepositoryNotFound(f"repository {self.repository!r} is not initialised")
        return row[0]

    def _branch_commit(self, conn: sqlite3.Connection, name: str) -> str | None:
        row = conn.execute("SELECT commit_id FROM branches WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _head(self, conn: sqlite3.Connection, branch: str) -> str:
        head = self._branch_commit(conn, branch)
        if head is None:
            raise RefNotFound(f"no branch {branch!r} in {self.repository!r}")
        return head

    def _resolve(self, conn: sqlite3.Connection, ref: str) -> str:
        """Resolve a branch name, then a full commit id, then a unique commit-id prefix."""
        head = self._branch_commit(conn, ref)
        if head is not None:
            return head
        if conn.execute("SELECT 1 FROM commits WHERE id = ?", (ref,)).fetchone():
            return ref
        if len(ref) >= _MIN_COMMIT_PREFIX and _HEX.fullmatch(ref):
            # Every id starting with the hex prefix sorts between it and prefix + "g".
            rows = conn.execute(
                "SELECT id FROM commits WHERE id > ? AND id < ? LIMIT 2", (ref, ref + "g")
            ).fetchall()
            if len(rows) == 1:
                return rows[0][0]
            if rows:
                raise RefNotFound(f"commit id prefix {ref!r} is ambiguous")
        raise RefNotFound(f"no branch or commit {ref!r} in {self.repository!r}")

    def _commit_tree(self, conn: sqlite3.Connection, commit_id: str) -> Tree:
        rows = conn.execute(
            "SELECT t.path, t.sha256, t.size FROM commits c JOIN trees t ON t.tree_id = c.tree_id"
            " WHERE c.id = ?",
            (commit_id,),
        ).fetchall()
        return {path: (digest, size) for path, digest, size in rows}

    def _tree_at(self, conn: sqlite3.Connection, ref: str, *, staged: bool) -> Tree:
        tree = self._commit_tree(conn, self._resolve(conn, ref))
        if staged:
            # Staged rows are keyed by branch name, so a commit id simply has none.
            rows = conn.execute(
                "SELECT path, sha256, size FROM staged WHERE branch = ?", (ref,)
            ).fetchall()
            for path, digest, size in rows:
                if digest is None:
                    tree.pop(path, None)
                else:
                    tree[path] = (digest, size)
        return tree

    def _require_clean(self, conn: sqlite3.Connection, branch: str, head: str) -> None:
        if self._tree_at(conn, branch, staged=True) != self._commit_tree(conn, head):
            raise VersioningError(f"branch {branch!r} has {_DIRTY}; commit or discard them first")

    def _move_branch(self, conn: sqlite3.Connection, branch: str, commit_id: str) -> None:
        conn.execute("UPDATE branches SET commit_id = ? WHERE name = ?", (commit_id, branch))
        conn.execute("DELETE FROM staged WHERE branch = ?", (branch,))

    def _merge_base(self, conn: sqlite3.Connection, left: str, right: str) -> str | None:
        row = conn.execute(_MERGE_BASE, (left, right)).fetchone()
        return row[0] if row else None

    def _add_commit(
        self,
        conn: sqlite3.Connection,
        tree: Tree,
        parents: list[str],
        message: str,
        metadata: dict[str, str],
    ) -> Commit:
        tree_id = _digest(sorted(tree.items()))
        if (
            conn.execute("SELECT 1 FROM trees WHERE tree_id = ? LIMIT 1", (tree_id,)).fetchone()
            is None
        ):
            conn.executemany(
                "INSERT INTO trees VALUES (?, ?, ?, ?)",
                [(tree_id, path, digest, size) for path, (digest, size) in tree.items()],
            )
        generation = 1 + max((self._load_commit(conn, p)[1] for p in parents), default=0)
        created_at = datetime.now(UTC)
        # The date and parents make every commit id unique, even for identical trees.
        commit_id = _digest(
            {
                "tree": tree_id,
                "parents": parents,
                "message": message,
                "metadata": metadata,
                "created_at": created_at.isoformat(),
            }
        )
        conn.execute(
            "INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?)",
            (commit_id, tree_id, message, json.dumps(metadata), created_at.isoformat(), generation),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO commit_parents VALUES (?, ?, ?)",
            [(commit_id, position, parent) for position, parent in enumerate(parents)],
        )
        return Commit(
            id=commit_id,
            message=message,
            metadata=metadata,
            parents=parents,
            created_at=created_at,
        )

    def _load_commit(self, conn: sqlite3.Connection, commit_id: str) -> tuple[Commit, int]:
        """Load a commit and its generation (1 + the longest path to the initial commit)."""
        row = conn.execute(
            "SELECT message, metadata, created_at, generation FROM commits WHERE id = ?",
            (commit_id,),
        ).fetchone()
        if row is None:
            raise RefNotFound(f"no commit {commit_id!r} in {self.repository!r}")
        message, metadata, created_at, generation = row
        parents = conn.execute(
            "SELECT parent_id FROM commit_parents WHERE commit_id = ? ORDER BY position",
            (commit_id,),
        ).fetchall()
        commit = Commit(
            id=commit_id,
            message=message,
            metadata=json.loads(metadata),
            parents=[parent for (parent,) in parents],
            created_at=datetime.fromisoformat(created_at),
        )
        return commit, generation

    def _log_entry(
        self, conn: sqlite3.Connection, commit_id: str
    ) -> tuple[float, int, str, Commit]:
        """Build a heap entry that pops the newest commit first, children first on ties."""
        commit, generation = self._load_commit(conn, commit_id)
        return (-commit.created_at.timestamp(), -generation, commit_id, commit)

    def _blob_path(self, digest: str) -> Path:
        return self._objects / digest[:2] / digest

    def _check_blob(self, path: str, ref: str, expected: str, actual: str) -> None:
        if actual != expected:
            raise ObjectCorrupt(
                f"object {path!r} at {ref!r} is corrupt: {self._blob_path(expected)} has sha256 "
                f"{actual}, expected {expected} (`driftloop store verify` lists every damaged "
                "object)"
            )

    def _store_blob(self, data: bytes) -> str:
        """Store ``data`` under its hash, durably, before any ref can name it.

        A blob already on disk is kept if intact (its directory synced again, in case its
        writer died before doing so) and replaced if its bytes were damaged.
        """
        digest = hashlib.sha256(data).hexdigest()
        target = self._blob_path(digest)
        try:
            if target.is_file() and file_sha256(target) == digest:
                fsync_directory(target.parent)
            else:
                write_atomically(target, data)
        except OSError as exc:
            raise VersioningError(f"cannot store object data under {self._objects}: {exc}") from exc
        return digest


def _missing_data(path: str, ref: str, digest: str, exc: OSError) -> VersioningError:
    return VersioningError(
        f"object {path!r} at {ref!r} is missing its data (sha256 {digest}): {exc}"
    )


def _string_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """Check commit metadata as lakeFS takes it: string keys and string values only."""
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise VersioningError(
                f"commit metadata must map strings to strings; got {key!r}: {value!r}"
            )
    return metadata


def _digest(content: object) -> str:
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _changes(left: Tree, right: Tree) -> list[Change]:
    changes = []
    for path in sorted(left.keys() | right.keys()):
        before, after = left.get(path), right.get(path)
        if before == after:
            continue
        kind = "added" if before is None else "removed" if after is None else "changed"
        changes.append(Change(path=path, type=kind))
    return changes


def _three_way(*, base: Tree, ours: Tree, theirs: Tree) -> tuple[Tree, list[str]]:
    """Merge two trees against their base; return the result and the conflicting paths."""
    merged: Tree = {}
    conflicts: list[str] = []
    for path in sorted(base.keys() | ours.keys() | theirs.keys()):
        was, mine, their = base.get(path), ours.get(path), theirs.get(path)
        if their in (was, mine):
            result = mine
        elif mine == was:
            result = their
        else:
            conflicts.append(path)
            continue
        if result is not None:
            merged[path] = result
    return merged, conflicts

"""The model registry: versions with lineage, audited aliases, promotion decisions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from driftloop.exceptions import (
    AliasMoved,
    AliasNotSet,
    NothingToRollBack,
    RegistryConflict,
    RegistryError,
    VersionNotFound,
)
from driftloop.registry.database import Database
from driftloop.registry.models import (
    ALIAS_LENGTH,
    NAME_LENGTH,
    AliasRow,
    Base,
    DecisionRow,
    ModelRow,
    MoveRow,
    RefusedMoveRow,
    VersionRow,
)
from driftloop.registry.records import (
    AliasMove,
    Decision,
    JsonObject,
    ModelVersion,
    RefusedMove,
    RegisteredModel,
    VersionLineage,
    VersionStatus,
)

ALIAS_PATTERN = re.compile(rf"^[a-z][a-z0-9_-]{{0,{ALIAS_LENGTH - 1}}}$")
MODEL_PATTERN = re.compile(rf"^[a-z0-9][a-z0-9_.-]{{0,{NAME_LENGTH - 1}}}$")

RecordT = TypeVar("RecordT", bound=BaseModel)


class Unchecked(Enum):
    """The alias may point anywhere before a move: no compare-and-swap."""

    ANYWHERE = "anywhere"


ANYWHERE = Unchecked.ANYWHERE
Expected = int | None | Unchecked
"""What a move expects the alias to point at: a version, ``None`` (unset), or ANYWHERE."""


class Registry:
    """The model registry over one SQLAlchemy URL (SQLite by default, PostgreSQL in production).

    Every method is one transaction: it either completes or leaves no row behind.
    Writes to one model are serialized (a row lock on PostgreSQL, ``BEGIN IMMEDIATE``
    on SQLite), so concurrent Airflow tasks see a consistent history. Writes that an
    Airflow task may retry take a ``run_key`` and are idempotent by it.

    Every method may raise :class:`~driftloop.exceptions.RegistryUnavailable` (the
    database cannot be reached or stayed locked: retry) or
    :class:`~driftloop.exceptions.RegistryError` (schema missing, other database errors).
    """

    def __init__(self, *, url: str, sqlite_timeout: float = 30.0) -> None:
        """Prepare the engine; nothing connects until the first call.

        Args:
            url: SQLAlchemy URL, ``sqlite:///path`` or ``postgresql+psycopg2://...``.
            sqlite_timeout: seconds a SQLite writer waits for another's lock.

        Raises:
            RegistryError: the URL names an unsupported database.
            RegistryUnavailable: the folder of a SQLite file cannot be created.

        """
        self._db = Database(url, sqlite_timeout=sqlite_timeout)

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._db.masked_url

    def __repr__(self) -> str:
        return f"Registry(url={self.url!r})"

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        self._db.engine.dispose()

    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision; a no-op when up to date.

        Safe to call from several processes at once.
        """
        self._db.upgrade()

    def ensure_schema(self) -> None:
        """Migrate the schema when it is behind the shipped migrations; one read when it is not.

        Raises:
            RegistryUnavailable: the database cannot be reached.
            RegistryError: a migration failed.
        """
        if self._db.revision() != self._db.head():
            self._db.upgrade()

    def schema_revision(self) -> str | None:
        """Return the applied schema revision, ``None`` before the first :meth:`upgrade`."""
        return self._db.revision()

    # Models

    def ensure_model(self, name: str, *, description: str | None = None) -> RegisteredModel:
        """Create the model if it is missing; set its description when one is given.

        Raises:
            RegistryError: ``name`` is not a valid model name.

        """
        with self._db.transaction(write=True) as session:
            model_id = _create_model(session, _checked_model(name))
            row = session.get_one(ModelRow, model_id)
            if description is not None:
                row.description = description
            return _record(RegisteredModel, row)

    def get_model(self, name: str) -> RegisteredModel:
        """Return the registered model called ``name``.

        Raises:
            VersionNotFound: no such model.

        """
        with self._db.transaction(write=False) as session:
            return _record(RegisteredModel, session.get_one(ModelRow, _model_id(session, name)))

    def list_models(self) -> list[RegisteredModel]:
        """Return every registered model, sorted by name."""
        with self._db.transaction(write=False) as session:
            rows = session.scalars(select(ModelRow).order_by(ModelRow.name))
            return [_record(RegisteredModel, row) for row in rows]

    # Versions

    def register_version(
        self, model: str, *, run_key: str, lineage: VersionLineage, created_by: str
    ) -> ModelVersion:
        """Register the next version of ``model`` (created on first use).

        Idempotent by ``run_key``: when this model already has a version registered
        under it with the same artifact (``artifact_sha256``), that version is returned
        unchanged, even if the rest of ``lineage`` differs (a retried registration). A
        different artifact under a used run key is another model, not a retry: a run id
        reused after Airflow's database was reset, or chosen by hand.

        Raises:
            RegistryConflict: ``run_key`` already registered a version of ``model`` with
                another artifact.
            RegistryError: ``model`` is not a valid model name, or the lineage cannot
                be stored (e.g. a NaN metric).

        """
        with self._db.transaction(write=True) as session:
            model_id = _create_model(session, _checked_model(model))
            existing = session.scalar(
                select(VersionRow).where(
                    VersionRow.model_id == model_id, VersionRow.run_key == run_key
                )
            )
            if existing is not None:
                if existing.artifact_sha256 != lineage.artifact_sha256:
                    raise RegistryConflict(
                        f"run key {run_key!r} already registered version {existing.version} "
                        f"of {model!r} with artifact sha256 {existing.artifact_sha256}, not "
                        f"{lineage.artifact_sha256}: a run id reused for another model (was "
                        "Airflow's database reset?); register it under a new run id"
                    )
                return _version_record(existing, model)
            latest = session.scalar(
                select(func.max(VersionRow.version)).where(VersionRow.model_id == model_id)
            )
            row = VersionRow(
                model_id=model_id,
                version=(latest or 0) + 1,
                run_key=run_key,
                status=VersionStatus.REGISTERED.value,
                reference_profile_uri=None,
                created_by=created_by,
                created_at=_now(),
                **lineage.model_dump(),
            )
            session.add(row)
            session.flush()
            return _version_record(row, model)

    def get_version(self, model: str, version: int) -> ModelVersion:
        """Return version ``version`` of ``model``.

        Raises:
            VersionNotFound: no such model or version.

        """
        with self._db.transaction(write=False) as session:
            row = _version_row(session, _model_id(session, model), model, version)
            return _version_record(row, model)

    def list_versions(self, model: str) -> list[ModelVersion]:
        """Return all versions of ``model``, oldest first.

        Raises:
            VersionNotFound: no such model.

        """
        with self._db.transaction(write=False) as session:
            rows = session.scalars(
                select(VersionRow)
                .where(VersionRow.model_id == _model_id(session, model))
                .order_by(VersionRow.version)
            )
            return [_version_record(row, model) for row in rows]

    def latest_version(self, model: str) -> ModelVersion:
        """Return the highest-numbered version of ``model``, archived or not.

        Raises:
            VersionNotFound: no such model, or it has no versions yet.

        """
        with self._db.transaction(write=False) as session:
            row = session.scalar(
                select(VersionRow)
                .where(VersionRow.model_id == _model_id(session, model))
                .order_by(VersionRow.version.desc())
                .limit(1)
            )
            if row is None:
                raise VersionNotFound(f"model {model!r} has no versions")
            return _version_record(row, model)

    def set_reference_profile(self, model: str, version: int, uri: str) -> ModelVersion:
        """Record where the version's reference data profile is stored (replaces any earlier).

        Raises:
            VersionNotFound: no such model or version.

        """
        with self._db.transaction(write=True) as session:
            row = _version_row(session, _model_id(session, model, lock=True), model, version)
            row.reference_profile_uri = uri
            return _version_record(row, model)

    def archive_version(self, model: str, version: int) -> ModelVersion:
        """Retire a version: no alias may point at it afterwards. Archiving twice is a no-op.

        Raises:
            VersionNotFound: no such model or version.
            RegistryConflict: an alias points at the version; move it first.

        """
        with self._db.transaction(write=True) as session:
            model_id = _model_id(session, model, lock=True)
            row = _version_row(session, model_id, model, version)
            held_by = session.scalars(
                select(AliasRow.alias).where(
                    AliasRow.model_id == model_id, AliasRow.version == version
                )
            ).all()
            if held_by:
                raise RegistryConflict(
                    f"cannot archive version {version} of {model!r}: "
                    f"aliases {sorted(held_by)} point at it"
                )
            row.status = VersionStatus.ARCHIVED.value
            return _version_record(row, model)

    # Aliases

    def get_alias(self, model: str, alias: str) -> ModelVersion | None:
        """Return the version ``alias`` points at, ``None`` if it is not set.

        Raises:
            VersionNotFound: no such model.
            RegistryError: ``alias`` is not a valid alias name.

        """
        alias = _checked_alias(alias)
        with self._db.transaction(write=False) as session:
            row = session.scalar(
                select(VersionRow)
                .join(
                    AliasRow,
                    (AliasRow.model_id == VersionRow.model_id)
                    & (AliasRow.version == VersionRow.version),
                )
                .where(AliasRow.model_id == _model_id(session, model), AliasRow.alias == alias)
            )
            return None if row is None else _version_record(row, model)

    def aliases(self, model: str) -> dict[str, int]:
        """Return every alias of ``model`` and the version it points at.

        Raises:
            VersionNotFound: no such model.

        """
        with self._db.transaction(write=False) as session:
            rows = session.execute(
                select(AliasRow.alias, AliasRow.version)
                .where(AliasRow.model_id == _model_id(session, model))
                .order_by(AliasRow.alias)
            )
            return {alias: version for alias, version in rows}

    def move_alias(
        self,
        model: str,
        alias: str,
        version: int,
        *,
        actor: str,
        reason: str,
        evidence: JsonObject | None = None,
        run_key: str | None = None,
        expected: Expected = ANYWHERE,
    ) -> AliasMove:
        """Point ``alias`` at ``version`` and append the move to the audit log.

        A move to the version the alias already points at changes nothing and is not
        audited (``changed`` is false). With a ``run_key``, a repeated call returns
        the move recorded the first time instead of moving again. With ``expected``
        (a version, or ``None`` for an unset alias), the move happens only if the alias
        points there: compare-and-swap against what the caller saw. A refused move
        changes nothing and is recorded (:meth:`refused_moves`), once per ``run_key``.

        Raises:
            AliasMoved: the alias does not point at ``expected``.
            VersionNotFound: no such model or version.
            RegistryConflict: the version is archived, or ``run_key`` already moved
                this alias to another version.
            RegistryError: ``alias`` is not a valid alias name.

        """
        alias = _checked_alias(alias)
        with (
            self._refusal_recorded(
                model, alias, actor=actor, reason=reason, evidence=evidence, run_key=run_key
            ),
            self._db.transaction(write=True) as session,
        ):
            model_id = _model_id(session, model, lock=True)
            done = _move_by_run_key(session, model_id, alias, run_key)
            if done is not None:
                if done.to_version != version:
                    raise RegistryConflict(
                        f"run {run_key!r} already moved {alias!r} of {model!r} to version "
                        f"{done.to_version}, not {version}"
                    )
                return _record(AliasMove, done, model=model)
            return _move(
                session,
                model_id,
                model,
                alias,
                version,
                actor=actor,
                reason=reason,
                evidence=evidence or {},
                run_key=run_key,
                rollback_of=None,
                expected=expected,
            )

    def rollback(
        self,
        model: str,
        alias: str = "champion",
        *,
        actor: str,
        reason: str,
        evidence: JsonObject | None = None,
        run_key: str | None = None,
        expected: Expected = ANYWHERE,
    ) -> AliasMove:
        """Undo the alias's latest move that is not yet undone, as a new audited move.

        Rollbacks walk back through history: after v1 -> v2 -> v3, a rollback returns
        to v2 and the next one to v1. With a ``run_key``, a repeated call returns the
        first rollback instead of rolling back further. ``expected`` is checked, and a
        refusal recorded, as by :meth:`move_alias`.

        Raises:
            AliasMoved: the alias does not point at ``expected``.
            VersionNotFound: no such model.
            AliasNotSet: the alias has never been set.
            NothingToRollBack: the alias has no earlier version to return to.
            RegistryConflict: the version to return to has been archived.
            RegistryError: ``alias`` is not a valid alias name.

        """
        alias = _checked_alias(alias)
        with (
            self._refusal_recorded(
                model, alias, actor=actor, reason=reason, evidence=evidence, run_key=run_key
            ),
            self._db.transaction(write=True) as session,
        ):
            model_id = _model_id(session, model, lock=True)
            done = _move_by_run_key(session, model_id, alias, run_key)
            if done is not None:
                return _record(AliasMove, done, model=model)
            history = session.scalars(
                select(MoveRow)
                .where(MoveRow.model_id == model_id, MoveRow.alias == alias)
                .order_by(MoveRow.id)
            ).all()
            if not history:
                raise AliasNotSet(f"alias {alias!r} of {model!r} is not set: nothing to roll back")
            standing: list[MoveRow] = []
            for move in history:
                if move.rollback_of is None:
                    standing.append(move)
                else:
                    standing.pop()
            target = standing[-1].from_version if standing else None
            if target is None:
                raise NothingToRollBack(
                    f"alias {alias!r} of {model!r} has no earlier version to return to"
                )
            return _move(
                session,
                model_id,
                model,
                alias,
                target,
                actor=actor,
                reason=reason,
                evidence=evidence or {},
                run_key=run_key,
                rollback_of=standing[-1].id,
                expected=expected,
            )

    def audit_log(self, model: str, alias: str | None = None) -> list[AliasMove]:
        """Return the audited alias moves of ``model`` (of one alias if given), oldest first.

        Raises:
            VersionNotFound: no such model.
            RegistryError: ``alias`` is not a valid alias name.

        """
        query = select(MoveRow).order_by(MoveRow.id)
        if alias is not None:
            query = query.where(MoveRow.alias == _checked_alias(alias))
        with self._db.transaction(write=False) as session:
            rows = session.scalars(query.where(MoveRow.model_id == _model_id(session, model)))
            return [_record(AliasMove, row, model=model) for row in rows]

    def refused_moves(self, model: str, alias: str | None = None) -> list[RefusedMove]:
        """Return the refused alias moves of ``model`` (of one alias if given), newest first.

        Raises:
            VersionNotFound: no such model.
            RegistryError: ``alias`` is not a valid alias name.

        """
        query = select(RefusedMoveRow).order_by(RefusedMoveRow.id.desc())
        if alias is not None:
            query = query.where(RefusedMoveRow.alias == _checked_alias(alias))
        with self._db.transaction(write=False) as session:
            rows = session.scalars(
                query.where(RefusedMoveRow.model_id == _model_id(session, model))
            )
            return [_record(RefusedMove, row, model=model) for row in rows]

    @contextmanager
    def _refusal_recorded(
        self,
        model: str,
        alias: str,
        *,
        actor: str,
        reason: str,
        evidence: JsonObject | None,
        run_key: str | None,
    ) -> Iterator[None]:
        """Record an :class:`AliasMoved` raised inside, then let it propagate.

        Wrap the move's transaction, so that it is rolled back before the refusal is
        written in a transaction of its own: the refusal stays, the move does not.
        """
        try:
            yield
        except AliasMoved as refused:
            with self._db.transaction(write=True) as session:
                _record_refusal(
                    session,
                    _model_id(session, model, lock=True),
                    alias,
                    refused,
                    actor=actor,
                    reason=reason,
                    evidence=evidence or {},
                    run_key=run_key,
                )
            raise

    # Decisions

    def record_decision(
        self,
        model: str,
        version: int,
        *,
        promoted: bool,
        reason: str,
        evidence: JsonObject,
        actor: str,
        run_key: str,
    ) -> Decision:
        """Append a promotion decision about ``version``, whether or not an alias moved.

        Idempotent by ``run_key``: a repeated call returns the first decision.

        Raises:
            VersionNotFound: no such model or version.
            RegistryConflict: ``run_key`` already decided differently (another version,
                or the opposite outcome).

        """
        with self._db.transaction(write=True) as session:
            model_id = _model_id(session, model, lock=True)
            done = session.scalar(
                select(DecisionRow).where(
                    DecisionRow.model_id == model_id, DecisionRow.run_key == run_key
                )
            )
            if done is not None:
                if (done.version, done.promoted) != (version, promoted):
                    raise RegistryConflict(
                        f"run {run_key!r} already decided promoted={done.promoted} for version "
                        f"{done.version} of {model!r}"
                    )
                return _record(Decision, done, model=model)
            _version_row(session, model_id, model, version)
            row = DecisionRow(
                model_id=model_id,
                version=version,
                promoted=promoted,
                reason=reason,
                evidence=evidence,
                actor=actor,
                run_key=run_key,
                at=_now(),
            )
            session.add(row)
            session.flush()
            return _record(Decision, row, model=model)

    def decisions(self, model: str) -> list[Decision]:
        """Return the recorded promotion decisions about ``model``, oldest first.

        Raises:
            VersionNotFound: no such model.

        """
        with self._db.transaction(write=False) as session:
            rows = session.scalars(
                select(DecisionRow)
                .where(DecisionRow.model_id == _model_id(session, model))
                .order_by(DecisionRow.id)
            )
            return [_record(Decision, row, model=model) for row in rows]


def _now() -> datetime:
    return datetime.now(UTC)


def _checked_model(name: str) -> str:
    if not MODEL_PATTERN.fullmatch(name):
        raise RegistryError(
            f"invalid model name {name!r}: use lowercase letters, digits, '_', '-' and '.', "
            f"starting with a letter or digit, at most {NAME_LENGTH} characters"
        )
    return name


def _checked_alias(alias: str) -> str:
    if not ALIAS_PATTERN.fullmatch(alias):
        raise RegistryError(
            f"invalid alias {alias!r}: must match {ALIAS_PATTERN.pattern} "
            f"(lowercase, starting with a letter, at most {ALIAS_LENGTH} characters)"
        )
    return alias


def _find_model_id(session: Session, model: str, *, lock: bool) -> int | None:
    query = select(ModelRow.id).where(ModelRow.name == model)
    if lock:
        # Concurrent writers to one model queue here on PostgreSQL (SQLite ignores
        # FOR UPDATE: its writers already hold the database lock from BEGIN IMMEDIATE).
        query = query.with_for_update()
    return session.scalar(query)


def _model_id(session: Session, model: str, *, lock: bool = False) -> int:
    model_id = _find_model_id(session, model, lock=lock)
    if model_id is None:
        raise VersionNotFound(f"no registered model {model!r}")
    return model_id


def _create_model(session: Session, model: str) -> int:
    """Lock the model, inserting it first if missing (racing creators both succeed)."""
    model_id = _find_model_id(session, model, lock=True)
    if model_id is not None:
        return model_id
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(ModelRow)
        .values(name=model, description=None, created_at=_now())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return _model_id(session, model, lock=True)


def _version_row(session: Session, model_id: int, model: str, version: int) -> VersionRow:
    row = session.scalar(
        select(VersionRow).where(VersionRow.model_id == model_id, VersionRow.version == version)
    )
    if row is None:
        raise VersionNotFound(f"model {model!r} has no version {version}")
    return row


def _move_by_run_key(
    session: Session, model_id: int, alias: str, run_key: str | None
) -> MoveRow | None:
    if run_key is None:
        return None
    return session.scalar(
        select(MoveRow).where(
            MoveRow.model_id == model_id, MoveRow.alias == alias, MoveRow.run_key == run_key
        )
    )


def _record_refusal(
    session: Session,
    model_id: int,
    alias: str,
    refused: AliasMoved,
    *,
    actor: str,
    reason: str,
    evidence: JsonObject,
    run_key: str | None,
) -> None:
    """Append a refused move, unless its ``run_key`` recorded it already (a retried task)."""
    if run_key is not None and session.scalar(
        select(RefusedMoveRow.id).where(
            RefusedMoveRow.model_id == model_id,
            RefusedMoveRow.alias == alias,
            RefusedMoveRow.run_key == run_key,
        )
    ):
        return
    session.add(
        RefusedMoveRow(
            model_id=model_id,
            alias=alias,
            expected_version=refused.expected,
            actual_version=refused.actual,
            to_version=refused.to_version,
            actor=actor,
            reason=reason,
            evidence=evidence,
            run_key=run_key,
            at=_now(),
        )
    )


def _move(
    session: Session,
    model_id: int,
    model: str,
    alias: str,
    version: int,
    *,
    actor: str,
    reason: str,
    evidence: JsonObject,
    run_key: str | None,
    rollback_of: int | None,
    expected: Expected,
) -> AliasMove:
    """Point the alias at ``version`` and audit it; the caller holds the model's lock."""
    target = _version_row(session, model_id, model, version)
    if target.status == VersionStatus.ARCHIVED:
        raise RegistryConflict(f"version {version} of {model!r} is archived: no alias may use it")
    now = _now()
    current = session.get(AliasRow, (model_id, alias))
    if current is not None and current.version == version:
        return AliasMove(
            id=None,
            model=model,
            alias=alias,
            from_version=version,
            to_version=version,
            actor=actor,
            reason=reason,
            evidence=evidence,
            run_key=run_key,
            rollback_of=rollback_of,
            at=now,
            changed=False,
        )
    from_version = None if current is None else current.version
    if expected is not ANYWHERE and from_version != expected:
        raise AliasMoved(
            f"{alias!r} of {model!r} points at version {from_version}, not "
            f"{expected} as expected: it moved since; look again before moving it",
            expected=expected,
            actual=from_version,
            to_version=version,
        )
    if current is None:
        session.add(AliasRow(model_id=model_id, alias=alias, version=version, updated_at=now))
    else:
        current.version = version
        current.updated_at = now
    move = MoveRow(
        model_id=model_id,
        alias=alias,
        from_version=from_version,
        to_version=version,
        actor=actor,
        reason=reason,
        evidence=evidence,
        run_key=run_key,
        rollback_of=rollback_of,
        at=now,
    )
    session.add(move)
    session.flush()
    return _record(AliasMove, move, model=model)


def _record(kind: type[RecordT], row: Base, **fields: object) -> RecordT:
    """Build the record ``kind`` from the row's columns of the same names, plus ``fields``."""
    columns = row.__mapper__.column_attrs.keys()
    values = {name: getattr(row, name) for name in kind.model_fields if name in columns}
    return kind.model_validate({**values, **fields})


def _version_record(row: VersionRow, model: str) -> ModelVersion:
    """A version's record: its columns, with the lineage columns nested as its lineage."""
    return _record(ModelVersion, row, model=model, lineage=_record(VersionLineage, row))


_CURRENT: set[str] = set()


def open_registry(url: str) -> Registry:
    """The registry at ``url`` with its schema current, checked (and migrated) once per process.

    Raises:
        RegistryUnavailable: the database cannot be reached.
        RegistryError: the URL is unsupported, or a migration failed.
    """
    registry = Registry(url=url)
    if url not in _CURRENT:
        registry.ensure_schema()
        _CURRENT.add(url)
    return registry

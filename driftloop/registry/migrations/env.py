"""Alembic environment: runs on the connection ``driftloop.registry`` hands over.

There is no ``alembic.ini``: :meth:`driftloop.registry.Registry.upgrade` builds the
configuration in code and passes an open connection in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from driftloop.exceptions import RegistryError
from driftloop.registry.database import VERSION_TABLE
from driftloop.registry.models import Base


def run_migrations() -> None:
    """Run the pending migrations inside the caller's transaction."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RegistryError("run the registry migrations through Registry.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations copy tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()

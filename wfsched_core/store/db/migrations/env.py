"""Alembic environment: always run from ``wfsched db upgrade`` with a connection given."""

from __future__ import annotations

from alembic import context

from wfsched_core.store.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

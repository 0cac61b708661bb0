"""Schema migrations with Alembic (imported only by ``db upgrade`` and first use)."""

from __future__ import annotations

from sqlalchemy.engine import Engine


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema to ``revision``."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "wfsched_core.store.db:migrations")
    # BEGIN IMMEDIATE on SQLite: two processes creating a fresh database take turns.
    with engine.execution_options(wfsched_write=True).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "wfsched_core.store.db:migrations")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head

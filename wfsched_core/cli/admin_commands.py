"""Administration: ``wfsched db upgrade``."""

from __future__ import annotations

import click

from wfsched_core.app import App
from wfsched_core.cli.main import cli

pass_app = click.make_pass_decorator(App)


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or migrate the schema to this version of wfsched."""
    store = app.raw_store()
    store.upgrade()
    click.echo(f"{store.describe()} is at schema revision {store.schema_revision()}")

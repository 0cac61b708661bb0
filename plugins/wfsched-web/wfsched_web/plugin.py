"""The plugin module announced through ``wfsched.plugins``: it adds ``wfsched web``.

Kept free of web imports so that every other ``wfsched`` command stays as fast as before;
Starlette, Jinja2 and uvicorn are imported only when ``wfsched web`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def wfsched_cli_commands(cli: click.Group) -> None:
    """Add the ``web`` command to the ``wfsched`` group."""
    from wfsched_web.command import web

    cli.add_command(web)

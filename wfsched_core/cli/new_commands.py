"""``wfsched new workflows|plugin|spawner NAME``: a ready package to start from."""

from __future__ import annotations

from pathlib import Path

import click

from wfsched_core.cli.main import cli


@cli.command()
@click.argument("kind", type=click.Choice(["workflows", "plugin", "spawner"]))
@click.argument("name")
@click.option("--directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write it (default: ./NAME); must not exist or be empty.")
def new(kind: str, name: str, directory: Path | None) -> int:
    """Write a ready package of workflows, a plugin or a spawner, with a first test."""
    from wfsched_core.authoring.scaffold import write_package

    scaffold = write_package(kind, name, directory)
    click.echo(f"wrote {scaffold.distribution} ({kind}) in {scaffold.directory}:")
    for path in scaffold.files:
        click.echo(f"  {path.relative_to(scaffold.directory)}")
    click.echo(f"next: cd {scaffold.directory} and follow README.md "
               "(pip install -e the core, pip install -e \".[test]\", pytest)")
    return 0

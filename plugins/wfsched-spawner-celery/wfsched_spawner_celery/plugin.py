"""Hook implementations of ``wfsched-spawner-celery``: the ``celery`` spawner and the
``wfsched celery-worker`` command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_spawner_celery.options import CeleryOptions

if TYPE_CHECKING:
    import click

    from wfsched_core.base.config import Settings
    from wfsched_core.framework.spawning import SpawnerRegistrar


@hookimpl
def wfsched_configure(settings: Settings) -> None:
    # a bad [spawner.celery] table is reported by every command, not at first use
    CeleryOptions.from_settings(settings)


@hookimpl
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    from wfsched_spawner_celery.spawner import CelerySpawner

    registry.add(CelerySpawner.name, CelerySpawner)


@hookimpl
def wfsched_cli_commands(cli: click.Group) -> None:
    from wfsched_spawner_celery.worker_command import celery_worker

    cli.add_command(celery_worker)

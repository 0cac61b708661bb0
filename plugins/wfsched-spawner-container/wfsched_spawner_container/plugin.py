"""Hook implementations of ``wfsched-spawner-container``: registers the ``container`` spawner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_spawner_container.options import ContainerOptions
from wfsched_spawner_container.spawner import ContainerSpawner

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.framework.spawning import SpawnerRegistrar


@hookimpl
def wfsched_configure(settings: Settings) -> None:
    # a bad [spawner.container] table is reported by every command, not at first use
    ContainerOptions.from_settings(settings)


@hookimpl
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    registry.add(ContainerSpawner.name, ContainerSpawner)

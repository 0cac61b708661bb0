"""Hook implementations of ``wfsched-spawner-detached``: registers the ``detached`` spawner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl
from wfsched_spawner_detached.spawner import DetachedSpawner

if TYPE_CHECKING:
    from wfsched_core.framework.spawning import SpawnerRegistrar


@hookimpl
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    registry.add(DetachedSpawner.name, DetachedSpawner)

"""Discovery: workflows announced by installed packages through ``wfsched.workflows``."""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from wfsched_core.framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import WorkflowRegistrar

WORKFLOW_ENTRY_POINT_GROUP = "wfsched.workflows"


@hookimpl
def wfsched_workflows(registry: WorkflowRegistrar) -> None:
    """Announce each entry point lazily: its module is imported only when needed."""
    for entry_point in sorted(
        metadata.entry_points(group=WORKFLOW_ENTRY_POINT_GROUP), key=lambda ep: ep.name
    ):
        dist = getattr(entry_point, "dist", None)
        source = f"{dist.name} {dist.version}" if dist else entry_point.value
        registry.add_lazy(entry_point.name, entry_point.load, f"{source} ({entry_point.value})",
                          distribution=dist.name if dist else None,
                          package=dist.name if dist else None,
                          version=dist.version if dist else None)

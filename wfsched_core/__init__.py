"""wfsched: workflows as isolated processes, status in SQL, everything a pluggy hook.

The authoring API (contract)::

    from wfsched_core import Workflow, step

Kept light on purpose: a worker imports this package on every start. ``hookimpl`` (for
plugin authors) is imported on first use, so that a worker does not load pluggy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfsched_core.authoring.workflow import StepContext, Workflow, step
from wfsched_core.base.records import Upstream
from wfsched_core.base.status import ExecutionStatus, Trigger

if TYPE_CHECKING:
    from wfsched_core.framework.hookspecs import hookimpl

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from wfsched_core.framework.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'wfsched_core' has no attribute {name!r}")

__all__ = [
    "ExecutionStatus",
    "StepContext",
    "Trigger",
    "Upstream",
    "Workflow",
    "__version__",
    "hookimpl",
    "step",
]

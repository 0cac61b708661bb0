"""wfsched: workflows as isolated processes, status in SQL, everything a pluggy hook.

The authoring API (contract)::

    from wfsched_core import Workflow, step

Kept light on purpose: a worker imports this package on every start.
"""

from __future__ import annotations

from wfsched_core.hookspecs import hookimpl
from wfsched_core.status import ExecutionStatus, Trigger
from wfsched_core.workflow import StepContext, Workflow, step

__version__ = "0.1.0"

__all__ = [
    "ExecutionStatus",
    "StepContext",
    "Trigger",
    "Workflow",
    "__version__",
    "hookimpl",
    "step",
]

"""The scheduler process: claim pending executions, start and watch their workers.

``loop.py`` is the loop (claim, start, reap, recover, repeat) with its records in
``options.py``; ``reports.py`` is the end of the private channels through which the
workers it started on this host report their transitions, written many at a time (group
commit); ``ticks.py`` queues scheduled runs; ``recovery.py`` adopts or fails the work of
a dead scheduler; ``cancellation.py`` stops a cancelled run; ``held.py`` is what
``--once`` leaves behind (pending work it cannot start now); ``outcome_log.py`` writes the
log lines about each execution started and finished. It may import every
layer below it (spawn, worker, app, store, framework, authoring, base); nothing imports
it but the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfsched_core.scheduler.loop import Scheduler
    from wfsched_core.scheduler.options import SchedulerOptions

__all__ = ["Scheduler", "SchedulerOptions"]


def __getattr__(name: str) -> Any:
    """``Scheduler`` and ``SchedulerOptions``, imported when first asked for: a command
    that imports one module of this package (``cancel`` imports ``cancellation``) does
    not load the loop and the store with it."""
    if name == "Scheduler":
        from wfsched_core.scheduler.loop import Scheduler

        return Scheduler
    if name == "SchedulerOptions":
        from wfsched_core.scheduler.options import SchedulerOptions

        return SchedulerOptions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The scheduler process: claim pending executions, start and watch their workers.

``loop.py`` is the loop (claim, start, reap, recover, repeat); ``reports.py`` is the end
of the private channels through which the workers it started on this host report their
transitions, written many at a time (group commit); ``held.py`` is what ``--once``
leaves behind (pending work it cannot start now). It may import the store, the spawn
strategies, the worker's plan and the framework; nothing imports it but the CLI.
"""

from __future__ import annotations

from wfsched_core.scheduler.loop import Scheduler
from wfsched_core.scheduler_records import SchedulerOptions

__all__ = ["Scheduler", "SchedulerOptions"]

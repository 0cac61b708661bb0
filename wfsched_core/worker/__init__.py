"""The worker: the process that runs one execution's steps, in order.

Two ways in, one step runner (``runner.py``):

- ``python -m wfsched_core.worker ID`` — the lean worker the ``local`` spawner starts (as a
  fresh interpreter, or forked from the fork server). It imports the authoring API and its
  own workflow module, nothing else (no SQLAlchemy, no click, no entry-point scan), and
  reports its transitions to the scheduler that started it over a private channel
  (``channel.py``); the scheduler writes them, many workers' in one transaction. If that
  scheduler is gone, the worker writes to the database itself (``direct.py``).
- ``wfsched execute ID`` — the worker every other spawner starts (detached, container,
  remote): it writes to the database itself and fires the lifecycle events.

This package may import ``base`` and ``authoring`` at module level; the store, the
framework and ``app`` (the wiring) only inside functions, on the direct path. The spawn
strategies and the scheduler import it, never the other way round.
"""

from __future__ import annotations

# Set by the scheduler for the workers it starts: the id of the scheduler that claimed it.
ENV_OWNER = "WFSCHED_OWNER"
# Set by the scheduler for a lean worker: how to reach it and what to run (``plan.py``).
ENV_PLAN = "WFSCHED_WORKER_PLAN"
#: a module the worker imports and calls around its run and steps (``instrumentation.py``)
ENV_INSTRUMENTATION = "WFSCHED_WORKER_INSTRUMENTATION"
# How long a finished worker keeps trying to record its final status through an outage.
FINAL_STATUS_PATIENCE = 600.0
# How long a worker keeps trying to mark its execution running: its scheduler waits.
START_PATIENCE = 60.0
# A worker that could not start its execution for a reason that may pass (the database
# was unreachable for START_PATIENCE) exits with this code (EX_TEMPFAIL): its scheduler
# gives the execution back to the queue instead of failing it (no step ran, no attempt
# was used).
EXIT_NOT_STARTED = 75

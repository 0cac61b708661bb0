"""The Celery task that runs one execution: in a child process, never in the pool process.

``wfsched.execute(execution_id, owner, database)`` checks that the execution is still
``pending`` and claimed by ``owner`` (a task delivered a second time finds it running or
ended, says so in the log and returns), then starts ``wfsched execute ID`` as a child in
a session of its own and waits for it. While it waits it watches the execution's row: when
the scheduler has ended the execution (a timeout, a lost heartbeat) and the child is
still there after a grace period, it stops the child's whole process tree. A cancel
reaches the child sooner, through its own heartbeat.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import WfschedError
from wfsched_core.base.execution_log import ENV_LOG_CAPTURED, log_path, open_for_worker
from wfsched_core.base.processes import describe_exit, hostname, process_create_time, stop_process_tree
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.worker import ENV_OWNER

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

#: set in the child's environment: the Celery worker (node name) that runs it
ENV_CELERY_WORKER = "WFSCHED_CELERY_WORKER"


@dataclass
class WorkerContext:
    """What the task needs in a pool process: settings and a store, built once per process."""

    settings: Settings
    store: Store
    database: str  # the database's name: what a task names its database by

    @property
    def interval(self) -> float:
        return float(self.settings.scheduler_option("heartbeat_interval"))

    @property
    def kill_grace(self) -> float:
        return float(self.settings.scheduler_option("kill_grace"))


@lru_cache(maxsize=4)
def worker_context(pid: int) -> WorkerContext:
    """The context of pool process ``pid`` (keyed by pid: a forked pool process must not
    share the database connections of the process it was forked from)."""
    from wfsched_core.app import App
    from wfsched_spawner_celery.celery_app import database_name

    app = App()
    return WorkerContext(app.settings, app.store, database_name(app.settings.database_url))


def run_execution_task(execution_id: int, owner: str, database: str, *,
                       node: str) -> dict[str, Any]:
    """The body of the task ``wfsched.execute``; ``node`` is the Celery worker's name."""
    context = worker_context(os.getpid())
    result: dict[str, Any] = {"execution_id": execution_id, "worker": node, "ran": False}
    if database != context.database:
        log.error("execution %s: refused, the task is for database %r and this worker "
                  "serves %r (check WFSCHED_DATABASE_URL on this host)", execution_id,
                  database, context.database)
        return result
    refusal = _refusal(context, execution_id, owner)
    if refusal:
        log.warning("execution %s: %s; nothing to do (a repeated or out-of-date delivery)",
                    execution_id, refusal)
        return result
    log.info("execution %s: running it in a child process on %s", execution_id, node)
    code = run_in_child(context, execution_id, owner, node)
    log.info("execution %s: its worker %s", execution_id, describe_exit(code))
    return dict(result, ran=True, exit_code=code)


def _refusal(context: WorkerContext, execution_id: int, owner: str) -> str | None:
    """Why the task must not start the execution (None: it may; the child's own
    compare-and-set start still decides)."""
    try:
        execution = context.store.get_execution(execution_id)
    except WfschedError as exc:
        return str(exc)
    except Exception as exc:  # the database away: let the child's start decide (it retries)
        log.warning("execution %s: cannot read it before starting (%s); starting anyway",
                    execution_id, str(exc).splitlines()[0])
        return None
    if execution.status is not ExecutionStatus.PENDING:
        return f"it is already {execution.status.value}"
    if execution.claimed_by != owner:
        return f"it is claimed by scheduler {execution.claimed_by}, not by {owner}"
    return None


def run_in_child(context: WorkerContext, execution_id: int, owner: str, node: str) -> int:
    """Start ``wfsched execute ID`` in a session of its own, wait for it, return its code."""
    settings = context.settings
    env = dict(os.environ)
    env.update({
        "WFSCHED_DATABASE_URL": settings.database_url,
        "WFSCHED_HOME": str(settings.home),
        ENV_OWNER: owner,
        ENV_LOG_CAPTURED: "1",
        ENV_CELERY_WORKER: node,
        "PYTHONUNBUFFERED": "1",
    })
    if settings.config_path is not None:
        env["WFSCHED_CONFIG"] = str(settings.config_path.resolve())
    argv = [sys.executable, "-m", "wfsched_core", "execute", str(execution_id)]
    with open_for_worker(log_path(settings.logs_dir, execution_id)) as log_file:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   close_fds=True)
    return supervise(context, execution_id, process)


def supervise(context: WorkerContext, execution_id: int,
              process: subprocess.Popen[bytes]) -> int:
    """Wait for the child; stop its process tree if its scheduler ended the execution.

    A worker whose execution was ended by the scheduler (timeout, heartbeat lost) records
    nothing more and would run on; it gets ``kill_grace`` plus a heartbeat to finish what
    it was doing (recording its own end, notifying) before it is stopped.
    """
    create_time = process_create_time(process.pid)
    ended_seen: float | None = None
    while True:
        try:
            return process.wait(timeout=context.interval)
        except subprocess.TimeoutExpired:
            pass
        if ended_seen is None:
            status = _status(context, execution_id)
            if status is not None and status.is_final:
                ended_seen = time.monotonic()
        elif time.monotonic() - ended_seen > context.kill_grace + context.interval:
            log.warning("execution %s was ended by its scheduler and its worker (pid %s on "
                        "%s) still runs: stopping its process tree", execution_id,
                        process.pid, hostname())
            stop_process_tree(process.pid, create_time, context.kill_grace)
            return process.wait()


def _status(context: WorkerContext, execution_id: int) -> ExecutionStatus | None:
    try:
        return context.store.get_execution(execution_id).status
    except Exception as exc:  # an outage: look again at the next beat
        log.warning("execution %s: cannot read its status (%s)", execution_id,
                    str(exc).splitlines()[0])
        return None

"""Cancelling an execution from any process (``wfsched cancel``, the web dashboard)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from wfsched_core.base.processes import hostname, is_same_process_alive, stop_process_tree
from wfsched_core.base.status import ExecutionStatus

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import Execution
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store
    from wfsched_core.store.sqlite_direct import SqliteDirectStore

log = logging.getLogger(__name__)


def cancel_execution(store: Store | SqliteDirectStore, hooks: PluginHooks, settings: Settings,
                     execution_id: int) -> Execution:
    """Cancel ``execution_id`` and return it in its final state.

    A pending one is cancelled at once. A running one is flagged; its owner stops it
    (the scheduler, or the worker itself through its heartbeat). If nobody has within a
    deadline and the worker runs on this host, this process stops it itself.
    """
    execution, cancelled_now = store.request_cancel(execution_id)
    if cancelled_now:
        hooks.execution_cancelled(execution)
        return execution
    interval = float(settings.scheduler_option("heartbeat_interval"))
    kill_grace = float(settings.scheduler_option("kill_grace"))
    deadline = time.monotonic() + 2 * interval + kill_grace + 2
    while time.monotonic() < deadline:
        execution = store.get_execution(execution_id)
        if execution.status.is_final:
            return execution
        time.sleep(0.1)  # polling the database for the owner's answer
    return _stop_it_ourselves(store, hooks, execution, kill_grace)


def request_cancel_quietly(store: Store, hooks: PluginHooks, execution_id: int) -> None:
    """Cancel without waiting: pending ones now, running ones by their owner soon."""
    from wfsched_core.base.errors import ExecutionStateError

    try:
        execution, cancelled_now = store.request_cancel(execution_id)
    except ExecutionStateError:
        return  # it ended meanwhile
    if cancelled_now:
        hooks.execution_cancelled(execution)


def _stop_it_ourselves(store: Store | SqliteDirectStore, hooks: PluginHooks, execution: Execution,
                       kill_grace: float) -> Execution:
    handle = execution.worker_handle or {}
    if execution.host == hostname() and is_same_process_alive(execution.pid,
                                                              handle.get("create_time")):
        log.warning("execution %s did not stop by itself; stopping pid %s",
                    execution.id, execution.pid)
        finished = store.finish_execution(execution.id, ExecutionStatus.CANCELLED,
                                          error="cancelled while running")
        stop_process_tree(execution.pid, handle.get("create_time"), kill_grace)  # type: ignore[arg-type]
        if finished is not None:
            hooks.execution_cancelled(finished.execution)
    return store.get_execution(execution.id)

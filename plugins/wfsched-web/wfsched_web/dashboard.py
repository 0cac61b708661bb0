"""What the pages and the API do, in one place: read the store, trigger, cancel, tail logs.

Built from the command's :class:`~wfsched_core.app.App` (settings, hooks, store) and
shared by both front ends, so that a page and its API answer always agree.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from wfsched_core.authoring.secrets import masked_execution, secret_names
from wfsched_core.base.execution_log import log_path
from wfsched_core.base.records import Execution
from wfsched_web.inputs import ExecutionFilter, TriggerRequest, plain_text
from wfsched_web.triage import declared_steps, first_line, search, step_plan

if TYPE_CHECKING:
    from wfsched_core.app import App

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 64 * 1024
LOG_CHUNK_BYTES = 256 * 1024


def execution_json(execution: Execution, *, full: bool = False) -> dict[str, Any]:
    """The contract fields (DESIGN.md) plus what the pages show."""
    data = execution.to_json(full=full)
    data["duration"] = execution.duration
    data["error_line"] = first_line(execution.error)
    if not full:
        data.update(trigger=execution.trigger.value, wait_reason=execution.wait_reason,
                    cancel_requested=execution.cancel_requested)
    return data


class Dashboard:
    """The dashboard's operations over one store."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings
        self.hooks = app.hooks
        self.store = app.store

    @property
    def database(self) -> str:
        """The database URL with its password masked."""
        return self.store.describe()

    # --- reading -----------------------------------------------------------------------

    def workflows(self) -> list[dict[str, Any]]:
        from wfsched_core.ops.workflow_listing import describe_workflows

        return describe_workflows(self.hooks.catalog(), self.store)

    def workflow_names(self) -> list[str]:
        return list(self.hooks.catalog().names)

    def masked(self, execution: Execution) -> Execution:
        """``execution`` with the parameters its workflow marks secret shown as ``***``."""
        return masked_execution(execution, secret_names(self.hooks.catalog(),
                                                        execution.workflow))

    def executions(self, where: ExecutionFilter) -> dict[str, Any]:
        """One page of the executions ``where`` selects: ``executions``, ``total``,
        ``offset``, ``limit``."""
        return search(self, where)

    def execution(self, execution_id: int) -> dict[str, Any]:
        """One execution with everything: error detail, and every step — those recorded,
        then the ones its workflow declares that have not started (``pending``, or
        ``not run`` once it ended). Unknown ids raise."""
        execution = self.masked(self.store.get_execution(execution_id))
        data = execution_json(execution, full=True)
        data["version_line"] = execution.version.line
        data["steps"] = step_plan(execution, self.store.steps(execution_id),
                                  declared_steps(self, execution.workflow))
        return data

    def read_log(self, execution_id: int, offset: int | None) -> dict[str, Any]:
        """A piece of the execution's log: its tail, or what follows ``offset``.

        ``next_offset`` is where the next read should start; it stops at a line end so
        that a line still being written arrives whole on the next read.
        """
        execution = self.store.get_execution(execution_id)  # unknown ids raise
        path = log_path(self.settings.logs_dir, execution_id)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                start = max(0, size - LOG_TAIL_BYTES) if offset is None else min(offset, size)
                handle.seek(start)
                data = handle.read(LOG_CHUNK_BYTES)
        except FileNotFoundError:
            size, start, data = 0, 0, b""
        if offset is None and start > 0 and b"\n" in data:
            cut = data.index(b"\n") + 1  # start the tail at a whole line
            start, data = start + cut, data[cut:]
        at_end = start + len(data) >= size
        if not data.endswith(b"\n") and b"\n" in data and (not at_end or not
                                                           execution.status.is_final):
            data = data[: data.rindex(b"\n") + 1]
        return {
            "execution_id": execution_id,
            "status": execution.status.value,
            "offset": start,
            "next_offset": start + len(data),
            "size": size,
            "text": data.decode("utf-8", errors="replace"),
        }

    def timeline_rows(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.store.recent_started(limit)

    def scheduler_labels(self) -> dict[str, str]:
        """Scheduler id -> ``host pid N`` for the timeline's lane labels."""
        return {row.id: f"{row.host} pid {row.pid}" for row in self.store.list_schedulers()}

    # --- acting ------------------------------------------------------------------------

    def trigger(self, workflow: str, request: TriggerRequest) -> list[int]:
        """Queue executions exactly as ``wfsched trigger`` does; return their ids."""
        from wfsched_core.authoring.flow_limits import key_for_spec
        from wfsched_core.base.status import Trigger

        spec = self.hooks.catalog().get(plain_text("workflow", workflow))
        created = self.store.enqueue(
            workflow, params=request.params,
            priority=spec.priority if request.priority is None else request.priority,
            count=request.count, trigger=Trigger.MANUAL, queue=spec.queue,
            concurrency_key=key_for_spec(spec, request.params))
        for execution in created:
            self.hooks.execution_queued(execution)
        log.info("queued %s execution(s) of %s from the dashboard", len(created), workflow)
        return [e.id for e in created]

    def pause(self, workflow: str, reason: str | None, client: str) -> dict[str, Any]:
        """Pause as ``wfsched pause`` does (by ``web@CLIENT``); the workflow's pause."""
        from wfsched_core.ops.pausing import pause

        name = plain_text("workflow", workflow)
        created, standing = pause(self.store, self.hooks.catalog(), name, False,
                                  plain_text("reason", reason) if reason else None,
                                  paused_by=f"web@{client}")
        log.info("paused %s from the dashboard (%s)", name, client)
        return {"workflow": name, "paused": (created or list(standing.values()))[0].to_json()}

    def resume(self, workflow: str) -> dict[str, Any]:
        """Resume as ``wfsched resume`` does; whether it was paused."""
        from wfsched_core.ops.pausing import resume

        name = plain_text("workflow", workflow)
        resumed = resume(self.store, self.hooks.catalog(), name, False)
        log.info("resumed %s from the dashboard", name)
        return {"workflow": name, "resumed": bool(resumed)}

    def cancel(self, execution_id: int) -> dict[str, Any]:
        """Cancel as ``wfsched cancel`` does; waits for a running one to stop."""
        from wfsched_core.scheduler.cancellation import cancel_execution

        execution = cancel_execution(self.store, self.hooks, self.settings, execution_id)
        return execution_json(self.masked(execution))

"""What the dashboard adds for triage (issue 19): search with a total, every step of an
execution from the start, re-run and retry, a workflow's runs × steps grid, and the
schedulers that are alive.

Functions over a :class:`~wfsched_web.dashboard.Dashboard`, so that the pages and the API
answer alike; every database read is a method of the store (``store/browsing.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from wfsched_core.base.records import Execution, StepRecord, utcnow
from wfsched_core.base.status import ExecutionStatus, Trigger
from wfsched_core.store.browsing import ExecutionSearch

if TYPE_CHECKING:
    from wfsched_web.dashboard import Dashboard
    from wfsched_web.inputs import ExecutionFilter

log = logging.getLogger(__name__)

#: a declared step that has not started: ``pending`` while the execution may still reach
#: it, ``not run`` once it ended without doing so
STEP_PENDING = "pending"
STEP_NOT_RUN = "not run"
GRID_RUNS = 25
RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


def first_line(text: str | None) -> str | None:
    """The first non-empty line of an error, for a row of the list."""
    if not text:
        return None
    return next((line.strip() for line in text.splitlines() if line.strip()), None)


def search(dashboard: Dashboard, where: ExecutionFilter) -> dict[str, Any]:
    """One page of executions matching ``where``, with the total that match."""
    from wfsched_web.dashboard import execution_json

    found = dashboard.store.search_executions(ExecutionSearch(
        status=where.status, workflow=where.workflow, text=where.text,
        text_skips=workflows_with_secrets(dashboard), created_from=where.since,
        created_to=where.until, limit=where.limit, offset=where.offset))
    return {"executions": [execution_json(dashboard.masked(e)) for e in found.executions],
            "total": found.total, "offset": found.offset, "limit": found.limit}


def workflows_with_secrets(dashboard: Dashboard) -> frozenset[str]:
    """Workflows that declare ``secret_params``: a text search must not look into their
    parameters, or it would tell whether a hidden value holds the text."""
    try:
        specs = dashboard.hooks.catalog().all()
    except Exception:  # noqa: BLE001 - a broken catalog must not break the list
        log.warning("cannot read the catalog for secret parameters", exc_info=True)
        return frozenset()
    return frozenset(name for name, spec in specs.items() if spec.secret_params)


def declared_steps(dashboard: Dashboard, workflow: str) -> list[str]:
    """The steps the workflow's class declares, in order; none if it is not installed."""
    spec = dashboard.hooks.catalog().find(workflow)
    if spec is None:
        return []
    try:
        return spec.step_names
    except Exception:  # noqa: BLE001 - a class whose steps cannot be read shows none
        return []


def step_plan(execution: Execution, recorded: list[StepRecord],
              declared: list[str]) -> list[dict[str, Any]]:
    """Every step: those recorded, then the declared ones not reached yet (greyed)."""
    steps = [step.to_json() for step in recorded]
    seen = {step.name for step in recorded}
    waiting = STEP_NOT_RUN if execution.status.is_final else STEP_PENDING
    position = max((step.position for step in recorded), default=0)
    for name in declared:
        if name in seen:
            continue
        position += 1
        steps.append({"position": position, "name": name, "status": waiting,
                      "started_at": None, "finished_at": None, "duration": None,
                      "error": None, "result": None})
    return steps


def rerun(dashboard: Dashboard, execution_id: int) -> dict[str, Any]:
    """Queue the execution again with its own parameters, priority and queue.

    A failed or cancelled one is retried: the new execution is its next attempt and names
    it in ``retry_of``. A completed one is run afresh (attempt 1). An execution still
    pending or running cannot be re-run (409): that would run the same work twice at once.
    """
    from wfsched_core.base.errors import ExecutionStateError

    source = dashboard.store.get_execution(execution_id)  # unknown ids raise
    if not source.status.is_final:
        raise ExecutionStateError(f"execution {execution_id} is {source.status.value}; "
                                  "re-run it once it has finished (or cancel it first)")
    spec = dashboard.hooks.catalog().get(source.workflow)  # unknown or broken: 404
    retry = source.status in RETRYABLE
    (created,) = dashboard.store.enqueue(
        source.workflow, params=source.params, priority=source.priority,
        trigger=Trigger.MANUAL, queue=source.queue if source.queue is not None else spec.queue,
        attempt=source.attempt + 1 if retry else 1, retry_of=source.id if retry else None)
    dashboard.hooks.execution_queued(created)
    log.info("%s execution %s of %s from the dashboard as %s",
             "retried" if retry else "re-ran", execution_id, source.workflow, created.id)
    return {"id": created.id, "retry_of": created.retry_of, "attempt": created.attempt,
            "source": execution_id}


def grid(dashboard: Dashboard, workflow: str, limit: int = GRID_RUNS) -> dict[str, Any]:
    """The last ``limit`` runs of ``workflow`` (oldest first) × its steps, as Airflow's
    grid view: each cell is a step's status in one run."""
    spec = dashboard.hooks.catalog().get(workflow)  # unknown or broken: 404
    page = dashboard.store.search_executions(ExecutionSearch(workflow=workflow, limit=limit))
    runs = list(reversed(page.executions))
    recorded = dashboard.store.steps_of([run.id for run in runs])
    names = list(spec.step_names)
    for run in runs:  # steps recorded under names the class no longer declares
        names.extend(s.name for s in recorded[run.id] if s.name not in names)
    columns = []
    for run in runs:
        plan = step_plan(run, recorded[run.id], names)
        columns.append({
            "id": run.id, "status": run.status.value, "attempt": run.attempt,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "duration": run.duration, "error": first_line(run.error),
            "steps": {step["name"]: step["status"] for step in plan}})
    return {"workflow": workflow, "steps": names, "runs": columns, "total": page.total}


def schedulers(dashboard: Dashboard) -> list[dict[str, Any]]:
    """Registered schedulers that have not signed off, newest first, each with its state
    (``live`` while its heartbeat is fresh, else ``dead``), slots and running count."""
    timeout = float(dashboard.settings.scheduler_option("heartbeat_timeout"))
    now = utcnow()
    running = dashboard.store.running_by_owner()
    rows = []
    for row in dashboard.store.list_schedulers(active_only=True, limit=100):
        age = (now - row.heartbeat_at).total_seconds()
        rows.append(dict(row.to_json(), state="live" if age <= timeout else "dead",
                         heartbeat_age=round(max(age, 0.0), 1), slots=row.max_concurrent,
                         running=running.get(row.id, 0)))
    return rows

"""What ``wfsched workflows show NAME`` gathers about one workflow, in one place.

Its ``workflows list`` entry, and: every attribute as resolved (class, then
``wfsched.toml``), the next runs in UTC and in its timezone, its limits, its pause, how
many executions are pending and running, and the most recent ones.
"""

from __future__ import annotations

import dataclasses
from datetime import timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.store.contract import Store

NEXT_RUNS = 5
# limits that a workflow may carry, the later ones from issue 17 (read when present)
LIMIT_NAMES = ("concurrency", "concurrency_key", "concurrency_per_key", "rate_limit",
               "timeout", "start_deadline", "memory")
_NOT_ATTRIBUTES = {"cls", "source", "extra"}


def describe_workflow(catalog: Catalog, store: Store | None, name: str,
                      recent: int = 10) -> dict[str, Any]:
    """The JSON-ready view of ``name`` (an unknown name: UnknownWorkflowError)."""
    from wfsched_core.authoring.secrets import masked_execution
    from wfsched_core.ops.workflow_listing import workflow_entry

    broken = catalog.broken.get(name)
    spec = None if broken else catalog.get(name)
    rows = store.workflow_rows() if store is not None else {}
    pause = store.paused_workflows().get(name) if store is not None else None
    entry = workflow_entry(name, spec, rows.get(name), broken, pause)
    entry["attributes"] = attributes(spec) if spec else {}
    entry["limits"] = {key: entry["attributes"].get(key) for key in LIMIT_NAMES
                       if entry["attributes"].get(key) is not None}
    if "concurrency_key" not in entry["limits"]:  # a per-key limit without a key limits nothing
        entry["limits"].pop("concurrency_per_key", None)
    entry["next_runs"] = next_runs(spec) if spec else []
    counts = store.workflow_status_counts(name) if store is not None else {}
    entry["pending"] = counts.get("pending", 0)
    entry["running"] = counts.get("running", 0)
    executions = store.list_executions(workflow=name, limit=recent) if store else []
    secrets = spec.secret_params if spec else ()
    entry["recent_executions"] = [
        dict(masked_execution(e, secrets).to_json(), trigger=e.trigger.value,
             scheduled_for=isoformat(e.scheduled_for), wait_reason=e.wait_reason)
        for e in executions]
    return entry


def attributes(spec: WorkflowSpec) -> dict[str, Any]:
    """Every attribute of ``spec`` as the scheduler uses it, JSON-ready."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(spec):
        if item.name not in _NOT_ATTRIBUTES:
            values[item.name] = _plain(getattr(spec, item.name))
    for key, value in spec.extra.items():
        values.setdefault(key, _plain(value))
    return values


def next_runs(spec: WorkflowSpec, count: int = NEXT_RUNS) -> list[dict[str, str | None]]:
    """The schedule's next ``count`` ticks, in UTC and in the workflow's timezone."""
    from wfsched_core.authoring.schedule import next_tick

    if not spec.schedule:
        return []
    zone = ZoneInfo(spec.timezone)
    runs = []
    tick = utcnow()
    for _ in range(count):
        tick = next_tick(spec.schedule, spec.timezone, tick)
        local = tick.replace(tzinfo=timezone.utc).astimezone(zone)
        runs.append({"at": isoformat(tick), "local": local.isoformat(timespec="minutes")})
    return runs


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return repr(value) if not callable(value) else getattr(value, "__qualname__", repr(value))

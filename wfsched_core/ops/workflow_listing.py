"""What ``workflows list`` shows of each workflow (also used by the web dashboard)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import BrokenWorkflow, Catalog
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.pauses import Pause
    from wfsched_core.base.records import WorkflowRow
    from wfsched_core.store.contract import Store


def describe_workflows(catalog: Catalog, store: Store | None,
                       spawners: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One JSON-ready entry per workflow, broken ones included (with ``broken`` set; an
    announcement that lost its name to another distribution as ``NAME (DISTRIBUTION)``);
    without a store (no database yet), nothing has run. With ``spawners`` (the installed
    strategies), a workflow naming another one is flagged: it could not start."""
    specs = catalog.all()
    rows = store.workflow_rows() if store is not None else {}
    paused = store.paused_workflows() if store is not None else {}
    return [workflow_entry(name, specs.get(name), rows.get(name), catalog.broken.get(name),
                           paused.get(name), spawners) for name in catalog.rows]


def workflow_entry(name: str, spec: WorkflowSpec | None, row: WorkflowRow | None,
                   broken: BrokenWorkflow | None, pause: Pause | None,
                   spawners: Collection[str] | None = None) -> dict[str, Any]:
    """One workflow's entry of ``workflows list`` (``workflows show`` adds to it)."""
    from wfsched_core.authoring.flow_limits import limits_json
    from wfsched_core.authoring.schedule import describe_schedule, next_tick

    return {
        "name": name,
        "description": spec.description if spec else None,
        "schedule": spec.schedule if spec else None,
        "schedule_text": describe_schedule(spec.schedule) if spec and spec.schedule
        else "manual",
        "timezone": spec.timezone if spec else None,
        "next_run": isoformat(next_tick(spec.schedule, spec.timezone, utcnow()))
        if spec and spec.schedule else None,
        "priority": spec.priority if spec else None,
        "retries": spec.retries if spec else None,
        "timeout": spec.timeout if spec else None,
        "queue": spec.queue if spec else None,
        "spawner": spec.spawner if spec else None,
        "depends_on": list(spec.depends_on) if spec else [],
        **limits_json(spec),
        "steps": spec.step_names if spec else [],
        "source": spec.source if spec else (broken.source if broken else None),
        "last_executed": isoformat(row.last_executed) if row else None,
        "last_status": row.last_status if row else None,
        "broken": broken.reason if broken else _spawner_problem(spec, spawners),
        "paused": pause.to_json() if pause else None,  # reason, paused_by, paused_at
    }


def _spawner_problem(spec: WorkflowSpec | None, spawners: Collection[str] | None,
                     ) -> str | None:
    if spec is None or spawners is None or not spec.spawner or spec.spawner in spawners:
        return None
    return (f"spawner {spec.spawner!r} is not installed (installed: "
            f"{', '.join(sorted(spawners))}); its executions could not start")

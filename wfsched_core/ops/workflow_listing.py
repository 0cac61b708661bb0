"""What ``workflows list`` shows of each workflow (also used by the web dashboard)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfsched_core.base.records import isoformat, utcnow

if TYPE_CHECKING:
    from wfsched_core.authoring.catalog import Catalog
    from wfsched_core.store import SqlStore


def describe_workflows(catalog: Catalog, store: SqlStore | None) -> list[dict[str, Any]]:
    """One JSON-ready entry per workflow, broken ones included (with ``broken`` set);
    without a store (no database yet), nothing has run."""
    from wfsched_core.authoring.flow_limits import limits_json
    from wfsched_core.authoring.schedule import describe_schedule, next_tick

    specs = catalog.all()
    rows = store.workflow_rows() if store is not None else {}
    entries = []
    for name in catalog.names:
        spec = specs.get(name)
        row = rows.get(name)
        broken = catalog.broken.get(name)
        entry: dict[str, Any] = {
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
            "broken": broken.reason if broken else None,
        }
        entries.append(entry)
    return entries

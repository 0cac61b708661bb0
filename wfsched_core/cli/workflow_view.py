"""``workflows show`` as text: the entry of ``ops/workflow_detail.py``, in sections."""

from __future__ import annotations

from typing import Any

import click

from wfsched_core.cli.output import echo_table


def echo_workflow(entry: dict[str, Any]) -> None:
    """Print one workflow's view: what it is, when it runs, what limits it, what ran."""
    line = _line
    line("name", entry["name"])
    line("description", entry["description"])
    if entry["broken"]:
        line("BROKEN", entry["broken"])
    line("source", entry["source"])
    pause = entry["paused"]
    if pause:
        line("PAUSED", pause_text(pause))
    schedule = entry["schedule"]
    line("schedule", f"{entry['schedule_text']} ({schedule}, {entry['timezone']})"
         if schedule else "manual")
    line("steps", ", ".join(entry["steps"]))
    line("depends on", ", ".join(entry["depends_on"]))
    line("pending", entry["pending"])
    line("running", entry["running"])
    if entry["next_runs"]:
        click.echo("next runs:" + ("  (not while paused)" if pause else ""))
        for run in entry["next_runs"]:
            click.echo(f"  {run['local']}  ({run['at']})")
    if entry["limits"]:
        click.echo("limits:")
        for key, value in entry["limits"].items():
            click.echo(f"  {key + ':':<20} {value}")
    click.echo("attributes:")
    for key, value in entry["attributes"].items():
        if key not in entry["limits"] and value not in (None, [], {}, ""):
            click.echo(f"  {key + ':':<20} {value}")
    click.echo("recent executions:")
    rows = entry["recent_executions"]
    if not rows:
        click.echo("  none")
        return
    echo_table(["ID", "STATUS", "TRIGGER", "CREATED", "FINISHED", "ERROR"],
               [[e["id"], e["status"], e.get("trigger"), e["created_at"], e["finished_at"],
                 e["error"]] for e in rows])


def _line(key: str, value: Any) -> None:
    if value not in (None, ""):
        click.echo(f"{key + ':':<13} {value}")


def pause_text(pause: dict[str, Any]) -> str:
    """``by user@host since TIME: reason`` of a pause's JSON."""
    why = f": {pause['reason']}" if pause["reason"] else ""
    return f"by {pause['paused_by']} since {pause['paused_at']}{why}"

"""Flow control a person types: ``pause``, ``resume`` and ``backfill``."""

from __future__ import annotations

import click

from wfsched_core.app import App
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import echo_json, echo_table

pass_app = click.make_pass_decorator(App)


@cli.command()
@click.argument("workflow", required=False)
@click.option("--all", "every", is_flag=True, help="Pause every workflow (maintenance).")
@click.option("--reason", metavar="TEXT", help="Why: shown wherever its work is listed.")
@pass_app
def pause(app: App, workflow: str | None, every: bool, reason: str | None) -> None:
    """Pause WORKFLOW on every scheduler: its schedule queues nothing and its pending
    executions wait; running ones finish. Lasts until 'wfsched resume'."""
    from wfsched_core.ops.pausing import pause as pause_workflows

    created, standing = pause_workflows(app.store, app.hooks.catalog(), workflow, every,
                                        reason)
    for item in created:
        click.echo(f"paused {item.workflow}")
    for item in standing.values():
        click.echo(f"{item.workflow} was already {item.note}")


@cli.command()
@click.argument("workflow", required=False)
@click.option("--all", "every", is_flag=True, help="Resume every paused workflow.")
@pass_app
def resume(app: App, workflow: str | None, every: bool) -> None:
    """Resume WORKFLOW: its pending executions may start, its schedule queues again
    from the next tick (ticks of the pause: 'wfsched backfill')."""
    from wfsched_core.ops.pausing import resume as resume_workflows

    resumed = resume_workflows(app.store, app.hooks.catalog(), workflow, every)
    for name in resumed:
        click.echo(f"resumed {name}")
    if not resumed:
        click.echo(f"{workflow} is not paused" if workflow else "no workflow is paused")


@cli.command()
@click.argument("workflow")
@click.option("--from", "start", required=True, metavar="DATE",
              help="First day (YYYY-MM-DD) or instant (YYYY-MM-DDTHH:MM), in the "
                   "workflow's timezone unless an offset is given.")
@click.option("--to", "end", required=True, metavar="DATE",
              help="Last day, included (or an instant, included).")
@click.option("--dry-run", is_flag=True, help="List the ticks; queue nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def backfill(app: App, workflow: str, start: str, end: str, dry_run: bool,
             as_json: bool) -> None:
    """Queue one execution per schedule tick of WORKFLOW in a past window that has none.

    Running it twice queues nothing twice: a tick with a row (run, queued or skipped) is
    left as it is. The runs are ordinary pending executions: the workflow's limits,
    priority, queue and any pause apply to them as to any other."""
    from wfsched_core.ops.backfill import plan_backfill, run_backfill

    if not dry_run:
        app.creates_database = True
    spec = app.hooks.catalog().get(workflow)
    plan = plan_backfill(app.store, spec, start, end)
    ticks = plan.ticks if dry_run else run_backfill(app.store, app.hooks, spec, plan)
    if as_json:
        echo_json({"workflow": spec.name, "timezone": spec.timezone, "dry_run": dry_run,
                   "ticks": [t.to_json() for t in ticks], "note": plan.note})
        return
    echo_table(["TICK (LOCAL)", "TICK (UTC)", "EXECUTION"],
               [[t.local, t.utc_text, t.outcome(dry_run)] for t in ticks])
    queued = sum(1 for t in ticks if t.queued_id is not None)
    missing = sum(1 for t in ticks if t.existing is None)
    click.echo(f"{len(ticks)} tick(s) in the window; "
               + (f"{missing} would be queued (dry run)" if dry_run else f"{queued} queued"))
    if plan.note:
        click.echo(plan.note)

"""``wfsched prune``: remove old finished executions and their log files."""

from __future__ import annotations

import click

from wfsched_core.app import App
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import echo_json

pass_app = click.make_pass_decorator(App)


@cli.command()
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Finished more than this long ago: 30d, 12h, 2w, 90m, 45s.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def prune(app: App, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Remove completed, failed and cancelled executions, their steps and log files.

    Pending and running executions are never removed. Works in short batches, so a
    running scheduler is never locked out.
    """
    from wfsched_core.base.ages import parse_age
    from wfsched_core.ops.retention import prune_finished

    age = parse_age(older_than)
    result = prune_finished(app.store, app.settings.logs_dir, age, dry_run=dry_run)
    if as_json:
        echo_json(result.to_json())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {result.executions} execution(s) finished before "
               f"{result.cutoff.isoformat(timespec='seconds')}Z, {result.steps} step(s), "
               f"{result.log_files} log file(s) ({result.log_bytes} bytes)")
    if result.execution_ids:
        ids = result.execution_ids
        shown = ", ".join(str(i) for i in ids[:20]) + (f", ... ({len(ids) - 20} more)"
                                                      if len(ids) > 20 else "")
        click.echo(f"ids: {shown}")

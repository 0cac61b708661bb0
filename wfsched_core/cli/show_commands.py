"""Read-only commands: ``workflows list``, ``executions list|show``, ``logs``, ``plugins list``."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from wfsched_core.app import App
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.cli import colours, option_types
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import duration, echo_json, echo_table

pass_app = click.make_pass_decorator(App)
STATUS_CHOICE = click.Choice([s.value for s in ExecutionStatus])


@cli.group()
def workflows() -> None:
    """The workflows installed packages provide."""


@workflows.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def workflows_list(app: App, as_json: bool) -> None:
    """Every workflow: description, schedule, last run; broken ones with the reason."""
    from wfsched_core.ops.workflow_listing import describe_workflows
    from wfsched_core.store.db.engine import missing_sqlite_file

    # what is installed is worth showing before anything ran: no database yet is no
    # history yet (and reading never creates one)
    store = None if missing_sqlite_file(app.settings.database_url) else app.store
    entries = describe_workflows(app.hooks.catalog(), store, app.hooks.spawner_factories())
    if as_json:
        echo_json(entries)
        return
    echo_table(
        ["NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "LAST STATUS", "DESCRIPTION"],
        [[e["name"], e["schedule_text"], "paused" if e["paused"] else e["next_run"],
          e["last_executed"], e["last_status"], _description_cell(e)] for e in entries],
    )
    from wfsched_core.cli.workflow_view import pause_text

    below = [e for e in entries if e["broken"] or e["paused"]]
    if below:  # the table cuts long cells at 60: each reason in full (a file and line)
        click.echo()
    for entry in below:
        if entry["broken"]:
            click.echo(f"{entry['name']}: {entry['broken']}")
        else:
            click.echo(f"paused: {entry['name']} {pause_text(entry['paused'])}")


def _description_cell(entry: dict[str, Any]) -> str | None:
    """The description, or why the workflow does not run: broken, or paused."""
    if entry["broken"]:
        return f"BROKEN: {entry['broken']}"
    pause = entry["paused"]
    if pause:
        return f"PAUSED: {pause['reason']}" if pause["reason"] else "PAUSED"
    return entry["description"]


@workflows.command("show")
@click.argument("workflow")
@click.option("--recent", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many of its latest executions to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def workflows_show(app: App, workflow: str, recent: int, as_json: bool) -> None:
    """One workflow: attributes, schedule in words, next runs, limits, pause, recent runs."""
    from wfsched_core.cli.workflow_view import echo_workflow
    from wfsched_core.ops.workflow_detail import describe_workflow
    from wfsched_core.store.db.engine import missing_sqlite_file

    store = None if missing_sqlite_file(app.settings.database_url) else app.store
    entry = describe_workflow(app.hooks.catalog(), store, workflow, recent)
    if as_json:
        echo_json(entry)
        return
    echo_workflow(entry)


@cli.group()
def executions() -> None:
    """Executions: what ran, runs and waits."""


@executions.command("list")
@click.option("--status", type=STATUS_CHOICE, help="Only executions in this status.")
@click.option("--workflow", type=option_types.WORKFLOW, help="Only executions of this workflow.")
@click.option("--since", type=option_types.SINCE, metavar="WHEN",
              help="Only executions created since WHEN: an age (2h, 30d) or an ISO date "
                   "or time (2026-12-01, 2026-12-01T08:00; UTC unless it says otherwise).")
@click.option("--overdue", is_flag=True,
              help="Only executions past their workflow's deadline (marked OVERDUE).")
@click.option("--version", "version",
              help="Only executions run by this workflow package version: NAME==VERSION "
                   "or a bare VERSION.")
@click.option("--limit", type=option_types.LIMIT, default=50, show_default=True)
@click.option("--offset", type=option_types.OFFSET, default=0, show_default=True,
              help="Skip this many of the newest first (the next page: --offset 50).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (contract fields).")
@pass_app
def executions_list(app: App, status: str | None, workflow: str | None, since: Any,
                    overdue: bool, version: str | None, limit: int, offset: int,
                    as_json: bool) -> None:
    """The newest executions first; a line on stderr says which of how many are shown."""
    store = app.quick_store
    rows = store.list_executions(status=status, workflow=workflow, since=since, limit=limit,
                                 offset=offset, overdue=overdue, version=version)
    if as_json:
        from wfsched_core.authoring.secrets import masked_execution, secret_names

        catalog = app.hooks.catalog()
        echo_json([masked_execution(e, secret_names(catalog, e.workflow)).to_json()
                   for e in rows])
        return
    echo_table(
        ["ID", "WORKFLOW", "STATUS", "TRIGGER", "ATTEMPT", "PRIO", "CREATED", "DURATION",
         "HOST", "PID", "NOTE"],
        [[e.id, e.workflow, e.status.value, e.trigger.value, e.attempt, e.priority,
          e.created_at, duration(e.duration), e.host, e.pid,
          _note(e)] for e in rows],
        styles={2: colours.status},
    )
    total = store.count_executions(status=status, workflow=workflow, since=since,
                                   overdue=overdue, version=version)
    click.echo(page_summary(len(rows), offset, limit, total), err=True)


def page_summary(shown: int, offset: int, limit: int, total: int) -> str:
    """``showing 50 of 10,000 (newest first; next: --offset 50)``."""
    if not shown:
        return f"showing none of {total:,}" + (f" (--offset {offset})" if offset else "")
    where = f"{offset + 1:,}-{offset + shown:,}" if offset else f"{shown:,}"
    text = f"showing {where} of {total:,}"
    if offset + shown < total:
        text += f" (newest first; next: --offset {offset + limit})"
    return text


def _note(execution: Any) -> str | None:
    """The NOTE column: overdue first (what needs a look), then the error or the wait."""
    note = execution.error or (f"waiting: {execution.wait_reason}"
                               if execution.wait_reason else None)
    if execution.overdue_at is not None:
        return "OVERDUE" + (f"; {note}" if note else "")
    return note


@executions.command("show")
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def executions_show(app: App, execution_id: int, as_json: bool) -> None:
    """One execution with its steps."""
    from wfsched_core.authoring.secrets import masked_execution, secret_names
    from wfsched_core.base.execution_log import log_path

    execution = app.quick_store.get_execution(execution_id)
    execution = masked_execution(execution, secret_names(app.hooks.catalog(),
                                                         execution.workflow))
    steps = app.quick_store.steps(execution_id)
    data: dict[str, Any] = execution.to_json(full=True)
    data["steps"] = [s.to_json() for s in steps]
    data["log"] = str(log_path(app.settings.logs_dir, execution_id))
    if as_json:
        echo_json(data)
        return
    for key in ("id", "workflow", "status", "trigger", "attempt", "retry_of", "triggered_by",
                "rerun_of", "resume_from", "priority", "params", "concurrency_key", "created_at",
                "not_before", "started_at", "finished_at", "host", "pid", "spawner",
                "claimed_by", "exit_code", "error", "wait_reason", "waiting_since",
                "approvers", "overdue_at", "log"):
        if data.get(key) not in (None, {}, ""):
            value = colours.status(data[key]) if key == "status" else data[key]
            click.echo(f"{key + ':':<12} {value}")
    if execution.approval:
        click.echo(f"{'approval:':<12} {execution.approval} by {execution.approval_by} at "
                   f"{data['approval_at']} (step {execution.approval_step})"
                   + (f": {execution.approval_comment}" if execution.approval_comment else ""))
    click.echo(f"{'duration:':<13}{duration(execution.duration)}")
    if execution.version.line:
        click.echo(f"{'version:':<12} {execution.version.line}")
    if steps:
        click.echo("steps:")
        for s in steps:
            padding = " " * max(0, 10 - len(s.status.value))
            click.echo(f"  {s.position}. {s.name:<20} {colours.status(s.status.value)}{padding} "
                       f"{duration(s.duration):>8}  {s.error or ''}".rstrip())
    if execution.error_detail:
        click.echo("traceback:")
        click.echo(execution.error_detail.rstrip())


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the execution ends.")
@pass_app
def logs(app: App, execution_id: int, follow: bool) -> None:
    """Print the log of an execution."""
    from wfsched_core.base.execution_log import log_path

    execution = app.quick_store.get_execution(execution_id)  # unknown id: a clear error
    path = log_path(app.settings.logs_dir, execution_id)
    position = 0
    while True:
        position = _copy_new_output(path, position)
        if not follow or execution.status.is_final:
            break
        time.sleep(0.25)  # following a file: nothing to wait on but time
        execution = app.quick_store.get_execution(execution_id)
    _copy_new_output(path, position)
    if not path.exists():
        from wfsched_core.base.log_reading import missing_log_error

        raise missing_log_error(execution, path)


def _copy_new_output(path: Any, position: int) -> int:
    try:
        with open(path, "rb") as handle:
            handle.seek(position)
            data = handle.read()
    except FileNotFoundError:
        return position
    if data:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return position + len(data)


@cli.group()
def plugins() -> None:
    """The plugins wfsched loaded (built-in and installed)."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def plugins_list(app: App, as_json: bool) -> None:
    """Every plugin with its distribution, version, hooks, origin and any error."""
    infos = app.plugin_manager.plugin_infos() + _refused_workflows(app)
    if as_json:
        echo_json([i.to_json() for i in infos])
        return
    echo_table(
        ["NAME", "DISTRIBUTION", "VERSION", "SOURCE", "HOOKS / ERROR"],
        [[i.name, i.distribution, i.version, i.source,
          "BLOCKED" if i.blocked else (f"ERROR: {i.error}" if i.error
                                       else f"SKIPPED: {i.skipped['detail']}" if i.skipped
                                       else ", ".join(h.removeprefix("wfsched_") for h in i.hooks))]
         for i in infos],
    )


def _refused_workflows(app: App) -> list[Any]:
    """A row per workflow announcement refused by the name rule (several distributions
    announce one name): the distribution is what the user must act on."""
    from importlib import metadata

    from wfsched_core.base.errors import WfschedError
    from wfsched_core.framework.plugin_manager import PluginInfo

    try:
        refused = app.hooks.catalog().refused
    except WfschedError:  # a configuration error: `workflows list` reports it
        return []
    rows = []
    for announcement, reason in refused:
        try:
            version = metadata.version(announcement.distribution)
        except metadata.PackageNotFoundError:
            version = None
        rows.append(PluginInfo(name=f"workflow {announcement.name}", version=version,
                               distribution=announcement.distribution,
                               source=announcement.source, error=reason))
    return rows


@cli.group()
def schedulers() -> None:
    """The scheduler processes registered in the database."""


@schedulers.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include schedulers that stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def schedulers_list(app: App, show_all: bool, as_json: bool) -> None:
    """Schedulers, live or dead: id, host, pid, start, heartbeat, version."""
    from wfsched_core.base.records import utcnow

    timeout = float(app.settings.scheduler_option("heartbeat_timeout"))
    rows = app.store.list_schedulers(active_only=not show_all)
    now = utcnow()

    def state(row: Any) -> str:
        if row.stopped_at is not None:
            return "stopped"
        return "live" if (now - row.heartbeat_at).total_seconds() <= timeout else "dead"

    if as_json:
        echo_json([dict(r.to_json(), state=state(r)) for r in rows])
        return
    echo_table(["ID", "STATE", "HOST", "PID", "STARTED", "HEARTBEAT", "VERSION", "MAX"],
               [[r.id, state(r), r.host, r.pid, r.started_at, r.heartbeat_at, r.version,
                 r.max_concurrent] for r in rows])

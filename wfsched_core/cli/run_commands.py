"""``wfsched scheduler`` (the daemon) and ``wfsched execute`` (the worker)."""

from __future__ import annotations

import click

from wfsched_core.app import App
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import duration

pass_app = click.make_pass_decorator(App)


@cli.command()
@click.option("--max-concurrent", type=option_types.MAX_CONCURRENT_TYPE, default=None,
              help="Workers at once on this scheduler (default 5).")
@click.option("--once", is_flag=True,
              help="Run what can run (and what becomes runnable meanwhile), then exit (for "
                   "cron): 0 if every execution completed, 1 if one failed, 3 if only held "
                   "work is left (each listed with its reason).")
@click.option("--wait-held", type=option_types.WAIT_HELD, default=0.0, metavar="SECONDS",
              help="With --once: wait up to this long for holds to lift once only held "
                   "work is left (default 0).")
@click.option("--allow-held", is_flag=True,
              help="With --once: exit 0, not 3, when only held work is left.")
@click.option("--lock-file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="With --once: hold this lock for the run; while another run holds it, "
                   "say so and exit 0 (for cron: a busy minute is skipped, not failed).")
@click.option("--spawner", default=None, help="Spawn strategy (default: local).")
@click.option("--poll-interval", type=option_types.POLL_INTERVAL, default=None,
              help="Seconds between looks at the database when idle (default 2).")
@click.option("--grace-period", type=option_types.GRACE_PERIOD, default=None,
              help="Seconds running workers get to finish after SIGTERM (default 30).")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Claim only executions of this queue (repeatable; 'default' is the "
                   "unnamed queue). Without it: every queue.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Prometheus metrics on this port (needs wfsched-core[metrics]).")
@click.option("--metrics-address", default="127.0.0.1", show_default=True, metavar="ADDR",
              help="Address the metrics server binds (0.0.0.0: every interface).")
@pass_app
def scheduler(app: App, max_concurrent: int | None, once: bool, wait_held: float,
              allow_held: bool, lock_file: str | None, spawner: str | None,
              poll_interval: float | None, grace_period: float | None,
              queues: tuple[str, ...], metrics_port: int | None, metrics_address: str) -> int:
    """Claim pending executions and run each in its own worker process."""
    from wfsched_core.scheduler import Scheduler, SchedulerOptions

    if lock_file is not None:
        if not once:
            raise click.UsageError("--lock-file needs --once (it keeps cron runs apart)")
        holder = _hold_once_lock(lock_file)
        if holder is not None:
            click.echo(f"wfsched scheduler --once: skipped: the previous run still holds "
                       f"{lock_file} ({holder})", err=True)
            return 0
    app.creates_database = True
    options = SchedulerOptions.from_settings(
        app.settings, max_concurrent=max_concurrent, once=once, spawner=spawner,
        poll_interval=poll_interval, grace_period=grace_period, wait_held=wait_held,
        queues=[None if q == "default" else q for q in queues] or None)
    if int(options.max_concurrent) < 1:
        raise click.BadParameter("must be at least 1", param_hint="--max-concurrent")
    runner = Scheduler(app.store, app.hooks, app.settings, options)
    if metrics_port is not None:
        from wfsched_core.ops.metrics import start_metrics_server

        start_metrics_server(app.plugin_manager, app.store, metrics_port, metrics_address,
                             settings=app.settings)
    if once:
        from wfsched_core.cli.once_progress import once_progress, side_by_side_note

        with once_progress(runner):
            summary = runner.run()
    else:
        summary = runner.run()
    if once:
        from wfsched_core.base.status import ExecutionStatus as S

        total = len(summary.outcomes)
        wall = summary.wall_seconds
        line = (f"ran {total} execution(s): {summary.count(S.COMPLETED)} completed, "
                f"{summary.count(S.FAILED)} failed, {summary.count(S.CANCELLED)} cancelled"
                + (f", {len(summary.retried)} retried" if summary.retried else "")
                + (f", {summary.count(S.WAITING)} waiting for approval"
                   if summary.count(S.WAITING) else "")
                + f" in {duration(wall)}")
        line += side_by_side_note(summary.busy_seconds, wall)
        click.echo(line)
        for execution_id, workflow, reason in summary.held:
            click.echo(f"held: {workflow} #{execution_id}: {reason}")
        if not summary.all_completed:
            return 1
        return EXIT_HELD if summary.held and not allow_held else 0
    return 0


def _hold_once_lock(path: str) -> str | None:
    """Take ``--lock-file`` for the rest of this process; who holds it, if taken."""
    import os
    import socket
    from datetime import datetime, timezone
    from pathlib import Path

    from wfsched_core.base.file_lock import HeldFileLock

    lock = HeldFileLock(Path(path))
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    holder = lock.try_acquire(f"pid {os.getpid()} on {socket.gethostname()}, since {since}")
    click.get_current_context().call_on_close(lock.release)  # held until the command ends
    return holder


# ``scheduler --once`` left pending executions that are held back (admission, a retry's
# backoff ending later than 10 s, a queue not served, a workflow not installed here or
# broken): distinct from 1, a failed execution.
EXIT_HELD = 3


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@pass_app
def execute(app: App, execution_id: int) -> int:
    """Run one execution in this process, writing to the database (what the detached,
    container and remote spawners start for each)."""
    from wfsched_core.base.errors import DatabaseError
    from wfsched_core.store.dbretry import with_database_retry
    from wfsched_core.worker import EXIT_NOT_STARTED, START_PATIENCE
    from wfsched_core.worker.direct import run_execution
    from wfsched_core.worker.runner import NotStarted

    try:
        # connecting and the schema check ride out a short outage like the start does
        store = with_database_retry(lambda: app.store, f"start execution {execution_id}",
                                    give_up_after=START_PATIENCE)
        return run_execution(execution_id, store, app.hooks, app.settings)
    except (DatabaseError, NotStarted) as exc:
        click.echo(f"wfsched: error: execution {execution_id} not started, given back to "
                   f"the queue: {exc}", err=True)
        return EXIT_NOT_STARTED

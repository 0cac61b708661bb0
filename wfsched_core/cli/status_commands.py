"""``wfsched status``: live schedulers, running executions, queue depth, recent failures."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from wfsched_core.app import App
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import duration, echo_json

if TYPE_CHECKING:
    from wfsched_core.base.config import Settings
    from wfsched_core.store.contract import Store

pass_app = click.make_pass_decorator(App)

CLEAR_AND_HOME = "\x1b[H\x1b[2J"
FAILED_WINDOW = timedelta(hours=24)


def collect_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready values."""
    from wfsched_core.base.records import isoformat, utcnow
    from wfsched_core.framework.plugin_health import open_breakers

    now = utcnow()
    timeout = float(settings.scheduler_option("heartbeat_timeout"))
    schedulers = []
    for row in store.list_schedulers(active_only=True):
        age = (now - row.heartbeat_at).total_seconds()
        if age > timeout:  # a scheduler that died without saying so
            continue
        data = row.to_json()
        data["heartbeat_age"] = round(age, 3)
        schedulers.append(data)
    running = [{
        "id": r.id, "workflow": r.workflow, "pid": r.pid, "host": r.host,
        "started_at": isoformat(r.started_at), "scheduler": r.claimed_by,
        "spawner": r.spawner,
        "run_seconds": None if r.started_at is None
        else round((now - r.started_at).total_seconds(), 3),
    } for r in store.running_rows()]
    active = store.count_active()
    finished = store.count_finished_since(now - FAILED_WINDOW)
    return {
        "time": isoformat(now),
        "schedulers": schedulers,
        "running": running,
        "pending": active["pending"],
        "waiting": active["waiting"],  # for an approval (wfsched approve ID)
        "failed_last_24h": finished["failed"],
        "completed_last_24h": finished["completed"],
        "slots": {"in_use": len(running),
                  "max": sum(s["max_concurrent"] or 0 for s in schedulers)},
        # plugins skipped on this host after overrunning their budget (their breaker)
        "plugins_skipped": {name: {"reason": b.reason, "hook": b.hook, "until": b.open_until,
                                   "detail": b.describe()}
                            for name, b in open_breakers(settings.home).items()},
    }


def render_status(status: dict[str, Any]) -> str:
    """The human-readable form of :func:`collect_status`."""
    slots = status["slots"]
    lines = [f"wfsched status at {status['time']}",
             f"slots in use {slots['in_use']}/{slots['max']}, pending {status['pending']}, "
             + (f"waiting for approval {status['waiting']}, " if status["waiting"] else "")
             + f"failed in the last 24 h {status['failed_last_24h']} "
             f"(completed {status['completed_last_24h']})", ""]
    if status["schedulers"]:
        lines.append(f"schedulers ({len(status['schedulers'])} live):")
        lines += [f"  {s['id']}  {s['host']} pid {s['pid']}  max {s['max_concurrent']}  "
                  f"heartbeat {s['heartbeat_age']:.1f}s ago  since {s['started_at']}"
                  for s in status["schedulers"]]
    else:
        lines.append("schedulers: none live")
    lines.append("")
    if status["running"]:
        lines.append(f"running ({len(status['running'])}):")
        rows: list[tuple[str, ...]] = [(str(r["id"]), r["workflow"], str(r["pid"] or "-"), r["host"] or "-",
                 duration(r["run_seconds"])) for r in status["running"]]
        lines += _table(("ID", "WORKFLOW", "PID", "HOST", "RUNNING FOR"), rows)
    else:
        lines.append("running: none")
    if status["plugins_skipped"]:
        lines += ["", f"plugins skipped ({len(status['plugins_skipped'])}):"]
        lines += [f"  {name}: {b['detail']}" for name, b in status["plugins_skipped"].items()]
    return "\n".join(lines)


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return ["  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in (headers, *rows)]


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option("--interval", type=option_types.seconds(0.1, 3600), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--check", is_flag=True,
              help="Health check: exit 0 when healthy, 1 with one line per problem.")
@click.option("--max-pending-age", type=option_types.seconds(1, 30 * 86400), default=None,
              metavar="SECONDS", help="With --check: the oldest pending execution may wait "
                                      "this long ([health] max_pending_age, default 600).")
@click.option("--failure-window", type=option_types.seconds(1, 30 * 86400), default=None,
              metavar="SECONDS", help="With --check: judge the failure rate over this many "
                                      "seconds ([health] failure_window, default 900).")
@click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=None,
              metavar="FRACTION", help="With --check: the share of failed executions allowed "
                                       "([health] max_failure_rate, default 0.5).")
@pass_app
def status(app: App, as_json: bool, watch: bool, interval: float, check: bool,
           max_pending_age: float | None, failure_window: float | None,
           max_failure_rate: float | None) -> int | None:
    """Live schedulers, running executions, pending and recent failures, slots in use."""
    thresholds = {"max_pending_age": max_pending_age, "failure_window": failure_window,
                  "max_failure_rate": max_failure_rate}
    if check:
        if watch:
            raise click.UsageError("--check and --watch cannot be combined")
        from wfsched_core.cli.health_check import run_health_check

        return run_health_check(app, as_json, thresholds)
    given = [f"--{k.replace('_', '-')}" for k, v in thresholds.items() if v is not None]
    if given:
        raise click.UsageError(f"{', '.join(given)} only applies with --check")
    if not watch:
        _show(app, as_json)
        return None
    # in a terminal: redraw in place; otherwise (a pipe, a file) one snapshot after another,
    # as JSON lines with --json
    in_terminal = sys.stdout.isatty() and not as_json
    try:
        while True:
            if in_terminal:
                click.echo(CLEAR_AND_HOME, nl=False)
            _show(app, as_json, compact=True)
            if not in_terminal and not as_json:
                click.echo("")
            sys.stdout.flush()
            time.sleep(interval)  # the refresh period itself, not a synchronisation
    except KeyboardInterrupt:
        if in_terminal:
            click.echo("")
    return None


def _show(app: App, as_json: bool, *, compact: bool = False) -> None:
    data = collect_status(app.store, app.settings)
    if as_json and compact:
        click.echo(json.dumps(data, default=str))
    elif as_json:
        echo_json(data)
    else:
        click.echo(render_status(data))

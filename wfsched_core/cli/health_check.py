"""``wfsched status --check``: the health verdict of :mod:`wfsched_core.ops.health`.

Exit 0 healthy, 1 unhealthy (one ``CHECK: message`` line per problem), 2 bad usage or
configuration. A database that cannot be opened is a problem like any other (exit 1,
one line), not an error with a traceback: a monitoring probe needs the verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from wfsched_core.cli.output import echo_json

if TYPE_CHECKING:
    from wfsched_core.app import App

EXIT_UNHEALTHY = 1


def run_health_check(app: App, as_json: bool, overrides: dict[str, Any]) -> int:
    """Print the verdict; return the exit code."""
    from wfsched_core.base.errors import DatabaseError
    from wfsched_core.base.records import utcnow
    from wfsched_core.ops.health import Health, HealthThresholds, Problem, check_health

    thresholds = HealthThresholds.from_settings(app.settings, **overrides)
    try:
        store = app.store
    except DatabaseError as exc:  # missing, unreachable or its schema out of date
        health = Health(time=utcnow(), problems=[Problem("database", str(exc))],
                        thresholds=thresholds)
    else:
        health = check_health(store, app.settings, thresholds)
    if as_json:
        echo_json(health.to_json())
    elif health.healthy:
        live = sum(1 for s in health.schedulers if s["state"] == "live")
        click.echo(f"healthy: {live} scheduler(s) live, {health.pending['count']} pending, "
                   f"{health.failures['failed']} failed in the last "
                   f"{health.failures['window_seconds']:g}s")
    else:
        for problem in health.problems:
            click.echo(f"{problem.check}: {problem.message}")
    return 0 if health.healthy else EXIT_UNHEALTHY

"""``wfsched trigger`` and ``wfsched cancel``: putting work in and taking it out."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import click

from wfsched_core.app import App
from wfsched_core.base.errors import UsageError
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli

pass_app = click.make_pass_decorator(App)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def parse_params(pairs: tuple[str, ...], params_json: str | None) -> dict[str, Any]:
    """``K=V`` pairs (values are strings) merged over a JSON object."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--params-json is not valid JSON: {exc}")
        except RecursionError:
            raise UsageError("--params-json is nested too deeply")
        if not isinstance(loaded, dict):
            raise UsageError("--params-json must be a JSON object")
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise UsageError(f"malformed --param {pair!r}: expected KEY=VALUE")
        params[key] = value
    return params


@cli.command()
@click.argument("workflow", type=option_types.WORKFLOW)
@click.option("--param", "-p", "pairs", multiple=True, metavar="K=V",
              help="A parameter of the execution (repeatable); the value is a string.")
@click.option("--params-json", metavar="JSON", help="Parameters as a JSON object.")
@click.option("--priority", type=option_types.PRIORITY, default=None,
              help="Higher runs first when slots are scarce (default: the workflow's).")
@click.option("--count", type=click.IntRange(min=1, max=100_000), default=1,
              help="How many executions to queue.")
@click.option("--wait", is_flag=True, help="Wait until they end; exit 0 if all completed.")
@pass_app
def trigger(app: App, workflow: str, pairs: tuple[str, ...], params_json: str | None,
            priority: int | None, count: int, wait: bool) -> int:
    """Queue pending executions of WORKFLOW and print their ids."""
    from wfsched_core.authoring.flow_limits import key_for_spec
    from wfsched_core.base.status import Trigger

    app.creates_database = True
    params = parse_params(pairs, params_json)
    spec = app.hooks.catalog().get(workflow)
    try:
        key = key_for_spec(spec, params, strict=True)
    except ValueError as exc:
        raise UsageError(f"cannot queue {workflow}: {exc}") from None
    created = app.quick_store.enqueue(
        workflow, params=params, priority=spec.priority if priority is None else priority,
        count=count, trigger=Trigger.MANUAL, queue=spec.queue, concurrency_key=key)
    for execution in created:
        click.echo(execution.id)
        app.hooks.execution_queued(execution)
    if not wait:
        return 0
    return _wait_for(app, [e.id for e in created])


def _wait_for(app: App, ids: list[int]) -> int:
    from wfsched_core.base.status import ExecutionStatus

    remaining = set(ids)
    failed = False
    while remaining:
        for execution_id in sorted(remaining):
            execution = app.quick_store.get_execution(execution_id)
            if execution.status.is_final:
                remaining.discard(execution_id)
                failed |= execution.status is not ExecutionStatus.COMPLETED
        if remaining:
            time.sleep(0.2)  # polling the database: there is nothing to wait on
    return 1 if failed else 0


@cli.command()
@click.argument("execution_id", type=option_types.EXECUTION_ID)
@pass_app
def cancel(app: App, execution_id: int) -> int:
    """Cancel a pending execution, or stop a running one."""
    from wfsched_core.scheduler.cancellation import cancel_execution

    execution = cancel_execution(app.quick_store, app.hooks, app.settings, execution_id)
    click.echo(f"execution {execution.id} is {execution.status.value}")
    return 0 if execution.status.value == "cancelled" else 1

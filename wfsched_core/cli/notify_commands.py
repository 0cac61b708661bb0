"""Notifications: ``wfsched notify list`` and ``wfsched notify test [--event E]``.

``notify test`` goes through the same path as a real event: it fires the lifecycle hook
for a synthetic execution (id 0) in this process, then asks every notifier, through
``wfsched_notify_report``, how its delivery went.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from wfsched_core.app import App
from wfsched_core.cli import option_types
from wfsched_core.cli.main import cli
from wfsched_core.cli.output import echo_json, echo_table
from wfsched_core.framework.hookspecs import EVENT_HOOKS

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution
    from wfsched_core.framework.hooks import PluginHooks

pass_app = click.make_pass_decorator(App)

TEST_EXECUTION_ID = 0
TEST_WORKFLOW = "notify-test"
# Long enough for a webhook's retries with the default settings (3 tries of 5 s + backoff).
DEFAULT_WAIT = 30.0


@cli.group()
def notify() -> None:
    """Notifiers (webhook, Slack, email): what is configured, and a test message."""


@notify.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def notify_list(app: App, as_json: bool) -> None:
    """Every configured notification destination with the events it listens to."""
    report = app.hooks.notify_report(0.0)
    if as_json:
        echo_json([_public(entry) for entry in report])
        return
    if not report:
        click.echo("no notifier is configured (see docs/notifications.md)")
        return
    echo_table(["NOTIFIER", "TARGET", "EVENTS", "WORKFLOWS"],
               [[e.get("notifier"), e.get("target"), ", ".join(e.get("events") or []),
                 ", ".join(e["workflows"]) if e.get("workflows") else "all"] for e in report])


@notify.command("test")
@click.option("--event", "event", default="failed", show_default=True,
              type=click.Choice(list(EVENT_HOOKS)), help="The event to pretend happened.")
@click.option("--workflow", default=TEST_WORKFLOW, show_default=True,
              help="The workflow name the test execution carries (for `workflows` filters).")
@click.option("--wait", "wait", type=option_types.seconds(0, 3600), default=DEFAULT_WAIT,
              show_default=True, help="Seconds to wait for deliveries (retries included).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def notify_test(app: App, event: str, workflow: str, wait: float, as_json: bool) -> int:
    """Send a test notification through every configured notifier; exit 1 if one failed."""
    hooks = app.hooks
    fire_test_event(hooks, event, workflow)
    report = hooks.notify_report(wait)
    if as_json:
        echo_json([_public(entry) for entry in report])
    elif not report:
        click.echo("no notifier is configured (see docs/notifications.md)")
    else:
        echo_table(["NOTIFIER", "TARGET", "RESULT", "DETAIL"],
                   [[e.get("notifier"), e.get("target"), _result_word(e.get("ok")),
                     e.get("detail")] for e in report])
    if not report or any(entry.get("ok") is False for entry in report):
        return 1
    return 0 if any(entry.get("ok") for entry in report) else 1


def fire_test_event(hooks: PluginHooks, event: str, workflow: str) -> None:
    """Call the lifecycle hook of ``event`` with synthetic records, as a real one would."""
    from wfsched_core.base.records import SchedulerRow, StepRecord, utcnow
    from wfsched_core.base.status import StepStatus

    execution = synthetic_execution(event, workflow)
    now = utcnow()
    if event == "queued":
        hooks.execution_queued(execution)
    elif event == "started":
        hooks.execution_started(execution)
    elif event == "step_finished":
        step = StepRecord(execution_id=execution.id, position=0, name="test_step",
                          status=StepStatus.COMPLETED, started_at=now - timedelta(seconds=1),
                          finished_at=now)
        hooks.step_finished(execution, step)
    elif event == "completed":
        hooks.execution_completed(execution)
    elif event == "failed":
        hooks.execution_failed(execution, will_retry=False)
    elif event == "cancelled":
        hooks.execution_cancelled(execution)
    elif event == "timed_out":
        hooks.execution_timed_out(execution, will_retry=False)
    elif event == "waiting":
        hooks.execution_waiting(execution)
    elif event == "overdue":
        hooks.execution_overdue(execution, 1800.0)
    else:
        from wfsched_core import __version__

        row = SchedulerRow(id="notify-test", host=socket.gethostname(), pid=os.getpid(),
                           started_at=now, heartbeat_at=now, version=__version__ or "",
                           max_concurrent=0)
        if event == "scheduler_started":
            hooks.scheduler_started(row)
        else:
            hooks.scheduler_stopping(row, "test notification from `wfsched notify test`")


def synthetic_execution(event: str, workflow: str) -> Execution:
    """An execution that never existed (id 0), in the state ``event`` implies."""
    from wfsched_core.base.records import Execution, utcnow
    from wfsched_core.base.status import ExecutionStatus

    now = utcnow()
    status = {
        "queued": ExecutionStatus.PENDING, "completed": ExecutionStatus.COMPLETED,
        "failed": ExecutionStatus.FAILED, "timed_out": ExecutionStatus.FAILED,
        "cancelled": ExecutionStatus.CANCELLED, "waiting": ExecutionStatus.WAITING,
    }.get(event, ExecutionStatus.RUNNING)
    failed = status is ExecutionStatus.FAILED
    return Execution(
        id=TEST_EXECUTION_ID, workflow=workflow, status=status, params={"test": True},
        created_at=now - timedelta(seconds=3),
        started_at=None if event == "queued" else now - timedelta(seconds=2),
        finished_at=now if status.is_final else None,
        pid=None if event == "queued" else os.getpid(),
        host=socket.gethostname(), spawner="local",
        exit_code=1 if failed else (0 if status is ExecutionStatus.COMPLETED else None),
        error=("test notification from `wfsched notify test` (nothing really failed)"
               if failed else None),
        wait_reason=("waiting for approval of step deploy (a test notification)"
                     if status is ExecutionStatus.WAITING else None),
    )


def _result_word(ok: Any) -> str:
    return {True: "sent", False: "FAILED"}.get(ok, "not sent")


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("notifier", "target", "events", "workflows", "ok", "detail")
    return {key: entry.get(key) for key in keys}

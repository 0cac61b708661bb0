"""``python -m wfsched_core.worker ID``: the lean worker the ``local`` spawner starts.

It imports the authoring API and its own workflow module (named by its plan), reports to
its scheduler, and never loads the store, the plugins or the CLI unless its scheduler is
gone. Run by the scheduler only: a person runs ``wfsched execute ID``.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfsched_core.base.errors import ExecutionStateError
from wfsched_core.base.log_format import log_format_in_force, make_formatter
from wfsched_core.worker import ENV_PLAN, EXIT_NOT_STARTED
from wfsched_core.worker.channel import ChannelReporter
from wfsched_core.worker.plan import WorkerPlan, import_target
from wfsched_core.worker.runner import NotStarted, run_with


@dataclass
class _Target:
    """The one workflow this worker runs (its class, imported from the plan)."""

    cls: Any
    nice: int | None
    secret_params: tuple[str, ...] = ()


class WorkflowImportError(Exception):
    """The plan's workflow class could not be imported in the worker."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit() or ENV_PLAN not in os.environ:
        print("usage: python -m wfsched_core.worker ID (started by `wfsched scheduler`; "
              "to run an execution by hand: wfsched execute ID)", file=sys.stderr)
        return 2
    execution_id = int(args[0])
    plan = WorkerPlan.from_env(os.environ[ENV_PLAN])
    handler = logging.StreamHandler()
    handler.setFormatter(make_formatter(log_format_in_force()))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    resolve = _resolver(plan)
    try:
        return run_with(ChannelReporter(plan, execution_id), resolve, Path(plan.logs_dir),
                        plan.heartbeat_interval)
    except ExecutionStateError as exc:
        print(f"wfsched: error: {exc}", file=sys.stderr)
        return 1
    except NotStarted as exc:
        print(f"wfsched: error: execution {execution_id} not started, given back to the "
              f"queue: {exc}", file=sys.stderr)
        return EXIT_NOT_STARTED


def _resolver(plan: WorkerPlan) -> Any:
    """The plan's workflow for any name (the scheduler chose it); an import error is the
    run's failure, reported like any step's."""
    try:
        target: _Target | None = _Target(import_target(plan.target), plan.nice,
                                            plan.secret_params)
        error = ""
    except Exception as exc:  # noqa: BLE001 - a broken workflow module fails its run
        target, error = None, f"cannot import {plan.target}: {type(exc).__name__}: {exc}"

    def resolve(_workflow: str) -> _Target:
        if target is None:
            raise WorkflowImportError(error)
        return target

    return resolve


if __name__ == "__main__":
    sys.exit(main())

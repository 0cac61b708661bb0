"""Re-running an ended execution from one of its steps (``wfsched rerun ID``).

The re-run is a new execution (``rerun_of`` names the old one) that starts at a step
(``resume_from``): the old run's records of the steps before it are copied to the new
run in the same transaction that inserts it, so the new run's own history says what it
reused, and its steps find those results in ``ctx.results`` as if they had just run. A
step whose result could only be kept as its repr (not JSON) cannot be reused: the re-run
is refused, naming it, rather than handing a later step a string it never returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select

from wfsched_core.base.errors import ExecutionStateError, UsageError
from wfsched_core.base.records import Execution, StepRecord
from wfsched_core.base.status import StepStatus, Trigger
from wfsched_core.store.db.schema import workflow_execution_steps as steps_table
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.executions import ExecutionsMixin
from wfsched_core.store.rows import fetch, from_values, new_execution_values, to_execution, to_step


class RerunRefused(ExecutionStateError):
    """An execution that cannot be re-run from the step asked for (the reason says why)."""


class RerunsMixin(ExecutionsMixin):
    """A new execution that reuses an ended one's first steps."""

    def create_rerun(self, execution_id: int, step_names: Sequence[str],
                     from_step: str | None = None) -> tuple[Execution, str]:
        """Queue a re-run of ``execution_id`` from ``from_step`` (default: its first step
        that did not complete); ``step_names``: the workflow's steps as installed now.
        The new execution and the step it starts at."""
        with self._write() as conn:
            old = to_execution(fetch(conn, execution_id))
            if not old.status.is_final:
                raise RerunRefused(f"execution {execution_id} is {old.status.value}; only an "
                                   "ended execution can be re-run")
            recorded = [to_step(row) for row in conn.execute(
                select(steps_table).where(steps_table.c.execution_id == execution_id)
                .order_by(steps_table.c.position))]
            position = _start_position(old, recorded, list(step_names), from_step)
            reused = _reusable_steps(old, recorded, list(step_names), position)
            values = new_execution_values(
                old.workflow, priority=old.priority, params=json.dumps(old.params),
                trigger=Trigger.RERUN.value, queue=old.queue, triggered_by=old.triggered_by,
                rerun_of=old.id, resume_from=position)
            new_id = conn.execute(executions.insert().values(**values)).inserted_primary_key[0]
            for step in reused:
                conn.execute(steps_table.insert().values(
                    execution_id=new_id, position=step.position, name=step.name,
                    status=StepStatus.COMPLETED.value, started_at=step.started_at,
                    finished_at=step.finished_at, result=_stored(step),
                    result_json=step.result_json))
            self._notify(conn)
        return from_values(new_id, values), step_names[position - 1]


def _start_position(old: Execution, recorded: list[StepRecord], step_names: list[str],
                    from_step: str | None) -> int:
    """The position (from 1) the re-run starts at."""
    if from_step is not None:
        if from_step not in step_names:
            raise UsageError(f"--from-step: {old.workflow} has no step {from_step!r} "
                             f"(its steps: {', '.join(step_names) or 'none'})")
        return step_names.index(from_step) + 1
    done = {s.position for s in recorded if s.status is StepStatus.COMPLETED}
    for position in range(1, len(step_names) + 1):
        if position not in done:
            return position
    raise RerunRefused(f"execution {old.id} completed every step; name the step to "
                       "start from with --from-step")


def _reusable_steps(old: Execution, recorded: list[StepRecord], step_names: list[str],
                    position: int) -> list[StepRecord]:
    """The old run's records of the steps before ``position``, each checked."""
    by_position = {s.position: s for s in recorded}
    reused = []
    for index, name in enumerate(step_names[:position - 1], start=1):
        step = by_position.get(index)
        if step is None or step.name != name or step.status is not StepStatus.COMPLETED:
            found = "no record" if step is None else f"{step.name} {step.status.value}"
            raise RerunRefused(
                f"cannot re-run execution {old.id} from step {step_names[position - 1]}: "
                f"step {index} ({name}) did not complete in it ({found}); start earlier")
        if step.result_json is False:
            raise RerunRefused(
                f"cannot re-run execution {old.id} from step {step_names[position - 1]}: "
                f"the result of step {name} was not JSON (only its repr was recorded), so "
                f"it cannot be reused; re-run from step {name} or earlier, or return JSON "
                "from it")
        reused.append(step)
    return reused


def _stored(step: StepRecord) -> str | None:
    return None if step.result is None else json.dumps(step.result)

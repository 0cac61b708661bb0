"""Executions: queueing, claiming, running, finishing and cancelling.

Every status change is a compare-and-set (``UPDATE ... WHERE id = ? AND status IN (...)``)
whose row count says whether this process won; the winner alone fires the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from wfsched_core.authoring.flow_limits import FlowLimits
from wfsched_core.base.errors import ExecutionStateError
from wfsched_core.base.records import (
    Execution,
    RunVersion,
    StepRecord,
    Upstream,
    json_or_repr,
    upstream_mapping,
    utcnow,
)
from wfsched_core.base.status import ExecutionStatus, StepStatus, Trigger
from wfsched_core.store import statements
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_dependencies as dependencies
from wfsched_core.store.db.schema import workflow_execution_steps as steps_table
from wfsched_core.store.db.schema import workflow_executions as executions
from wfsched_core.store.db.schema import workflows
from wfsched_core.store.flow_gate import FlowGate
from wfsched_core.store.rows import (
    fetch,
    from_values,
    loads,
    new_execution_values,
    split_version_filter,
    to_execution,
    to_step,
)

PENDING = ExecutionStatus.PENDING.value
RUNNING = ExecutionStatus.RUNNING.value
CANCELLED_WHILE_WAITING = "cancelled while waiting for an approval"
# Extra candidates read per claim so that a few held back do not starve the others.
_HOLD_MARGIN = 20
# At most this many more: as many as the last claim held back by a limit (a flood of one
# concurrency key queued first must not hide the other keys' executions behind it).
_MAX_HELD_MARGIN = 2000


@dataclass
class Finished:
    """The outcome of a successful final compare-and-set."""

    execution: Execution
    retry: Execution | None = None
    triggered: list[Execution] = field(default_factory=list)  # dependents queued

    @property
    def queued(self) -> list[Execution]:
        """Every execution this outcome queued (its retry, its dependents): each one
        is announced with ``wfsched_execution_queued`` by the process that won."""
        return ([self.retry] if self.retry else []) + self.triggered


class ExecutionsMixin(StoreBase):
    """The life of an execution, from ``pending`` to a final status."""

    #: how many candidates the last claim held back by a limit (widens the next read)
    _held_by_limits = 0

    # --- queueing --------------------------------------------------------------------

    def enqueue(
        self,
        workflow: str,
        *,
        params: dict[str, Any] | None = None,
        priority: int = 0,
        count: int = 1,
        trigger: Trigger = Trigger.MANUAL,
        attempt: int = 1,
        retry_of: int | None = None,
        not_before: datetime | None = None,
        scheduled_for: datetime | None = None,
        queue: str | None = None,
        concurrency_key: str | None = None,
    ) -> list[Execution]:
        """Insert ``count`` pending executions; a scheduled run that exists inserts nothing.
        ``concurrency_key``: the workflow's key for these params (None: it has none)."""
        values = new_execution_values(
            workflow, priority=priority, attempt=attempt, params=json.dumps(params or {}),
            trigger=trigger.value, retry_of=retry_of, not_before=not_before,
            scheduled_for=scheduled_for, queue=queue, concurrency_key=concurrency_key)
        created: list[Execution] = []
        try:
            with self._write() as conn:
                for _ in range(count):
                    result = conn.execute(executions.insert().values(**values))
                    created.append(from_values(result.inserted_primary_key[0], values))
                self._notify(conn)
        except IntegrityError:
            if scheduled_for is None:
                raise
            return []  # the unique (workflow, scheduled_for): another scheduler was first
        return created

    # --- claiming --------------------------------------------------------------------

    def claim_pending(
        self,
        owner: str,
        limit: int,
        *,
        admit: Callable[[Execution], str | None] | None = None,
        concurrency: Mapping[str, int] | None = None,
        queues: Sequence[str | None] | None = None,
        now: datetime | None = None,
        runnable: Collection[str] | None = None,
        flow: Mapping[str, FlowLimits] | None = None,
    ) -> list[Execution]:
        """Atomically take up to ``limit`` pending executions for ``owner``.

        Highest priority first, then oldest. ``concurrency`` caps running executions per
        workflow across every scheduler: the workflow's row is locked while counting, so
        two schedulers cannot both take the last slot. ``queues`` restricts the claim to
        those queues (None in it means the unnamed default queue). ``admit`` may hold an
        execution back by returning a reason, stored as its ``wait_reason``: it is asked
        *before* the claim's transaction, on a plain read of the candidates, so a slow
        admission plugin never holds a lock; the claim then takes only rows it admitted,
        each with its compare-and-set (a row claimed or ended meanwhile is not taken).
        ``runnable`` limits the claim to those workflows (see :meth:`_candidates`).
        ``flow``: the workflows' concurrency keys and rate limits (:mod:`.flow_gate`),
        counted under the same lock; one held by a rate limit gets ``not_before`` set to
        when it may start, so the scheduler wakes for it then.
        """
        if limit <= 0:
            return []
        now = now or utcnow()
        queue_key = None if queues is None else tuple(queues)
        verdicts = None if admit is None else self._admission_verdicts(
            admit, limit, queue_key, concurrency or {}, now, runnable)
        query, params = self._candidates(queue_key, self.skip_locked, now, limit, runnable)
        # as many more candidates as the last claim's limits held back: a flood of one key
        # does not hide the others
        params["b_limit"] = limit + _HOLD_MARGIN + min(self._held_by_limits, _MAX_HELD_MARGIN)
        claimed: list[Execution] = []
        with self._write() as conn:
            rows = conn.execute(query, params).all()
            active = self._lock_and_count_active(conn, {r.workflow for r in rows},
                                                 concurrency or {}, flow or {})
            gate = FlowGate.read(conn, rows, flow, now) if flow else None
            held_by_limits = 0
            for row in rows:
                if len(claimed) >= limit:
                    break
                reason = self._limit_hold(conn, row, (concurrency or {}).get(row.workflow),
                                          active, gate)
                held_by_limits += reason is not None
                if reason is None and verdicts is not None:
                    if row.id not in verdicts:
                        continue  # not asked (arrived since, or beyond what fits): next tick
                    reason = verdicts[row.id]
                if reason:
                    if reason != row.wait_reason:
                        conn.execute(update(executions).where(executions.c.id == row.id)
                                     .values(wait_reason=reason[:500]))
                    continue
                result = conn.execute(statements.CLAIM_ONE,
                                      {"b_id": row.id, "b_owner": owner, "b_now": now})
                if result.rowcount == 1:
                    active[row.workflow] = active.get(row.workflow, 0) + 1
                    if gate is not None:
                        gate.took(row)
                    claimed.append(replace(
                        to_execution(row), claimed_by=owner, wait_reason=None,
                        concurrency_key=gate.keys.get(row.id) if gate else row.concurrency_key))
        self._held_by_limits = held_by_limits
        return claimed

    @staticmethod
    def _candidates(queue_key: tuple[str | None, ...] | None, skip_locked: bool,
                    now: datetime, limit: int, runnable: Collection[str] | None,
                    ) -> tuple[Any, dict[str, Any]]:
        """The claim's candidate query and its parameters. With ``runnable`` (the workflows
        the claiming scheduler has installed and can run), executions of any other
        workflow are not candidates at all: they wait, never claimed and failed, for a
        scheduler that has it (``hold_unrunnable`` writes why); and in SQL, not skipped
        row by row, so a backlog of them cannot crowd runnable work out of the claim."""
        query = statements.claim_candidates(queue_key, skip_locked, runnable is not None)
        params: dict[str, Any] = {"b_now": now, "b_limit": limit + _HOLD_MARGIN}
        if runnable is not None:
            params["b_workflows"] = sorted(runnable)
        return query, params

    @staticmethod
    def _limit_hold(conn: Connection, row: Any, cap: int | None, active: Mapping[str, int],
                    gate: FlowGate | None) -> str | None:
        """Why a limit holds ``row`` back now (the workflow's ``concurrency``, its key or
        its rate); a rate limit also sets ``not_before``: no candidate until then."""
        if cap is not None and active.get(row.workflow, 0) >= cap:
            return f"concurrency limit: {cap} of {row.workflow} already running"
        held = gate.hold(row) if gate is not None else None
        if held is None:
            return None
        reason, may_start = held
        if may_start is not None:
            conn.execute(update(executions).where(executions.c.id == row.id)
                         .values(not_before=may_start))
        return reason

    def _admission_verdicts(self, admit: Callable[[Execution], str | None], limit: int,
                            queue_key: tuple[str | None, ...] | None,
                            concurrency: Mapping[str, int], now: datetime,
                            runnable: Collection[str] | None = None,
                            ) -> dict[int, str | None]:
        """Ask ``admit`` about the candidates, best first, outside any transaction: until
        ``limit`` are admitted, and no more of a capped workflow than its cap (more could
        not run now anyway)."""
        query, params = self._candidates(queue_key, False, now, limit, runnable)
        with self._read() as conn:  # closed before any plugin code runs
            candidates = conn.execute(query, params).all()
        verdicts: dict[int, str | None] = {}
        admitted: dict[str, int] = {}
        for row in candidates:
            if sum(admitted.values()) >= limit:
                break
            cap = concurrency.get(row.workflow)
            if cap is not None and admitted.get(row.workflow, 0) >= cap:
                continue
            verdicts[row.id] = reason = admit(to_execution(row))
            if reason is None:
                admitted[row.workflow] = admitted.get(row.workflow, 0) + 1
        return verdicts

    def _lock_and_count_active(self, conn: Connection, names: set[str],
                               concurrency: Mapping[str, int],
                               flow: Mapping[str, FlowLimits]) -> dict[str, int]:
        """Lock the rows of the workflows among ``names`` that have a limit (before any
        plain read: MariaDB's snapshot starts at the first) and count the active runs
        of the capped ones."""
        locked = sorted(n for n in names if n in concurrency or n in flow)
        if locked and self.skip_locked:  # sorted: two schedulers never wait in a cycle
            conn.execute(select(workflows.c.name).where(workflows.c.name.in_(locked))
                         .order_by(workflows.c.name).with_for_update())
        capped = [n for n in locked if n in concurrency]
        if not capped:
            return {}
        query = (
            select(executions.c.workflow, func.count())
            .where(executions.c.workflow.in_(capped),
                   or_(executions.c.status == RUNNING,
                       and_(executions.c.status == PENDING,
                            executions.c.claimed_by.is_not(None))))
            .group_by(executions.c.workflow)
        )
        return {name: n for name, n in conn.execute(query)}

    def record_handles(self, owner: str,
                       started: Sequence[tuple[int, str, dict[str, Any], int | None]]) -> None:
        """Remember how to find the workers of one tick again (their spawner and handle),
        in one transaction: ``(execution_id, spawner, handle, pid)`` each."""
        with self._write() as conn:
            self._record_handles_in(conn, owner, started)

    def _record_handles_in(self, conn: Connection, owner: str,
                           started: Sequence[tuple[int, str, dict[str, Any], int | None]],
                           ) -> None:
        with_pid = [{"b_id": execution_id, "b_owner": owner, "b_spawner": spawner,
                     "b_handle": json.dumps(handle), "b_pid": pid}
                    for execution_id, spawner, handle, pid in started if pid is not None]
        if with_pid:
            conn.execute(statements.RECORD_HANDLE, with_pid)
        for execution_id, spawner, handle, pid in started:
            if pid is None:  # a strategy that cannot tell the PID: keep the column
                conn.execute(update(executions).where(
                    executions.c.id == execution_id, executions.c.claimed_by == owner,
                ).values(spawner=spawner, worker_handle=json.dumps(handle)))

    def adopt(self, execution_id: int, from_owner: str | None, to_owner: str) -> bool:
        """Take over a running execution whose owner died (compare-and-set on the owner)."""
        owner_cond = executions.c.claimed_by.is_(None) if from_owner is None \
            else executions.c.claimed_by == from_owner
        with self._write() as conn:
            result = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.status == RUNNING, owner_cond,
            ).values(claimed_by=to_owner, claimed_at=utcnow()))
        return result.rowcount == 1

    def release_claims(self, owner: str) -> int:
        """Give back the pending executions ``owner`` claimed but did not start."""
        with self._write() as conn:
            result = conn.execute(update(executions).where(
                executions.c.claimed_by == owner, executions.c.status == PENDING,
            ).values(claimed_by=None, claimed_at=None))
            self._notify(conn)
        return result.rowcount

    def release_claim_of(self, execution_id: int, owner: str) -> bool:
        """Give back one pending execution claimed by a scheduler that died."""
        with self._write() as conn:
            result = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.claimed_by == owner,
                executions.c.status == PENDING,
            ).values(claimed_by=None, claimed_at=None))
        return result.rowcount == 1

    # --- running ---------------------------------------------------------------------

    def start_execution(self, execution_id: int, owner: str | None, *, pid: int,
                        host: str, manual_owner: str) -> Execution:
        """Compare-and-set ``pending`` -> ``running`` for the worker told to run it.

        ``owner`` is the scheduler that claimed it (None when run by hand: then it must be
        unclaimed, and ``manual_owner`` becomes its owner).
        """
        return self.start_running(execution_id, owner, pid=pid, host=host,
                                  manual_owner=manual_owner)[0]

    def start_running(self, execution_id: int, owner: str | None, *, pid: int, host: str,
                      manual_owner: str, first_step: Callable[[str], str | None] | None = None,
                      version_of: Callable[[str], RunVersion] | None = None,
                      ) -> tuple[Execution, StepRecord | None]:
        """:meth:`start_execution`, and in the same transaction the start of its first
        step, named by ``first_step(workflow)`` (None: no step record yet); the start
        records ``version_of(workflow)``, the code that runs it (None: nothing)."""
        with self._write() as conn:
            version = None if version_of is None \
                else version_of(fetch(conn, execution_id).workflow)
            started = self._start_in(conn, execution_id, owner, pid=pid, host=host,
                                     manual_owner=manual_owner, first_step=first_step,
                                     version=version)
            if started is not None:
                return started
            row = fetch(conn, execution_id)
        raise _not_startable(execution_id, row)

    def _start_in(self, conn: Connection, execution_id: int, owner: str | None, *, pid: int,
                  host: str, manual_owner: str,
                  first_step: Callable[[str], str | None] | None = None,
                  known: Execution | None = None, version: RunVersion | None = None,
                  ) -> tuple[Execution, StepRecord | None] | None:
        """The compare-and-set of :meth:`start_running` in ``conn``; None when it lost.

        ``known``: the row as its owner claimed it; then the started execution is that,
        updated, instead of being read again. ``version``: the code that runs it,
        recorded by the same compare-and-set."""
        now = utcnow()
        version = version or RunVersion()
        if owner is None:  # run by hand: it must be unclaimed, and becomes the caller's
            statement: Any = update(executions).where(
                executions.c.id == execution_id, executions.c.status == PENDING,
                executions.c.claimed_by.is_(None),
            ).values(status=RUNNING, started_at=now, heartbeat_at=now, pid=pid, host=host,
                     wait_reason=None, claimed_by=manual_owner, claimed_at=now,
                     workflow_package=version.package, workflow_version=version.version,
                     core_version=version.core)
            params: dict[str, Any] = {}
        else:
            statement = statements.START_CLAIMED
            params = {"b_id": execution_id, "b_owner": owner, "b_now": now, "b_pid": pid,
                      "b_host": host, "b_package": version.package,
                      "b_version": version.version, "b_core": version.core}
        if conn.execute(statement, params).rowcount != 1:
            return None
        if known is not None and owner is not None:
            execution = replace(known, status=ExecutionStatus.RUNNING, started_at=now,
                                heartbeat_at=now, pid=pid, host=host, wait_reason=None,
                                version=version)
        else:
            execution = to_execution(fetch(conn, execution_id))
        if execution.triggered_by is not None:
            execution = replace(execution, upstream=self._upstreams_in(conn, execution))
        if execution.resume_from:  # approved, or a re-run: its earlier steps are recorded
            results = self._results_before(conn, execution_id, execution.resume_from)
            return replace(execution, resumed_results=results), None
        name = first_step(execution.workflow) if first_step is not None else None
        step = self._insert_step(conn, execution_id, 1, name) if name else None
        return execution, step

    def _results_before(self, conn: Connection, execution_id: int,
                        position: int) -> dict[str, Any]:
        """The recorded results of an execution's steps before ``position``, by name."""
        rows = conn.execute(select(steps_table.c.name, steps_table.c.result).where(
            steps_table.c.execution_id == execution_id, steps_table.c.position < position,
        ).order_by(steps_table.c.position))
        return {row.name: loads(row.result) for row in rows}

    def _upstreams_in(self, conn: Connection, execution: Execution) -> Mapping[str, Upstream]:
        """``ctx.upstream`` of a run a dependency queued: the execution whose completion
        queued it (``triggered_by``) and, for each other workflow it ``depends_on``, that
        workflow's latest completed execution (none yet: not in the mapping)."""
        ids = [execution.triggered_by]
        trigger_row = conn.execute(select(executions.c.workflow).where(
            executions.c.id == execution.triggered_by)).first()
        others = conn.execute(select(dependencies.c.upstream).where(
            dependencies.c.downstream == execution.workflow)).scalars().all()
        for other in others:
            if trigger_row is not None and other == trigger_row.workflow:
                continue
            latest = conn.execute(select(func.max(executions.c.id)).where(
                executions.c.workflow == other,
                executions.c.status == ExecutionStatus.COMPLETED.value)).scalar()
            if latest is not None:
                ids.append(latest)
        rows = conn.execute(select(executions.c.id, executions.c.workflow,
                                   executions.c.status).where(executions.c.id.in_(ids))).all()
        results: dict[int, dict[str, Any]] = {row.id: {} for row in rows}
        for step in conn.execute(select(steps_table.c.execution_id, steps_table.c.name,
                                        steps_table.c.result)
                                 .where(steps_table.c.execution_id.in_(ids))
                                 .order_by(steps_table.c.position)):
            results[step.execution_id][step.name] = loads(step.result)
        return upstream_mapping(Upstream(row.id, row.workflow, row.status,
                                         MappingProxyType(results[row.id])) for row in rows)

    def heartbeat(self, execution_id: int) -> bool:
        """Refresh a running execution's heartbeat; True when a cancel was requested."""
        with self._write() as conn:
            conn.execute(statements.HEARTBEAT, {"b_id": execution_id, "b_now": utcnow()})
            flag = conn.execute(statements.CANCEL_REQUESTED, {"b_id": execution_id}).scalar()
        return bool(flag)

    def advance_step(self, execution_id: int, done: StepRecord | None, position: int,
                     name: str) -> StepRecord:
        """Record the end of step ``done`` (if any) and the start of the next, together."""
        with self._write() as conn:
            return self._advance_in(conn, execution_id, done, position, name)

    def _advance_in(self, conn: Connection, execution_id: int, done: StepRecord | None,
                    position: int, name: str) -> StepRecord:
        if done is not None:
            self._record_step_end(conn, done)
        return self._insert_step(conn, execution_id, position, name)

    def _insert_step(self, conn: Connection, execution_id: int, position: int,
                     name: str) -> StepRecord:
        step = StepRecord(execution_id, position, name, StepStatus.RUNNING, utcnow())
        conn.execute(statements.INSERT_STEP, {
            "b_eid": execution_id, "b_position": position, "b_name": name,
            "b_status": step.status.value, "b_at": step.started_at})
        return step

    def _record_step_end(self, conn: Connection, step: StepRecord) -> None:
        """Write a step's final status (idempotent: rewriting it changes nothing)."""
        conn.execute(statements.END_STEP, {
            "b_eid": step.execution_id, "b_position": step.position,
            "b_status": step.status.value, "b_at": step.finished_at, "b_error": step.error,
            "b_result": json_or_repr(step.result), "b_json": step.result_json})

    # --- finishing -------------------------------------------------------------------

    def finish_execution(
        self,
        execution_id: int,
        status: ExecutionStatus,
        *,
        expected: Sequence[ExecutionStatus] = (ExecutionStatus.RUNNING,),
        owner: str | None = None,
        exit_code: int | None = None,
        error: str | None = None,
        error_detail: str | None = None,
        retry_at: datetime | None = None,
        queue_of: Callable[[str], str | None] | None = None,
        last_step: StepRecord | None = None,
    ) -> Finished | None:
        """Compare-and-set to a final ``status``; None when another process got there first.

        ``last_step``, the worker's last step with its final status, is written in the same
        transaction (the worker's one write at the end).

        In the same transaction: a failure with ``retry_at`` (retries left, not cancelled)
        queues the next attempt, and a completion queues the workflows that depend on this
        one — so neither is ever lost nor made twice.
        """
        with self._write() as conn:
            return self._finish_in(
                conn, execution_id, status, expected=expected, owner=owner,
                exit_code=exit_code, error=error, error_detail=error_detail,
                retry_at=retry_at, queue_of=queue_of, last_step=last_step)

    def _finish_in(
        self,
        conn: Connection,
        execution_id: int,
        status: ExecutionStatus,
        *,
        expected: Sequence[ExecutionStatus] = (ExecutionStatus.RUNNING,),
        owner: str | None = None,
        exit_code: int | None = None,
        error: str | None = None,
        error_detail: str | None = None,
        retry_at: datetime | None = None,
        queue_of: Callable[[str], str | None] | None = None,
        last_step: StepRecord | None = None,
        known: Execution | None = None,
    ) -> Finished | None:
        """The transaction of :meth:`finish_execution`, in ``conn``. ``known``: the
        running execution as its owner knows it; then the finished one is that, updated,
        instead of being read again."""
        now = utcnow()
        if owner is None and tuple(expected) == (ExecutionStatus.RUNNING,):  # the worker's
            statement: Any = statements.FINISH_RUNNING
            params: dict[str, Any] = {
                "b_id": execution_id, "b_status": status.value, "b_now": now,
                "b_exit_code": exit_code, "b_error": error, "b_detail": error_detail}
        else:
            cond = and_(executions.c.id == execution_id,
                        executions.c.status.in_([s.value for s in expected]))
            if owner is not None:
                cond = and_(cond, executions.c.claimed_by == owner)
            statement = update(executions).where(cond).values(
                status=status.value, finished_at=now, exit_code=exit_code, error=error,
                error_detail=error_detail)
            params = {}
        if last_step is not None:  # the step's record stands whoever ends the run
            self._record_step_end(conn, last_step)
        result = conn.execute(statement, params)
        if result.rowcount != 1:
            return None
        if known is not None:
            execution = replace(known, status=status, finished_at=now, exit_code=exit_code,
                                error=error, error_detail=error_detail)
        else:
            execution = to_execution(fetch(conn, execution_id))
        finished = Finished(execution)
        if retry_at is not None and status is ExecutionStatus.FAILED \
                and not execution.cancel_requested:
            finished.retry = self._insert_follow_up(
                conn, execution.workflow, execution, Trigger.RETRY,
                attempt=execution.attempt + 1, retry_of=execution.id, not_before=retry_at,
                triggered_by=execution.triggered_by)  # a retry sees the same upstream
        if status is ExecutionStatus.COMPLETED:
            finished.triggered = self._queue_dependents(conn, execution, queue_of)
        self._touch_workflow(conn, execution.workflow, now, status)
        self._notify(conn)
        return finished

    def _insert_follow_up(self, conn: Connection, workflow: str, source: Execution,
                          trigger: Trigger, **values: Any) -> Execution:
        inherited = {"priority": source.priority, "params": json.dumps(source.params),
                     "trigger": trigger.value, "queue": source.queue}
        if workflow == source.workflow:  # a retry: same params, same key (a dependent's
            inherited["concurrency_key"] = source.concurrency_key  # is set by its claim)
        row = new_execution_values(workflow, **{**inherited, **values})
        inserted = conn.execute(executions.insert().values(**row)).inserted_primary_key
        assert inserted is not None
        return from_values(inserted[0], row)

    def _queue_dependents(self, conn: Connection, upstream: Execution,
                          queue_of: Callable[[str], str | None] | None = None,
                          ) -> list[Execution]:
        """Queue each workflow that ``depends_on`` the one that just completed (on the
        dependent's own queue, as ``queue_of`` tells; the default queue without it)."""
        names = conn.execute(statements.DEPENDENTS,
                             {"b_upstream": upstream.workflow}).scalars().all()
        return [self._insert_follow_up(conn, name, upstream, Trigger.DEPENDENCY,
                                       queue=queue_of(name) if queue_of else None,
                                       triggered_by=upstream.id)
                for name in names]

    def _touch_workflow(self, conn: Connection, name: str, when: datetime,
                        status: ExecutionStatus) -> None:
        if conn.execute(statements.TOUCH_WORKFLOW, {
                "b_name": name, "b_when": when, "b_status": status.value}).rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(workflows.insert().values(
                        name=name, last_executed=when, last_status=status.value))
            except IntegrityError:
                pass

    def request_cancel(self, execution_id: int) -> tuple[Execution, bool]:
        """Cancel a pending execution at once, or flag a running one for its owner to stop.

        Returns the execution and whether it is now ``cancelled`` (True) or flagged.
        """
        with self._write() as conn:
            row = fetch(conn, execution_id)
            if row.status == PENDING:
                conn.execute(update(executions).where(
                    executions.c.id == execution_id, executions.c.status == PENDING,
                ).values(status=ExecutionStatus.CANCELLED.value, finished_at=utcnow(),
                         cancel_requested=True, error="cancelled before it started"))
                return to_execution(fetch(conn, execution_id)), True
            if row.status == RUNNING:
                conn.execute(update(executions).where(executions.c.id == execution_id)
                             .values(cancel_requested=True))
                return to_execution(fetch(conn, execution_id)), False
            if row.status == ExecutionStatus.WAITING.value:  # no process to stop
                finished = self._finish_in(conn, execution_id, ExecutionStatus.CANCELLED,
                                           expected=(ExecutionStatus.WAITING,),
                                           error=CANCELLED_WHILE_WAITING)
                if finished is not None:
                    return finished.execution, True
                row = fetch(conn, execution_id)
        raise ExecutionStateError(
            f"execution {execution_id} is already {row.status}; nothing to cancel")

    # --- reading ---------------------------------------------------------------------

    def get_execution(self, execution_id: int) -> Execution:
        with self._read() as conn:
            return to_execution(fetch(conn, execution_id))

    def list_executions(self, *, status: str | None = None, workflow: str | None = None,
                        limit: int = 50, offset: int = 0,
                        since: datetime | None = None,
                        overdue: bool = False, version: str | None = None) -> list[Execution]:
        """Newest first: ``limit`` of them after skipping ``offset``; ``since``: created
        at or after; ``overdue``: past their workflow's deadline (marked once by a
        scheduler); ``version``: run by that workflow package version (``NAME==VERSION``
        or a bare ``VERSION``)."""
        query = (select(executions)
                 .where(*_listing_filter(status, workflow, since, overdue, version))
                 .order_by(executions.c.id.desc()).limit(limit).offset(offset))
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(query)]

    def count_executions(self, *, status: str | None = None, workflow: str | None = None,
                         since: datetime | None = None, overdue: bool = False,
                         version: str | None = None) -> int:
        """How many executions :meth:`list_executions` pages through."""
        query = (select(func.count()).select_from(executions)
                 .where(*_listing_filter(status, workflow, since, overdue, version)))
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def owned_executions(self, owner: str, statuses: Sequence[ExecutionStatus]) -> list[Execution]:
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(statements.OWNED, {
                "b_owner": owner, "b_statuses": [s.value for s in statuses]})]

    def running_executions(self, workflow: str | None = None) -> list[Execution]:
        query = select(executions).where(executions.c.status == RUNNING)
        if workflow is not None:
            query = query.where(executions.c.workflow == workflow)
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(query)]

    def claimed_pending(self) -> list[Execution]:
        """Pending executions some scheduler claimed but whose worker has not started."""
        query = select(executions).where(executions.c.status == PENDING,
                                         executions.c.claimed_by.is_not(None))
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(query)]

    def pending_for_progress(self, scheduler_id: str) -> tuple[int, set[int]]:
        """For ``scheduler --once``'s progress: pending executions not claimed by
        ``scheduler_id`` (a count), and the ids of those it claimed whose worker has not
        yet recorded its start (still ``pending`` in the table, but already its own).

        Its own are read first: a claim between the two reads moves an execution from the
        second set to the first, so it is then counted in neither (for one refresh), never
        in both."""
        c = executions.c
        pending = c.status == PENDING
        with self._read() as conn:
            claimed = {int(i) for i in conn.execute(
                select(c.id).where(pending, c.claimed_by == scheduler_id)).scalars()}
            others = conn.execute(select(func.count()).select_from(executions).where(
                pending, or_(c.claimed_by.is_(None), c.claimed_by != scheduler_id))).scalar()
        return int(others or 0), claimed

    def active_count(self, workflow: str) -> int:
        """Unfinished executions of ``workflow``: pending, running, or waiting for an
        approval (``overlap = "skip"``: a run that waits has not finished)."""
        query = select(func.count()).select_from(executions).where(
            executions.c.workflow == workflow,
            executions.c.status.in_([PENDING, RUNNING, ExecutionStatus.WAITING.value]))
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def pending_executions(self, limit: int = 1000) -> list[Execution]:
        """Pending executions, best first (what a claim would consider), at most ``limit``."""
        query = (select(executions).where(executions.c.status == PENDING)
                 .order_by(executions.c.priority.desc(), executions.c.created_at,
                           executions.c.id).limit(limit))
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(query)]

    def next_not_before(self, after: datetime) -> datetime | None:
        """The earliest future ``not_before`` of a pending execution (a retry's backoff)."""
        with self._read() as conn:
            return conn.execute(statements.NEXT_NOT_BEFORE, {"b_after": after}).scalar()

    def steps(self, execution_id: int) -> list[StepRecord]:
        query = (select(steps_table).where(steps_table.c.execution_id == execution_id)
                 .order_by(steps_table.c.position))
        with self._read() as conn:
            return [to_step(r) for r in conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        """How many executions are pending and running (indexed on status)."""
        query = (select(executions.c.status, func.count())
                 .where(executions.c.status.in_([PENDING, RUNNING]))
                 .group_by(executions.c.status))
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query)}


def _listing_filter(status: str | None, workflow: str | None, since: datetime | None,
                    overdue: bool = False, version: str | None = None) -> list[Any]:
    """The conditions of ``executions list``'s filters."""
    c = executions.c
    where: list[Any] = []
    if status:
        where.append(c.status == status)
    if workflow:
        where.append(c.workflow == workflow)
    if since is not None:
        where.append(c.created_at >= since)
    if overdue:
        where.append(c.overdue_at.is_not(None))
    if version:
        package, number = split_version_filter(version)
        where.append(c.workflow_version == number)
        if package is not None:
            where.append(c.workflow_package == package)
    return where


def _not_startable(execution_id: int, row: Any) -> ExecutionStateError:
    """Why a start's compare-and-set lost, as the error the worker reports."""
    if row.status != PENDING:
        return ExecutionStateError(
            f"execution {execution_id} is {row.status}, not pending; refusing to run it again")
    return ExecutionStateError(
        f"execution {execution_id} is claimed by scheduler {row.claimed_by}, which starts it")

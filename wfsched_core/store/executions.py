"""Executions: queueing, claiming, running, finishing and cancelling.

Every status change is a compare-and-set (``UPDATE ... WHERE id = ? AND status IN (...)``)
whose row count says whether this process won; the winner alone fires the event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

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
from wfsched_core.store.rows import (
    fetch,
    from_values,
    loads,
    new_execution_values,
    split_version_filter,
    to_execution,
)

PENDING = ExecutionStatus.PENDING.value
RUNNING = ExecutionStatus.RUNNING.value
# Extra candidates read per claim so that a few held back do not starve the others.
_HOLD_MARGIN = 20


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
    ) -> list[Execution]:
        """Insert ``count`` pending executions; a scheduled run that exists inserts nothing."""
        values = new_execution_values(
            workflow, priority=priority, attempt=attempt, params=json.dumps(params or {}),
            trigger=trigger.value, retry_of=retry_of, not_before=not_before,
            scheduled_for=scheduled_for, queue=queue)
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
        """
        if limit <= 0:
            return []
        now = now or utcnow()
        queue_key = None if queues is None else tuple(queues)
        verdicts = None if admit is None else self._admission_verdicts(
            admit, limit, queue_key, concurrency or {}, now)
        query = statements.claim_candidates(queue_key, self.skip_locked)
        claimed: list[Execution] = []
        with self._write() as conn:
            rows = conn.execute(query, {"b_now": now, "b_limit": limit + _HOLD_MARGIN}).all()
            active = self._lock_and_count_active(conn, {r.workflow for r in rows},
                                                 concurrency or {})
            for row in rows:
                if len(claimed) >= limit:
                    break
                cap = (concurrency or {}).get(row.workflow)
                reason = None
                if cap is not None and active.get(row.workflow, 0) >= cap:
                    reason = f"concurrency limit: {cap} of {row.workflow} already running"
                elif verdicts is not None:
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
                    claimed.append(replace(to_execution(row), claimed_by=owner,
                                           wait_reason=None))
        return claimed

    def _admission_verdicts(self, admit: Callable[[Execution], str | None], limit: int,
                            queue_key: tuple[str | None, ...] | None,
                            concurrency: Mapping[str, int], now: datetime,
                            ) -> dict[int, str | None]:
        """Ask ``admit`` about the candidates, best first, outside any transaction: until
        ``limit`` are admitted, and no more of a capped workflow than its cap (more could
        not run now anyway)."""
        with self._read() as conn:  # closed before any plugin code runs
            candidates = conn.execute(statements.claim_candidates(queue_key, False), {
                "b_now": now, "b_limit": limit + _HOLD_MARGIN}).all()
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
                               concurrency: Mapping[str, int]) -> dict[str, int]:
        """Lock the rows of the capped workflows among ``names`` and count their active runs."""
        capped = sorted(n for n in names if n in concurrency)
        if not capped:
            return {}
        if self.skip_locked:  # sorted order: two schedulers never wait on each other in a cycle
            conn.execute(select(workflows.c.name).where(workflows.c.name.in_(capped))
                         .order_by(workflows.c.name).with_for_update())
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
        name = first_step(execution.workflow) if first_step is not None else None
        step = self._insert_step(conn, execution_id, 1, name) if name else None
        return execution, step

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
            "b_result": json_or_repr(step.result)})

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
        raise ExecutionStateError(
            f"execution {execution_id} is already {row.status}; nothing to cancel")

    # --- reading ---------------------------------------------------------------------

    def get_execution(self, execution_id: int) -> Execution:
        with self._read() as conn:
            return to_execution(fetch(conn, execution_id))

    def list_executions(self, *, status: str | None = None, workflow: str | None = None,
                        limit: int = 50, version: str | None = None) -> list[Execution]:
        query = select(executions).order_by(executions.c.id.desc()).limit(limit)
        if status:
            query = query.where(executions.c.status == status)
        if workflow:
            query = query.where(executions.c.workflow == workflow)
        if version:
            package, number = split_version_filter(version)
            query = query.where(executions.c.workflow_version == number)
            if package is not None:
                query = query.where(executions.c.workflow_package == package)
        with self._read() as conn:
            return [to_execution(r) for r in conn.execute(query)]

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

    def active_count(self, workflow: str) -> int:
        """Pending and running executions of ``workflow``."""
        query = select(func.count()).select_from(executions).where(
            executions.c.workflow == workflow, executions.c.status.in_([PENDING, RUNNING]))
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
            return [StepRecord(r.execution_id, r.position, r.name, StepStatus(r.status),
                               r.started_at, r.finished_at, r.error, loads(r.result))
                    for r in conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        """How many executions are pending and running (indexed on status)."""
        query = (select(executions.c.status, func.count())
                 .where(executions.c.status.in_([PENDING, RUNNING]))
                 .group_by(executions.c.status))
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query)}


def _not_startable(execution_id: int, row: Any) -> ExecutionStateError:
    """Why a start's compare-and-set lost, as the error the worker reports."""
    if row.status != PENDING:
        return ExecutionStateError(
            f"execution {execution_id} is {row.status}, not pending; refusing to run it again")
    return ExecutionStateError(
        f"execution {execution_id} is claimed by scheduler {row.claimed_by}, which starts it")

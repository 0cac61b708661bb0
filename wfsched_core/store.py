"""The SQL store: every read and write of wfsched's tables, through SQLAlchemy Core.

Every status change is a compare-and-set (``UPDATE ... WHERE id = ? AND status IN (...)``)
whose row count says whether this process won; the winner alone fires the event. Claiming
takes rows with ``FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL,
MySQL/MariaDB) and under SQLite's single write lock (``BEGIN IMMEDIATE``) otherwise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from wfsched_core.db.engine import make_engine, mask_url
from wfsched_core.db.schema import SCHEMA_REVISION, schedulers, workflows
from wfsched_core.db.schema import workflow_execution_steps as steps_table
from wfsched_core.db.schema import workflow_executions as executions
from wfsched_core.errors import (
    DatabaseError,
    ExecutionStateError,
    SchemaOutOfDateError,
    UnknownExecutionError,
)
from wfsched_core.records import Execution, SchedulerRow, StepRecord, WorkflowRow, utcnow
from wfsched_core.status import ExecutionStatus, StepStatus, Trigger

log = logging.getLogger(__name__)

# Extra candidates read per claim so that a few held back by admission don't starve it.
_ADMISSION_MARGIN = 20


@dataclass
class Finished:
    """The outcome of a successful final compare-and-set."""

    execution: Execution
    retry: Execution | None = None


class SqlStore:
    """wfsched's tables in one SQL database (SQLite, PostgreSQL, MySQL/MariaDB)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self.single_scheduler = self.dialect == "sqlite"
        self._skip_locked = self.dialect in ("postgresql", "mysql", "mariadb")

    # --- connections and schema ------------------------------------------------------

    def describe(self) -> str:
        """The database URL with its password masked."""
        return mask_url(self.engine.url)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(wfsched_write=True)
                with conn.begin():
                    yield conn
        except (OperationalError, ProgrammingError) as exc:
            if exc.connection_invalidated or _is_connect_error(exc):
                raise DatabaseError(
                    f"cannot use the database {self.describe()}: {_first_line(exc)}"
                ) from exc
            raise

    def _write(self) -> Any:
        return self._connection(write=True)

    def _read(self) -> Any:
        return self._connection(write=False)

    def schema_revision(self) -> str | None:
        """The Alembic revision of the database, or None when it has no schema yet."""
        with self._read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self) -> None:
        """Create or migrate the schema (``wfsched db upgrade``)."""
        from wfsched_core.db.migrate import upgrade_schema

        try:
            upgrade_schema(self.engine)
        except OperationalError as exc:
            raise DatabaseError(f"cannot migrate {self.describe()}: {_first_line(exc)}")

    def ensure_schema(self, *, auto_create: bool = True) -> None:
        """Check the schema is current; create it on first use for SQLite only."""
        revision = self.schema_revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is None and auto_create and self.dialect == "sqlite":
            log.info("creating the wfsched schema in %s", self.describe())
            self.upgrade()
            return
        if revision is None:
            raise SchemaOutOfDateError(
                f"the database {self.describe()} has no wfsched schema; "
                "run: wfsched db upgrade"
            )
        raise SchemaOutOfDateError(
            f"the database {self.describe()} is at schema revision {revision}, this "
            f"wfsched needs {SCHEMA_REVISION}; run: wfsched db upgrade"
        )

    # --- workflows -------------------------------------------------------------------

    def sync_workflows(self, rows: Sequence[WorkflowRow]) -> None:
        """Insert or refresh the description and schedule of each workflow."""
        now = utcnow()
        with self._write() as conn:
            existing = {r.name for r in conn.execute(select(workflows.c.name))}
            for row in rows:
                values = {"description": row.description, "schedule": row.schedule,
                          "updated_at": now}
                if row.name in existing:
                    conn.execute(update(workflows).where(workflows.c.name == row.name)
                                 .values(**values))
                else:
                    conn.execute(workflows.insert().values(name=row.name, **values))

    def workflow_rows(self) -> dict[str, WorkflowRow]:
        with self._read() as conn:
            rows = conn.execute(select(workflows)).all()
        return {
            r.name: WorkflowRow(r.name, r.description, r.schedule, r.last_executed,
                                r.last_status)
            for r in rows
        }

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
        """Insert ``count`` pending executions; a duplicate scheduled run inserts nothing."""
        now = utcnow()
        values = {
            "workflow": workflow, "status": ExecutionStatus.PENDING.value,
            "priority": priority, "attempt": attempt, "params": json.dumps(params or {}),
            "trigger": trigger.value, "retry_of": retry_of, "not_before": not_before,
            "scheduled_for": scheduled_for, "queue": queue, "created_at": now,
            "cancel_requested": False,
        }  # fmt: skip
        created: list[Execution] = []
        try:
            with self._write() as conn:
                for _ in range(count):
                    result = conn.execute(executions.insert().values(**values))
                    new_id = result.inserted_primary_key[0]
                    created.append(_execution_from_values(new_id, values))
        except IntegrityError:
            if scheduled_for is None:
                raise
            return []  # another scheduler created this scheduled run first
        return created

    # --- claiming and running --------------------------------------------------------

    def claim_pending(
        self,
        owner: str,
        limit: int,
        *,
        admit: Callable[[Execution], str | None] | None = None,
        now: datetime | None = None,
    ) -> list[Execution]:
        """Atomically take up to ``limit`` pending executions for ``owner``.

        Highest priority first, then oldest. ``admit`` may hold one back by returning a
        reason, which is stored as its ``wait_reason``.
        """
        if limit <= 0:
            return []
        now = now or utcnow()
        query = (
            select(executions)
            .where(executions.c.status == ExecutionStatus.PENDING.value,
                   executions.c.claimed_by.is_(None),
                   or_(executions.c.not_before.is_(None), executions.c.not_before <= now))
            .order_by(executions.c.priority.desc(), executions.c.created_at, executions.c.id)
            .limit(limit + (_ADMISSION_MARGIN if admit else 0))
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        claimed: list[Execution] = []
        with self._write() as conn:
            for row in conn.execute(query).all():
                if len(claimed) >= limit:
                    break
                execution = _execution(row)
                reason = admit(execution) if admit else None
                if reason:
                    if reason != row.wait_reason:
                        conn.execute(update(executions).where(executions.c.id == row.id)
                                     .values(wait_reason=reason[:500]))
                    continue
                result = conn.execute(
                    update(executions)
                    .where(executions.c.id == row.id,
                           executions.c.status == ExecutionStatus.PENDING.value,
                           executions.c.claimed_by.is_(None))
                    .values(claimed_by=owner, claimed_at=now, wait_reason=None)
                )
                if result.rowcount == 1:
                    claimed.append(replace(execution, claimed_by=owner, wait_reason=None))
        return claimed

    def record_handle(self, execution_id: int, owner: str, spawner: str,
                      handle: dict[str, Any], pid: int | None) -> None:
        """Remember how to find the worker again (its spawner and handle)."""
        with self._write() as conn:
            values: dict[str, Any] = {"spawner": spawner, "worker_handle": json.dumps(handle)}
            if pid is not None:
                values["pid"] = pid
            conn.execute(update(executions)
                         .where(executions.c.id == execution_id,
                                executions.c.claimed_by == owner)
                         .values(**values))

    def adopt(self, execution_id: int, from_owner: str | None, to_owner: str) -> bool:
        """Take over an execution whose owner died (compare-and-set on the owner)."""
        cond = and_(executions.c.id == execution_id,
                    executions.c.status == ExecutionStatus.RUNNING.value)
        cond = and_(cond, executions.c.claimed_by.is_(None) if from_owner is None
                    else executions.c.claimed_by == from_owner)
        with self._write() as conn:
            result = conn.execute(update(executions).where(cond)
                                  .values(claimed_by=to_owner, claimed_at=utcnow()))
        return result.rowcount == 1

    def release_claims(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Give back pending executions ``owner`` claimed but never started."""
        cond = and_(executions.c.claimed_by == owner,
                    executions.c.status == ExecutionStatus.PENDING.value)
        if ids is not None:
            cond = and_(cond, executions.c.id.in_(list(ids)))
        with self._write() as conn:
            result = conn.execute(update(executions).where(cond)
                                  .values(claimed_by=None, claimed_at=None))
        return result.rowcount

    def start_execution(self, execution_id: int, owner: str | None, *, pid: int,
                        host: str, manual_owner: str) -> Execution:
        """Compare-and-set ``pending`` -> ``running`` for the worker that was told to run it.

        ``owner`` is the scheduler that claimed it (None when run by hand: then it must be
        unclaimed, and ``manual_owner`` becomes its owner).
        """
        now = utcnow()
        cond = and_(executions.c.id == execution_id,
                    executions.c.status == ExecutionStatus.PENDING.value)
        values: dict[str, Any] = {"status": ExecutionStatus.RUNNING.value, "started_at": now,
                                  "heartbeat_at": now, "pid": pid, "host": host,
                                  "wait_reason": None}
        if owner is None:
            cond = and_(cond, executions.c.claimed_by.is_(None))
            values.update(claimed_by=manual_owner, claimed_at=now)
        else:
            cond = and_(cond, executions.c.claimed_by == owner)
        with self._write() as conn:
            if conn.execute(update(executions).where(cond).values(**values)).rowcount != 1:
                row = _fetch(conn, execution_id)
                if row.status != ExecutionStatus.PENDING.value:
                    raise ExecutionStateError(
                        f"execution {execution_id} is {row.status}, not pending; "
                        "refusing to run it again"
                    )
                raise ExecutionStateError(
                    f"execution {execution_id} is claimed by scheduler {row.claimed_by}; "
                    "it will start it"
                )
            return _execution(_fetch(conn, execution_id))

    def heartbeat(self, execution_id: int) -> bool:
        """Refresh a running execution's heartbeat; True when a cancel was requested."""
        with self._write() as conn:
            conn.execute(update(executions)
                         .where(executions.c.id == execution_id,
                                executions.c.status == ExecutionStatus.RUNNING.value)
                         .values(heartbeat_at=utcnow()))
            flag = conn.execute(select(executions.c.cancel_requested)
                                .where(executions.c.id == execution_id)).scalar()
        return bool(flag)

    def start_step(self, execution_id: int, position: int, name: str) -> StepRecord:
        step = StepRecord(execution_id, position, name, StepStatus.RUNNING, utcnow())
        with self._write() as conn:
            conn.execute(steps_table.insert().values(
                execution_id=execution_id, position=position, name=name,
                status=step.status.value, started_at=step.started_at))
        return step

    def finish_step(self, step: StepRecord, status: StepStatus, *, error: str | None = None,
                    result: Any = None) -> StepRecord:
        done = replace(step, status=status, finished_at=utcnow(), error=error, result=result)
        with self._write() as conn:
            conn.execute(update(steps_table)
                         .where(steps_table.c.execution_id == step.execution_id,
                                steps_table.c.position == step.position)
                         .values(status=status.value, finished_at=done.finished_at,
                                 error=error, result=_json_or_repr(result)))
        return done

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
    ) -> Finished | None:
        """Compare-and-set to a final ``status``; None when another process got there first.

        With ``retry_at`` (a failure with retries left, not cancelled), the next attempt
        is queued in the same transaction, so a retry is never lost nor made twice.
        """
        now = utcnow()
        cond = and_(executions.c.id == execution_id,
                    executions.c.status.in_([s.value for s in expected]))
        if owner is not None:
            cond = and_(cond, executions.c.claimed_by == owner)
        with self._write() as conn:
            result = conn.execute(update(executions).where(cond).values(
                status=status.value, finished_at=now, exit_code=exit_code,
                error=error, error_detail=error_detail))
            if result.rowcount != 1:
                return None
            execution = _execution(_fetch(conn, execution_id))
            retry = None
            if retry_at is not None and status is ExecutionStatus.FAILED \
                    and not execution.cancel_requested:
                retry = self._insert_retry(conn, execution, retry_at)
            self._touch_workflow(conn, execution.workflow, now, status)
        return Finished(execution, retry)

    def _insert_retry(self, conn: Connection, failed: Execution, at: datetime) -> Execution:
        values = {
            "workflow": failed.workflow, "status": ExecutionStatus.PENDING.value,
            "priority": failed.priority, "attempt": failed.attempt + 1,
            "params": json.dumps(failed.params), "trigger": Trigger.RETRY.value,
            "retry_of": failed.id, "not_before": at, "scheduled_for": None,
            "queue": failed.queue, "created_at": utcnow(), "cancel_requested": False,
        }  # fmt: skip
        new_id = conn.execute(executions.insert().values(**values)).inserted_primary_key[0]
        return _execution_from_values(new_id, values)

    def _touch_workflow(self, conn: Connection, name: str, when: datetime,
                        status: ExecutionStatus) -> None:
        values = {"last_executed": when, "last_status": status.value}
        if conn.execute(update(workflows).where(workflows.c.name == name)
                        .values(**values)).rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(workflows.insert().values(name=name, **values))
            except IntegrityError:
                pass

    def request_cancel(self, execution_id: int) -> tuple[Execution, bool]:
        """Cancel a pending execution at once, or flag a running one for its owner to stop.

        Returns the execution and whether it is now ``cancelled`` (True) or flagged.
        """
        with self._write() as conn:
            row = _fetch(conn, execution_id)
            status = ExecutionStatus(row.status)
            if status is ExecutionStatus.PENDING:
                conn.execute(update(executions).where(
                    executions.c.id == execution_id,
                    executions.c.status == ExecutionStatus.PENDING.value,
                ).values(status=ExecutionStatus.CANCELLED.value, finished_at=utcnow(),
                         cancel_requested=True, error="cancelled before it started"))
                return _execution(_fetch(conn, execution_id)), True
            if status is ExecutionStatus.RUNNING:
                conn.execute(update(executions).where(executions.c.id == execution_id)
                             .values(cancel_requested=True))
                return _execution(_fetch(conn, execution_id)), False
        raise ExecutionStateError(
            f"execution {execution_id} is already {status.value}; nothing to cancel"
        )

    # --- reading ---------------------------------------------------------------------

    def get_execution(self, execution_id: int) -> Execution:
        with self._read() as conn:
            return _execution(_fetch(conn, execution_id))

    def list_executions(self, *, status: str | None = None, workflow: str | None = None,
                        limit: int = 50) -> list[Execution]:
        query = select(executions).order_by(executions.c.id.desc()).limit(limit)
        if status:
            query = query.where(executions.c.status == status)
        if workflow:
            query = query.where(executions.c.workflow == workflow)
        with self._read() as conn:
            return [_execution(r) for r in conn.execute(query)]

    def owned_executions(self, owner: str, statuses: Sequence[ExecutionStatus]) -> list[Execution]:
        query = select(executions).where(
            executions.c.claimed_by == owner,
            executions.c.status.in_([s.value for s in statuses]))
        with self._read() as conn:
            return [_execution(r) for r in conn.execute(query)]

    def running_executions(self) -> list[Execution]:
        query = select(executions).where(
            executions.c.status == ExecutionStatus.RUNNING.value)
        with self._read() as conn:
            return [_execution(r) for r in conn.execute(query)]

    def claimed_pending(self) -> list[Execution]:
        """Pending executions some scheduler claimed but whose worker has not started."""
        query = select(executions).where(
            executions.c.status == ExecutionStatus.PENDING.value,
            executions.c.claimed_by.is_not(None))
        with self._read() as conn:
            return [_execution(r) for r in conn.execute(query)]

    def release_claim_of(self, execution_id: int, owner: str) -> bool:
        """Give back one pending execution claimed by a scheduler that died."""
        with self._write() as conn:
            result = conn.execute(update(executions).where(
                executions.c.id == execution_id, executions.c.claimed_by == owner,
                executions.c.status == ExecutionStatus.PENDING.value,
            ).values(claimed_by=None, claimed_at=None))
        return result.rowcount == 1

    def steps(self, execution_id: int) -> list[StepRecord]:
        query = (select(steps_table).where(steps_table.c.execution_id == execution_id)
                 .order_by(steps_table.c.position))
        with self._read() as conn:
            return [
                StepRecord(r.execution_id, r.position, r.name, StepStatus(r.status),
                           r.started_at, r.finished_at, r.error, _loads(r.result))
                for r in conn.execute(query)
            ]

    def count_by_status(self) -> dict[str, int]:
        query = select(executions.c.status, func.count()).where(
            executions.c.status.in_([ExecutionStatus.PENDING.value,
                                     ExecutionStatus.RUNNING.value])
        ).group_by(executions.c.status)
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query)}

    # --- schedulers ------------------------------------------------------------------

    def register_scheduler(self, row: SchedulerRow) -> None:
        with self._write() as conn:
            conn.execute(schedulers.insert().values(
                id=row.id, host=row.host, pid=row.pid, started_at=row.started_at,
                heartbeat_at=row.heartbeat_at, version=row.version,
                max_concurrent=row.max_concurrent))

    def scheduler_heartbeat(self, scheduler_id: str) -> None:
        with self._write() as conn:
            conn.execute(update(schedulers).where(schedulers.c.id == scheduler_id)
                         .values(heartbeat_at=utcnow()))

    def scheduler_stopped(self, scheduler_id: str) -> None:
        with self._write() as conn:
            conn.execute(update(schedulers).where(schedulers.c.id == scheduler_id)
                         .values(stopped_at=utcnow()))

    def list_schedulers(self, *, active_only: bool = False) -> list[SchedulerRow]:
        query = select(schedulers).order_by(schedulers.c.started_at.desc())
        if active_only:
            query = query.where(schedulers.c.stopped_at.is_(None))
        with self._read() as conn:
            return [
                SchedulerRow(r.id, r.host, r.pid, r.started_at, r.heartbeat_at, r.version,
                             r.stopped_at, r.max_concurrent)
                for r in conn.execute(query)
            ]

    def expired_before(self, seconds: float) -> datetime:
        return utcnow() - timedelta(seconds=seconds)


def _fetch(conn: Connection, execution_id: int) -> Row[Any]:
    row = conn.execute(select(executions).where(executions.c.id == execution_id)).first()
    if row is None:
        raise UnknownExecutionError(f"no execution with id {execution_id}")
    return row


def _execution(row: Any) -> Execution:
    return Execution(
        id=row.id, workflow=row.workflow, status=ExecutionStatus(row.status),
        priority=row.priority, attempt=row.attempt, params=_loads(row.params) or {},
        trigger=Trigger(row.trigger), retry_of=row.retry_of, scheduled_for=row.scheduled_for,
        queue=row.queue, created_at=row.created_at, not_before=row.not_before,
        claimed_by=row.claimed_by, started_at=row.started_at, finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at, pid=row.pid, host=row.host, spawner=row.spawner,
        worker_handle=_loads(row.worker_handle), exit_code=row.exit_code, error=row.error,
        error_detail=row.error_detail, cancel_requested=bool(row.cancel_requested),
        wait_reason=row.wait_reason,
    )  # fmt: skip


def _execution_from_values(new_id: int, values: dict[str, Any]) -> Execution:
    fields = dict(values, id=new_id, params=json.loads(values["params"]))
    fields["status"] = ExecutionStatus(fields["status"])
    fields["trigger"] = Trigger(fields["trigger"])
    return Execution(**fields)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _json_or_repr(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(repr(value))


def _is_connect_error(exc: SADatabaseError) -> bool:
    text_ = str(exc.orig).lower()
    return any(word in text_ for word in (
        "connect", "password", "access denied", "unable to open", "timeout", "timed out",
        "could not translate host", "name or service", "unknown database", "does not exist",
    ))  # fmt: skip


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]

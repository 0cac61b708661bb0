"""Concurrency keys and rate limits inside the claim's transaction (issue 17).

The claim locks the rows (in ``workflows``) of every workflow it may take executions of
and that has a limit, before its first plain read, so two schedulers never count the
same free place: the same mechanism as a workflow's ``concurrency``. Then the gate reads,
once per claim, how many executions of each (workflow, key) are active and when the
recent ones started, and answers for each candidate whether it may start now.

A start counts in a rate window by its recorded ``started_at``; one that a scheduler has
claimed but whose worker has not started yet counts as starting now (it will start at
once), so the recorded start times themselves hold the limit, whatever the delay between
claim and start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from wfsched_core.authoring.flow_limits import FlowLimits
from wfsched_core.base.records import isoformat
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.db.schema import workflow_executions as executions

PENDING = ExecutionStatus.PENDING.value
RUNNING = ExecutionStatus.RUNNING.value
Group = tuple[str, str | None]  # (workflow, key): key None when counted per workflow

# running, or claimed by a scheduler that is about to start it
_ACTIVE = or_(executions.c.status == RUNNING,
              and_(executions.c.status == PENDING, executions.c.claimed_by.is_not(None)))
_CLAIMED_NOT_STARTED = and_(executions.c.status == PENDING,
                            executions.c.claimed_by.is_not(None))


class FlowGate:
    """The per-key and rate counts of one claim, kept up to date as it takes rows."""

    def __init__(self, flow: Mapping[str, FlowLimits], now: datetime) -> None:
        self.flow = flow
        self.now = now
        self.keys: dict[int, str | None] = {}  # candidate id -> its key
        self.active: dict[Group, int] = {}
        self.starts: dict[Group, list[datetime]] = {}

    @classmethod
    def read(cls, conn: Connection, rows: Iterable[Any], flow: Mapping[str, FlowLimits],
             now: datetime) -> FlowGate:
        """Fill in missing keys of the candidates and read the counts they need (the
        workflows' rows are locked already)."""
        gate = cls(flow, now)
        limited = [row for row in rows if row.workflow in flow]
        gate._fill_keys(conn, limited)
        gate._count_active(conn, limited)
        gate._read_starts(conn, {row.workflow for row in limited})
        return gate

    def hold(self, row: Any) -> tuple[str, datetime | None] | None:
        """Why ``row`` must wait, and (for a rate limit) from when it may start; None
        when it may start now."""
        limits = self.flow.get(row.workflow)
        if limits is None:
            return None
        key = self.keys.get(row.id)
        if limits.key is not None:
            running = self.active.get((row.workflow, key), 0)
            if running >= limits.per_key:
                return (f"concurrency key {_shown(key)}: {running} of "
                        f"{limits.per_key} already running"), None
        if limits.rate is not None:
            times = sorted(self.starts.get(self._rate_group(row.workflow, key), []))
            if len(times) >= limits.rate.count:
                may_start = times[len(times) - limits.rate.count] + timedelta(
                    seconds=limits.rate.seconds)
                where = f" for key {_shown(key)}" if limits.key is not None else ""
                return (f"rate limit {limits.rate.describe()}{where}: may start at "
                        f"{isoformat(may_start)}"), may_start
        return None

    def took(self, row: Any) -> None:
        """``row`` was claimed: it is active and starts now."""
        limits = self.flow.get(row.workflow)
        if limits is None:
            return
        key = self.keys.get(row.id)
        if limits.key is not None:
            self.active[(row.workflow, key)] = self.active.get((row.workflow, key), 0) + 1
        if limits.rate is not None:
            self.starts.setdefault(self._rate_group(row.workflow, key), []).append(self.now)

    def _rate_group(self, workflow: str, key: str | None) -> Group:
        return (workflow, key if self.flow[workflow].key is not None else None)

    def _fill_keys(self, conn: Connection, rows: list[Any]) -> None:
        """Each candidate's key; one queued without it (by a dependency, or before the
        workflow had a key) gets it now, stored, so that it counts once it runs."""
        for row in rows:
            limits = self.flow[row.workflow]
            key = row.concurrency_key
            if key is None and limits.key is not None:
                key = limits.key_for(json.loads(row.params or "{}"))
                conn.execute(update(executions).where(executions.c.id == row.id)
                             .values(concurrency_key=key))
            self.keys[row.id] = key

    def _count_active(self, conn: Connection, rows: list[Any]) -> None:
        by_workflow: dict[str, set[str | None]] = {}
        for row in rows:
            if self.flow[row.workflow].key is not None:
                by_workflow.setdefault(row.workflow, set()).add(self.keys[row.id])
        for workflow, keys in by_workflow.items():
            query = (select(executions.c.concurrency_key, func.count())
                     .where(executions.c.workflow == workflow,
                            executions.c.concurrency_key.in_(keys), _ACTIVE)
                     .group_by(executions.c.concurrency_key))
            for key, count in conn.execute(query):
                self.active[(workflow, key)] = int(count)

    def _read_starts(self, conn: Connection, workflows: set[str]) -> None:
        for workflow in sorted(workflows):
            rate = self.flow[workflow].rate
            if rate is None:
                continue
            since = self.now - timedelta(seconds=rate.seconds)
            query = select(executions.c.concurrency_key, executions.c.started_at).where(
                executions.c.workflow == workflow,
                or_(executions.c.started_at > since, _CLAIMED_NOT_STARTED))
            for key, started_at in conn.execute(query):
                when = started_at if started_at is not None else self.now
                self.starts.setdefault(self._rate_group(workflow, key), []).append(when)


def _shown(key: str | None) -> str:
    return "(empty)" if not key else repr(key) if len(key) <= 60 else repr(key[:57] + "...")

"""The registry of scheduler processes (id, host, pid, heartbeat, version)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from wfsched_core.base.records import SchedulerRow, utcnow
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import schedulers


class SchedulerRegistryMixin(StoreBase):
    """Schedulers register, heartbeat and sign off; the others read who is alive."""

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

    def list_schedulers(self, *, active_only: bool = False, limit: int | None = 100,
                        heartbeat_since: datetime | None = None) -> list[SchedulerRow]:
        """Newest first; ``active_only`` leaves out those that signed off;
        ``heartbeat_since`` keeps only those that heartbeat since then."""
        query = select(schedulers).order_by(schedulers.c.started_at.desc()).limit(limit)
        if active_only:
            query = query.where(schedulers.c.stopped_at.is_(None))
        if heartbeat_since is not None:
            query = query.where(schedulers.c.heartbeat_at >= heartbeat_since)
        with self._read() as conn:
            return [SchedulerRow(r.id, r.host, r.pid, r.started_at, r.heartbeat_at, r.version,
                                 r.stopped_at, r.max_concurrent) for r in conn.execute(query)]

    def expired_before(self, seconds: float) -> datetime:
        """The instant before which a heartbeat means its owner is dead."""
        return utcnow() - timedelta(seconds=seconds)

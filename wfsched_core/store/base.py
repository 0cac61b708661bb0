"""Connections, transactions and the schema: what every part of the store stands on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from wfsched_core.base.errors import DatabaseError, SchemaOutOfDateError
from wfsched_core.store.db.engine import make_engine, mask_url
from wfsched_core.store.db.schema import SCHEMA_REVISION
from wfsched_core.store.db.sqlite_local import (
    WriterGate,
    fifos_available,
    poke,
    sqlite_database_path,
    wake_path,
)
from wfsched_core.store.rows import first_line, is_connect_error
from wfsched_core.store.wake import NOTIFY_CHANNEL, start_wake_listener

if TYPE_CHECKING:
    from wfsched_core.store.scheduler_lock import SqliteSchedulerLock

log = logging.getLogger(__name__)

# The connection-info key that asks for the SQLite wake FIFO to be poked after commit.
_WAKE = "wfsched_wake"


class StoreBase:
    """The engine, the transaction helpers and the schema checks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        #: SQLite cannot share work between schedulers (no row locks): one at a time.
        self.single_scheduler = self.dialect == "sqlite"
        self.skip_locked = self.dialect in ("postgresql", "mysql", "mariadb")
        self.can_listen = self.dialect == "postgresql"
        #: SQLite on a file: writers queue on a lock file, new work pokes a FIFO
        self.sqlite_path = (sqlite_database_path(self.engine.url.database)
                            if self.dialect == "sqlite" else None)
        self._gate = WriterGate(self.sqlite_path) \
            if self.sqlite_path and WriterGate.available() else None
        self.wake_fifo = wake_path(self.sqlite_path) \
            if self.sqlite_path and fifos_available() else None

    def start_wake_listener(self, wake: threading.Event) -> Any:
        """Start hearing new work at once: a thread that sets ``wake`` when a trigger, a
        retry or a finished execution is committed (PostgreSQL: LISTEN; a SQLite file: a
        FIFO beside it); something with ``stop()``, or None where polling is all there is
        (MySQL/MariaDB). Nothing depends on it for correctness."""
        return start_wake_listener(self, wake)

    def exclusive_scheduler_lock(self) -> SqliteSchedulerLock | None:
        """The lock a scheduler must hold for the whole of its run when the database
        allows only one scheduler (a SQLite file), not yet taken; None when several
        schedulers may share the database."""
        if not (self.single_scheduler and self.sqlite_path):
            return None
        from wfsched_core.store.scheduler_lock import SqliteSchedulerLock

        return SqliteSchedulerLock(self.sqlite_path)

    def describe(self) -> str:
        """The database URL with its password masked."""
        return mask_url(self.engine.url)

    def dispose(self) -> None:
        """Close every connection of this process (and the SQLite writer gate's file)."""
        self.engine.dispose()
        if self._gate is not None:
            self._gate.close()

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        gate = self._gate.hold() if write and self._gate is not None else nullcontext()
        wake = False
        try:
            with gate, self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(wfsched_write=True)
                with conn.begin():
                    yield conn
                    wake = conn.info.pop(_WAKE, False)
        except (OperationalError, ProgrammingError) as exc:
            if exc.connection_invalidated or is_connect_error(exc):
                raise DatabaseError(
                    f"cannot use the database {self.describe()}: {first_line(exc)}"
                ) from exc
            raise
        if wake and self.wake_fifo:  # committed: the scheduler will see the rows
            poke(self.wake_fifo)

    def _write(self) -> Any:
        """A writing transaction (SQLite: the write lock is taken up front)."""
        return self._connection(write=True)

    def _read(self) -> Any:
        return self._connection(write=False)

    def _no_self_wake(self, conn: Connection) -> None:
        """Skip the SQLite wake-up this transaction asked for: its writer is the one
        scheduler of the database, which wakes itself (a poke would only wake it again)."""
        conn.info.pop(_WAKE, None)

    def _notify(self, conn: Connection) -> None:
        """Wake idle schedulers (PostgreSQL LISTEN/NOTIFY; delivered at commit)."""
        if self.can_listen:
            conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        elif self.wake_fifo:
            conn.info[_WAKE] = True  # poked by _connection once committed

    # --- schema ---------------------------------------------------------------------

    def schema_revision(self) -> str | None:
        """The Alembic revision of the database, or None when it has no schema yet."""
        with self._read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self) -> None:
        """Create or migrate the schema (``wfsched db upgrade``)."""
        from wfsched_core.store.db.migrate import upgrade_schema

        try:
            upgrade_schema(self.engine)
        except OperationalError as exc:
            raise DatabaseError(f"cannot migrate {self.describe()}: {first_line(exc)}")

    def ensure_schema(self, *, auto_create: bool = True) -> None:
        """Check the schema is current; create or migrate it on first use for SQLite only."""
        revision = self.schema_revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is not None and revision > SCHEMA_REVISION:
            raise SchemaOutOfDateError(
                f"the database {self.describe()} is at schema revision {revision}, newer "
                f"than this wfsched knows ({SCHEMA_REVISION}); upgrade wfsched")
        if auto_create and self.dialect == "sqlite":
            log.info("bringing the wfsched schema of %s up to date", self.describe())
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

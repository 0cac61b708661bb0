"""The short path of the commands a person types, on a SQLite file: ``sqlite3``, no SQLAlchemy.

Importing SQLAlchemy takes longer than ``wfsched trigger`` and ``wfsched executions
list`` may take in all (issue 13: 150 ms), so on a SQLite file ``trigger``, ``executions
list|show``, ``logs`` and ``cancel`` queue, read and cancel executions through the
standard library's driver, with the SQL of ``SqlStore`` written out: the same rows, the
same records, the same writer gate, busy timeout and wake FIFO. Only what those commands
need is here (``cancel`` stopping a worker itself, which is rare, hands its final write
to ``SqlStore``). Every case this path does not cover (another database, a URL with
options, a file that does not exist yet or whose schema is not current, a plugin's own
store) goes through ``SqlStore``, which creates, migrates or explains as it always did.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import DatabaseError, ExecutionStateError, UnknownExecutionError
from wfsched_core.base.records import Execution, StepRecord, utcnow
from wfsched_core.base.status import ExecutionStatus, Trigger
from wfsched_core.store.db.revision import SCHEMA_REVISION
from wfsched_core.store.db.sqlite_local import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_PRAGMAS,
    WriterGate,
    fifos_available,
    poke,
    sqlite_database_path,
    wake_path,
)
from wfsched_core.store.rows import (
    first_line,
    from_values,
    is_connect_error,
    new_execution_values,
    split_version_filter,
    to_execution,
    to_step,
)

if TYPE_CHECKING:
    from wfsched_core.store.sql_store import Finished, SqlStore

PENDING = ExecutionStatus.PENDING.value
RUNNING = ExecutionStatus.RUNNING.value
# URL prefixes of the default SQLite driver (pysqlite is the standard library's sqlite3).
_PLAIN_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
# Columns stored as timestamps: SQLAlchemy writes them as text in this form on SQLite.
_TIMESTAMPS = frozenset({"scheduled_for", "created_at", "not_before", "claimed_at",
                         "started_at", "finished_at", "heartbeat_at", "waiting_since",
                         "approval_at", "overdue_at"})


def open_direct_store(url: str) -> SqliteDirectStore | None:
    """The direct store of a plain SQLite file URL whose schema is current, else None
    (the caller then uses ``SqlStore``, which handles every other case)."""
    path = _plain_sqlite_path(url)
    if path is None or not os.path.isfile(path):
        return None
    store = SqliteDirectStore(url, path)
    try:
        current = store.schema_revision() == SCHEMA_REVISION
    except (DatabaseError, sqlite3.Error):
        current = False  # let SqlStore say what is wrong, in its words
    if not current:
        store.dispose()
        return None
    return store


def _plain_sqlite_path(url: str) -> str | None:
    """The file of ``sqlite:///PATH`` (no query, no escapes), else None."""
    for prefix in _PLAIN_PREFIXES:
        if url.startswith(prefix):
            database = url[len(prefix):]
            if not database or any(c in database for c in "?#%"):
                return None
            return sqlite_database_path(database)
    return None


def sqlite_timestamp(value: datetime) -> str:
    """A timestamp as SQLAlchemy's SQLite ``DateTime`` stores it."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _converted(row: sqlite3.Row) -> SimpleNamespace:
    """A row with its timestamps as datetimes, readable by attribute like SQLAlchemy's."""
    return SimpleNamespace(**{
        key: datetime.fromisoformat(row[key]) if key in _TIMESTAMPS and row[key] else row[key]
        for key in row.keys()  # noqa: SIM118 - sqlite3.Row is not a mapping
    })


def _listing_filter(status: str | None, workflow: str | None, since: datetime | None,
                    overdue: bool = False,
                    version: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (with its values) of ``executions list``'s filters."""
    package, number = split_version_filter(version) if version else (None, None)
    conditions = [(sql, value) for sql, value in (
        ("status = ?", status), ("workflow = ?", workflow),
        ("created_at >= ?", sqlite_timestamp(since) if since else None),
        ("workflow_version = ?", number), ("workflow_package = ?", package)) if value]
    clauses = [sql for sql, _ in conditions] + (["overdue_at IS NOT NULL"] if overdue else [])
    where = " AND ".join(clauses)
    return (f" WHERE {where}" if where else ""), tuple(value for _, value in conditions)


class SqliteDirectStore:
    """Queueing, reading and cancelling executions in one SQLite file through ``sqlite3``."""

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self.sqlite_path = path
        self._gate = WriterGate(path) if WriterGate.available() else None
        self.wake_fifo = wake_path(path) if fifos_available() else None
        self._conn: sqlite3.Connection | None = None
        self._full: SqlStore | None = None

    def describe(self) -> str:
        """The database URL (a SQLite URL has no password to mask)."""
        return self.url

    def dispose(self) -> None:
        """Close the connection and the writer gate's file."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._gate is not None:
            self._gate.close()
        if self._full is not None:
            self._full.dispose()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The connection (opened once), with a driver error that says the database
        cannot be used turned into our one-line error, as ``SqlStore`` does."""
        try:
            if self._conn is None:
                conn = sqlite3.connect(self.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                                       isolation_level=None)
                conn.row_factory = sqlite3.Row
                for pragma in SQLITE_PRAGMAS:
                    conn.execute(pragma)
                self._conn = conn
            yield self._conn
        except sqlite3.OperationalError as exc:
            if is_connect_error(exc):
                raise DatabaseError(
                    f"cannot use the database {self.describe()}: {first_line(exc)}") from exc
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A writing transaction: the writer gate, then SQLite's write lock up front
        (``BEGIN IMMEDIATE``), as ``SqlStore`` takes them."""
        gate = self._gate.hold() if self._gate is not None else nullcontext()
        with gate, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _full_store(self) -> SqlStore:
        """``SqlStore`` on the same file (what the built-in store hook returns), built
        the first time something outside this path is needed."""
        if self._full is None:
            from wfsched_core.store.sql_store import SqlStore

            self._full = SqlStore(self.url)
        return self._full

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[SimpleNamespace]:
        with self._connection() as conn:
            return [_converted(row) for row in conn.execute(sql, params).fetchall()]

    def schema_revision(self) -> str | None:
        """The Alembic revision of the database, or None when it has no schema yet."""
        with self._connection() as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'alembic_version'").fetchone() is None:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])

    def enqueue(self, workflow: str, *, params: dict[str, Any] | None = None,
                priority: int = 0, count: int = 1, trigger: Trigger = Trigger.MANUAL,
                queue: str | None = None,
                concurrency_key: str | None = None) -> list[Execution]:
        """Insert ``count`` pending executions (``SqlStore.enqueue`` without a schedule)."""
        values = new_execution_values(
            workflow, priority=priority, params=json.dumps(params or {}),
            trigger=trigger.value, queue=queue, concurrency_key=concurrency_key)
        stored = {key: sqlite_timestamp(v) if isinstance(v, datetime)
                  else int(v) if isinstance(v, bool) else v for key, v in values.items()}
        columns = ", ".join(f'"{key}"' for key in stored)
        insert = (f"INSERT INTO workflow_executions ({columns}) "
                  f"VALUES ({', '.join('?' for _ in stored)})")
        created: list[Execution] = []
        with self._write() as conn:
            for _ in range(count):
                new_id = conn.execute(insert, tuple(stored.values())).lastrowid
                created.append(from_values(int(new_id or 0), values))
        if self.wake_fifo:  # committed: the scheduler will see the rows
            poke(self.wake_fifo)
        return created

    def request_cancel(self, execution_id: int) -> tuple[Execution, bool]:
        """Cancel a pending execution at once, or flag a running one for its owner to
        stop (``SqlStore.request_cancel``): the execution, and whether it is cancelled."""
        with self._write() as conn:
            status = self._status(conn, execution_id)
            if status == PENDING:
                conn.execute(
                    "UPDATE workflow_executions SET status = ?, finished_at = ?, "
                    "cancel_requested = 1, error = ? WHERE id = ? AND status = ?",
                    (ExecutionStatus.CANCELLED.value, sqlite_timestamp(utcnow()),
                     "cancelled before it started", execution_id, PENDING))
                return self._fetch(conn, execution_id), True
            if status == RUNNING:
                conn.execute("UPDATE workflow_executions SET cancel_requested = 1 "
                             "WHERE id = ?", (execution_id,))
                return self._fetch(conn, execution_id), False
        if status == ExecutionStatus.WAITING.value:  # ends here, as SqlStore ends it
            return self._full_store().request_cancel(execution_id)
        raise ExecutionStateError(
            f"execution {execution_id} is already {status}; nothing to cancel")

    def finish_execution(self, execution_id: int, status: ExecutionStatus,
                         **outcome: Any) -> Finished | None:
        """``SqlStore.finish_execution`` (``cancel`` stopping a worker itself: rare, and
        the only write here that also touches retries, dependents and workflows)."""
        return self._full_store().finish_execution(execution_id, status, **outcome)

    def get_execution(self, execution_id: int) -> Execution:
        with self._connection() as conn:
            return self._fetch(conn, execution_id)

    @staticmethod
    def _row(conn: sqlite3.Connection, execution_id: int) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM workflow_executions WHERE id = ?",
                           (execution_id,)).fetchone()
        if row is None:
            raise UnknownExecutionError(f"no execution with id {execution_id}")
        return row

    def _fetch(self, conn: sqlite3.Connection, execution_id: int) -> Execution:
        return to_execution(_converted(self._row(conn, execution_id)))

    def _status(self, conn: sqlite3.Connection, execution_id: int) -> str:
        return str(self._row(conn, execution_id)["status"])

    def list_executions(self, *, status: str | None = None, workflow: str | None = None,
                        limit: int = 50, offset: int = 0,
                        since: datetime | None = None, overdue: bool = False,
                        version: str | None = None) -> list[Execution]:
        where, values = _listing_filter(status, workflow, since, overdue, version)
        sql = f"SELECT * FROM workflow_executions{where} ORDER BY id DESC LIMIT ? OFFSET ?"
        return [to_execution(row) for row in self._query(sql, (*values, limit, offset))]

    def count_executions(self, *, status: str | None = None, workflow: str | None = None,
                         since: datetime | None = None, overdue: bool = False,
                         version: str | None = None) -> int:
        where, values = _listing_filter(status, workflow, since, overdue, version)
        with self._connection() as conn:
            row = conn.execute(f"SELECT count(*) FROM workflow_executions{where}",
                               values).fetchone()
        return int(row[0])

    def steps(self, execution_id: int) -> list[StepRecord]:
        rows = self._query("SELECT * FROM workflow_execution_steps WHERE execution_id = ? "
                           "ORDER BY position", (execution_id,))
        return [to_step(r) for r in rows]

"""The sqlite3 path of the everyday commands gives what ``SqlStore`` gives, row for row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from wfsched_core.base.errors import ExecutionStateError, UnknownExecutionError
from wfsched_core.base.records import utcnow
from wfsched_core.base.status import ExecutionStatus, StepStatus, Trigger
from wfsched_core.store import SqlStore
from wfsched_core.store.sqlite_direct import SqliteDirectStore, open_direct_store


@pytest.fixture
def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'wfsched.db'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[SqlStore]:
    store = SqlStore(sqlite_url)
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def direct(store: SqlStore, sqlite_url: str) -> Iterator[SqliteDirectStore]:
    direct = open_direct_store(sqlite_url)
    assert direct is not None
    yield direct
    direct.dispose()


def _finished_with_steps(store: SqlStore) -> int:
    """An execution that ran two steps and failed in the second, with a traceback."""
    [execution] = store.enqueue("etl", params={"rows": 3, "who": "ü"}, priority=4,
                                queue="reports")
    [claimed] = store.claim_pending("sched-1", 1)
    started, first = store.start_running(claimed.id, "sched-1", pid=4321, host="h1",
                                         manual_owner="-", first_step=lambda _w: "extract")
    assert first is not None
    done = replace(first, status=StepStatus.COMPLETED, finished_at=utcnow(), result={"n": 3})
    second = store.advance_step(execution.id, done, 2, "load")
    failed = replace(second, status=StepStatus.FAILED, finished_at=utcnow(), error="boom")
    store.finish_execution(execution.id, ExecutionStatus.FAILED, exit_code=1, error="boom",
                           error_detail="Traceback ...\nValueError: boom", last_step=failed)
    return execution.id


def test_reads_are_the_same_records(store: SqlStore, direct: SqliteDirectStore) -> None:
    ran = _finished_with_steps(store)
    store.enqueue("hello", count=3)
    store.request_cancel(store.list_executions(limit=1)[0].id)
    for kwargs in ({}, {"limit": 2}, {"status": "pending"}, {"workflow": "etl"},
                   {"status": "failed", "workflow": "etl"}, {"workflow": "none"}):
        assert direct.list_executions(**kwargs) == store.list_executions(**kwargs), kwargs
    assert direct.get_execution(ran) == store.get_execution(ran)
    assert direct.steps(ran) == store.steps(ran)
    assert [s.status for s in direct.steps(ran)] == [StepStatus.COMPLETED, StepStatus.FAILED]
    assert direct.get_execution(ran).to_json(full=True) == store.get_execution(ran).to_json(
        full=True)


def test_queued_rows_are_what_sqlstore_reads_back(store: SqlStore,
                                                  direct: SqliteDirectStore) -> None:
    created = direct.enqueue("hello", params={"who": "x"}, priority=2, count=2,
                             trigger=Trigger.MANUAL, queue="q1")
    assert [e.id for e in created] == [1, 2]
    for execution in created:
        assert store.get_execution(execution.id) == execution  # the hook saw the real row
    assert [e.id for e in store.claim_pending("sched-1", 5, queues=["q1"])] == [1, 2]


def test_unknown_execution_is_the_same_error(direct: SqliteDirectStore) -> None:
    with pytest.raises(UnknownExecutionError, match="no execution with id 999"):
        direct.get_execution(999)


@pytest.mark.parametrize("url", [
    "postgresql://u:p@localhost/db",
    "sqlite://",                      # in memory
    "sqlite:///:memory:",
    "sqlite:///{home}/wfsched.db?timeout=1",
    "sqlite:///{home}/missing.db",    # SqlStore creates it
])
def test_other_urls_take_the_full_store(url: str, home: Path) -> None:
    assert open_direct_store(url.format(home=home)) is None


def test_a_database_without_the_current_schema_takes_the_full_store(
        store: SqlStore, sqlite_url: str) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    assert open_direct_store(sqlite_url) is None  # SqlStore says what to do about it


def test_a_plugin_store_is_used_instead(sqlite_url: str, home: Path) -> None:
    """A plugin that provides a store of its own is asked, even on a SQLite file."""
    from wfsched_core.app import App
    from wfsched_core.framework.hookspecs import hookimpl
    from wfsched_core.framework.plugin_manager import get_plugin_manager

    store = SqlStore(sqlite_url)
    store.upgrade()

    class OwnStore:
        @hookimpl
        def wfsched_store(self, url: str, settings: object) -> SqlStore:
            return store

    (home / "wfsched.toml").write_text("")
    app = App(database_url=sqlite_url, config_file=str(home / "wfsched.toml"))
    app.__dict__["plugin_manager"] = get_plugin_manager(
        app.settings, load_entrypoints=False, extra_plugins=(("own-store", OwnStore()),))
    assert app.quick_store is store
    store.dispose()


def test_cancel_requests_match_sqlstore(store: SqlStore, direct: SqliteDirectStore) -> None:
    pending, running, ended = (e.id for e in store.enqueue("hello", count=3))
    for execution_id in (running, ended):
        store.start_running(execution_id, None, pid=1, host="h", manual_owner="by-hand")
    store.finish_execution(ended, ExecutionStatus.COMPLETED)

    execution, cancelled_now = direct.request_cancel(pending)
    assert cancelled_now and execution == store.get_execution(pending)
    assert (execution.status, execution.error, execution.cancel_requested) == (
        ExecutionStatus.CANCELLED, "cancelled before it started", True)
    execution, cancelled_now = direct.request_cancel(running)
    assert not cancelled_now and execution == store.get_execution(running)
    assert execution.status is ExecutionStatus.RUNNING and execution.cancel_requested
    for execution_id, status in ((ended, "completed"), (pending, "cancelled")):
        with pytest.raises(ExecutionStateError,
                           match=f"execution {execution_id} is already {status}; nothing"):
            direct.request_cancel(execution_id)
    with pytest.raises(UnknownExecutionError, match="no execution with id 999"):
        direct.request_cancel(999)


def test_a_file_that_is_not_a_database_takes_the_full_store(home: Path) -> None:
    (home / "junk.db").write_bytes(b"not a database at all" * 100)
    assert open_direct_store(f"sqlite:///{home / 'junk.db'}") is None

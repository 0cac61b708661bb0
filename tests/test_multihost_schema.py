"""The shared engine's plumbing: migrations on every database kind, and the wake-up.

- ``wfsched db upgrade`` on an empty SQLite, PostgreSQL and MariaDB database builds
  exactly the schema that ``wfsched_core/store/db/schema.py`` declares (Alembic's
  ``compare_metadata`` finds no difference), at the revision the code expects.
- An idle scheduler is woken by a trigger long before its poll interval: on PostgreSQL
  by the trigger's NOTIFY, on SQLite through the FIFO beside the database (the latency
  itself is measured by ``bench/``, not here).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest
from helpers import TEST_CONFIG, Wfsched, wait_until
from sqlalchemy import text

from wfsched_core.store.db.engine import make_engine


@pytest.mark.parametrize("db_kind", ["sqlite", "postgresql", "mariadb"])
def test_migrations_from_empty_build_the_declared_schema(db_kind: str, home: Path,
                                                          database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from wfsched_core.store.db.migrate import head_revision
    from wfsched_core.store.db.schema import SCHEMA_REVISION, metadata

    runner = Wfsched(home, database_url, [])
    runner.run("db", "upgrade")
    runner.run("db", "upgrade")  # a second run finds nothing to do
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            revision = context.get_current_revision()
    finally:
        engine.dispose()
    assert differences == [], f"migrations and schema.py disagree on {db_kind}"
    assert revision == SCHEMA_REVISION == head_revision()


def _idle_config() -> str:
    """Nothing but a NOTIFY may wake the scheduler: 30 s polls and heartbeats."""
    config = TEST_CONFIG
    for old, new in (("poll_interval = 0.2", "poll_interval = 30"),
                     ("heartbeat_interval = 0.5", "heartbeat_interval = 30"),
                     ("heartbeat_timeout = 5", "heartbeat_timeout = 120")):
        assert old in config
        config = config.replace(old, new)
    return config


def _listening(wf: Wfsched, db_kind: str, scheduler_pid: int) -> bool:
    """Whether the scheduler listens: a LISTEN session, or the wake FIFO open."""
    if db_kind == "sqlite":
        fifo = wf.store.wake_fifo
        fd_dir = Path(f"/proc/{scheduler_pid}/fd")
        try:
            return any(os.readlink(fd) == fifo for fd in fd_dir.iterdir())
        except OSError:  # an fd closed while we looked
            return False
    with wf.store.engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
            "AND query = 'LISTEN wfsched'"), {"db": wf.store.engine.url.database}).scalar())


@pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"])
def test_a_trigger_wakes_an_idle_scheduler(db_kind: str, wf: Wfsched, work_dir: Path) -> None:
    wf.config_path.write_text(_idle_config())
    scheduler = wf.popen("scheduler", "--poll-interval", "30", "--max-concurrent", "2")
    try:
        wait_until(lambda: _listening(wf, db_kind, scheduler.pid), 60,
                   "the scheduler to listen for triggers", 0.2)
        for round_number in range(3):
            (execution_id,) = wf.trigger("mark", dir=work_dir)
            # with a 30 s poll and heartbeat, only the wake-up can start it this soon
            execution = wf.wait_for_status(execution_id, "completed", timeout=10)
            waited = (execution.started_at - execution.created_at).total_seconds()
            assert waited < 10, f"round {round_number}: started after {waited:.1f}s"
            # let the worker exit (its exit also wakes the loop) before the next trigger
            pid = next(r["pid"] for r in wf.records(work_dir, "ran")
                       if r["execution_id"] == execution_id)
            wait_until(lambda p=pid: not psutil.pid_exists(p)
                       or psutil.Process(p).status() == psutil.STATUS_ZOMBIE,
                       15, "the worker to exit")
    finally:
        if scheduler.poll() is None:
            os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(10)

"""The tables, as SQLAlchemy Core metadata (the migrations in ``migrations/`` create them).

SQLAlchemy Core, not the ORM: a worker imports this on every start, and the ORM costs
several times more to import than what the worker needs.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

# The Alembic revision this code expects (its own module: read without SQLAlchemy).
from wfsched_core.store.db.revision import SCHEMA_REVISION as SCHEMA_REVISION

metadata = MetaData()

# Microsecond timestamps on MySQL/MariaDB too (their DATETIME drops fractions by default).
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# SQLite autoincrements only an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")

workflows = Table(
    "workflows",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("description", Text),
    Column("schedule", String(200)),
    Column("last_executed", Timestamp),
    Column("last_status", String(20)),
    Column("next_run_at", Timestamp),
    Column("updated_at", Timestamp),
)

workflow_executions = Table(
    "workflow_executions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("attempt", Integer, nullable=False, default=1),
    Column("params", Text, nullable=False, default="{}"),
    Column("trigger", String(20), nullable=False, default="manual"),
    Column("retry_of", Id),
    Column("triggered_by", Id),
    Column("scheduled_for", Timestamp),
    Column("queue", String(100)),
    Column("created_at", Timestamp, nullable=False),
    Column("not_before", Timestamp),
    Column("claimed_by", String(64)),
    Column("claimed_at", Timestamp),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
    Column("heartbeat_at", Timestamp),
    Column("pid", Integer),
    Column("host", String(255)),
    Column("spawner", String(50)),
    Column("worker_handle", Text),
    Column("exit_code", Integer),
    Column("error", Text),
    Column("error_detail", Text),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("wait_reason", String(500)),
    # the workflow's concurrency key for this run, computed when it was queued (issue 17)
    Column("concurrency_key", String(200)),
    # issue 20: approval steps, deadlines, re-runs (migration 0006)
    Column("resume_from", Integer),  # the step position a resumed run continues from
    Column("rerun_of", Id),
    Column("waiting_since", Timestamp),
    Column("approvers", String(200)),
    Column("approval", String(20)),  # approved | rejected
    Column("approval_by", String(200)),
    Column("approval_at", Timestamp),
    Column("approval_comment", Text),
    Column("approval_step", Integer),  # the position the approval was given for
    Column("overdue_at", Timestamp),  # set once (compare-and-set): the overdue event fired
    # which code ran it (migration 0007), set by the start's compare-and-set
    Column("workflow_package", String(200)),
    Column("workflow_version", String(100)),
    Column("core_version", String(50)),
    UniqueConstraint("workflow", "scheduled_for", name="uq_executions_workflow_scheduled"),
    Index("ix_executions_claim", "status", "priority", "created_at"),
    Index("ix_executions_workflow_status", "workflow", "status"),
    Index("ix_executions_owner_status", "claimed_by", "status"),
    Index("ix_executions_finished_at", "finished_at"),
    Index("ix_executions_status_not_before", "status", "not_before"),
    Index("ix_executions_workflow_key", "workflow", "concurrency_key", "status"),
    Index("ix_executions_workflow_started", "workflow", "started_at"),
)

workflow_execution_steps = Table(
    "workflow_execution_steps",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "execution_id",
        Id,
        ForeignKey("workflow_executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
    Column("error", Text),
    Column("result", Text),
    Column("result_json", Boolean),  # False: only the result's repr could be recorded
    UniqueConstraint("execution_id", "position", name="uq_steps_execution_position"),
)

schedulers = Table(
    "schedulers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("heartbeat_at", Timestamp, nullable=False),
    Column("version", String(50), nullable=False),
    Column("stopped_at", Timestamp),
    Column("max_concurrent", Integer),
    Index("ix_schedulers_heartbeat", "heartbeat_at"),
)

# "When upstream completes, queue downstream" (a workflow's ``depends_on``), kept in the
# database so that the worker that completes the upstream queues the downstream in the
# same transaction, without importing every workflow package.
workflow_dependencies = Table(
    "workflow_dependencies",
    metadata,
    Column("upstream", String(200), primary_key=True),
    Column("downstream", String(200), primary_key=True),
)


# Paused workflows (``wfsched pause``): in the database, so that a pause holds on every
# scheduler and survives restarts. A row is a pause; ``resume`` deletes it.
workflow_pauses = Table(
    "workflow_pauses",
    metadata,
    Column("workflow", String(200), primary_key=True),
    Column("reason", String(500)),
    Column("paused_by", String(255), nullable=False),
    Column("paused_at", Timestamp, nullable=False),
)

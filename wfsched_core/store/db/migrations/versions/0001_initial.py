"""Initial schema: workflows, workflow_executions, workflow_execution_steps, schedulers.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("schedule", sa.String(200)),
        sa.Column("last_executed", Timestamp),
        sa.Column("last_status", sa.String(20)),
        sa.Column("next_run_at", Timestamp),
        sa.Column("updated_at", Timestamp),
    )
    op.create_table(
        "workflow_executions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("retry_of", Id),
        sa.Column("scheduled_for", Timestamp),
        sa.Column("queue", sa.String(100)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("not_before", Timestamp),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", Timestamp),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("heartbeat_at", Timestamp),
        sa.Column("pid", sa.Integer),
        sa.Column("host", sa.String(255)),
        sa.Column("spawner", sa.String(50)),
        sa.Column("worker_handle", sa.Text),
        sa.Column("exit_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("error_detail", sa.Text),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("wait_reason", sa.String(500)),
        sa.UniqueConstraint("workflow", "scheduled_for", name="uq_executions_workflow_scheduled"),
    )
    op.create_index("ix_executions_claim", "workflow_executions",
                    ["status", "priority", "created_at"])
    op.create_index("ix_executions_workflow_status", "workflow_executions",
                    ["workflow", "status"])
    op.create_index("ix_executions_owner_status", "workflow_executions",
                    ["claimed_by", "status"])
    op.create_index("ix_executions_finished_at", "workflow_executions", ["finished_at"])
    op.create_table(
        "workflow_execution_steps",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("execution_id", Id,
                  sa.ForeignKey("workflow_executions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.Text),
        sa.UniqueConstraint("execution_id", "position", name="uq_steps_execution_position"),
    )
    op.create_table(
        "schedulers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("heartbeat_at", Timestamp, nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("stopped_at", Timestamp),
        sa.Column("max_concurrent", sa.Integer),
    )
    op.create_index("ix_schedulers_heartbeat", "schedulers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_table("schedulers")
    op.drop_table("workflow_execution_steps")
    op.drop_table("workflow_executions")
    op.drop_table("workflows")

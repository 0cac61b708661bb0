"""Each execution's concurrency key, and the indexes the claim counts through (issue 17).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("concurrency_key", sa.String(200), nullable=True))
    op.create_index("ix_executions_workflow_key", "workflow_executions",
                    ["workflow", "concurrency_key", "status"])
    op.create_index("ix_executions_workflow_started", "workflow_executions",
                    ["workflow", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_executions_workflow_started", table_name="workflow_executions")
    op.drop_index("ix_executions_workflow_key", table_name="workflow_executions")
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("concurrency_key")

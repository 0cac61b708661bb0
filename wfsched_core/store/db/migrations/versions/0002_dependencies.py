"""Workflow dependencies (upstream -> downstream) and the index for due retries.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_dependencies",
        sa.Column("upstream", sa.String(200), primary_key=True),
        sa.Column("downstream", sa.String(200), primary_key=True),
    )
    op.create_index("ix_executions_status_not_before", "workflow_executions",
                    ["status", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_executions_status_not_before", "workflow_executions")
    op.drop_table("workflow_dependencies")

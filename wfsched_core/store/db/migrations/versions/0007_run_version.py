"""Which code ran an execution: the workflow's distribution and version, and the core's.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("workflow_package", sa.String(200), nullable=True))
        batch.add_column(sa.Column("workflow_version", sa.String(100), nullable=True))
        batch.add_column(sa.Column("core_version", sa.String(50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("core_version")
        batch.drop_column("workflow_version")
        batch.drop_column("workflow_package")

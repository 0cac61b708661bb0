"""The execution whose completion queued a dependent run (``triggered_by``).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.add_column(sa.Column("triggered_by", sa.BigInteger().with_variant(
            sa.Integer(), "sqlite"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        batch.drop_column("triggered_by")

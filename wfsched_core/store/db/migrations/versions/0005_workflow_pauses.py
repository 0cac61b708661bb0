"""Paused workflows (``wfsched pause``), one row per pause.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "workflow_pauses",
        sa.Column("workflow", sa.String(200), primary_key=True),
        sa.Column("reason", sa.String(500)),
        sa.Column("paused_by", sa.String(255), nullable=False),
        sa.Column("paused_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workflow_pauses")

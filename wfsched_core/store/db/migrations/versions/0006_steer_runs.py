"""Runs people steer (issue 20): approval steps, deadlines, re-runs from a step.

``workflow_executions``: where a run continues (``resume_from``), what it re-runs
(``rerun_of``), its wait for an approval (``waiting_since``, ``approvers``) and the
decision (``approval``, ``approval_by``, ``approval_at``, ``approval_comment``,
``approval_step``), and when its deadline passed (``overdue_at``, the compare-and-set
that fires the overdue event once). ``workflow_execution_steps.result_json``: whether a
step's result was recorded as itself (JSON) or only as its repr (NULL: recorded before
this revision, unknown).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

_EXECUTION_COLUMNS = (
    ("resume_from", sa.Integer()),
    ("rerun_of", _ID),
    ("waiting_since", _TIMESTAMP),
    ("approvers", sa.String(200)),
    ("approval", sa.String(20)),
    ("approval_by", sa.String(200)),
    ("approval_at", _TIMESTAMP),
    ("approval_comment", sa.Text()),
    ("approval_step", sa.Integer()),
    ("overdue_at", _TIMESTAMP),
)


def upgrade() -> None:
    with op.batch_alter_table("workflow_executions") as batch:
        for name, kind in _EXECUTION_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("workflow_execution_steps") as batch:
        batch.add_column(sa.Column("result_json", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_execution_steps") as batch:
        batch.drop_column("result_json")
    with op.batch_alter_table("workflow_executions") as batch:
        for name, _kind in reversed(_EXECUTION_COLUMNS):
            batch.drop_column(name)

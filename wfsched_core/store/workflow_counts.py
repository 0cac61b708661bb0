"""How many executions of one workflow wait and run (``workflows show``)."""

from __future__ import annotations

from sqlalchemy import func, select

from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.base import StoreBase
from wfsched_core.store.db.schema import workflow_executions as executions


class WorkflowCountsMixin(StoreBase):
    """Per-workflow counts, on the (workflow, status) index."""

    def workflow_status_counts(self, workflow: str) -> dict[str, int]:
        """Pending and running executions of ``workflow``, by status."""
        active = [ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value]
        query = (select(executions.c.status, func.count())
                 .where(executions.c.workflow == workflow, executions.c.status.in_(active))
                 .group_by(executions.c.status))
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query)}

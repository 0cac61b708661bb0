"""The SQL store: every read and write of wfsched's tables, through SQLAlchemy Core.

Claiming takes rows with ``FOR UPDATE SKIP LOCKED`` where the database has it
(PostgreSQL, MySQL/MariaDB) and under SQLite's single write lock (``BEGIN IMMEDIATE``)
otherwise; every status change is a compare-and-set. Dialect differences in queries
live in this package (``base.py`` says which database can do what).
"""

from __future__ import annotations

from wfsched_core.store.backfill import BackfillMixin
from wfsched_core.store.browsing import ExecutionBrowsingMixin
from wfsched_core.store.catalog_sync import CatalogSyncMixin
from wfsched_core.store.deadlines import DeadlinesMixin
from wfsched_core.store.executions import Finished
from wfsched_core.store.health_queries import HealthQueriesMixin
from wfsched_core.store.pauses import PausesMixin
from wfsched_core.store.queries import OperationsQueriesMixin
from wfsched_core.store.reports import WorkerReportsMixin
from wfsched_core.store.reruns import RerunsMixin
from wfsched_core.store.schedulers import SchedulerRegistryMixin
from wfsched_core.store.unrunnable import UnrunnableMixin
from wfsched_core.store.workflow_counts import WorkflowCountsMixin


class SqlStore(WorkerReportsMixin, RerunsMixin, DeadlinesMixin, CatalogSyncMixin,
               SchedulerRegistryMixin, OperationsQueriesMixin, ExecutionBrowsingMixin,
               UnrunnableMixin, PausesMixin, BackfillMixin, WorkflowCountsMixin,
               HealthQueriesMixin):
    """wfsched's tables in one SQL database (SQLite, PostgreSQL, MySQL/MariaDB)."""


__all__ = ["Finished", "SqlStore"]

"""The Celery application of a wfsched worker host: ``celery -A wfsched_spawner_celery.app worker``.

It reads the installation's settings as every ``wfsched`` command does
(``WFSCHED_DATABASE_URL``, ``WFSCHED_HOME``, ``WFSCHED_CONFIG`` or ``wfsched.toml``;
``[spawner.celery]`` for the broker and the queue) and registers the task
``wfsched.execute``. ``wfsched celery-worker`` starts such a worker with the queue and a
node name filled in.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init

from wfsched_core.base.config import load_settings
from wfsched_spawner_celery.celery_app import TASK_NAME, build_celery_app
from wfsched_spawner_celery.options import CeleryOptions
from wfsched_spawner_celery.task import run_execution_task, worker_context

log = logging.getLogger(__name__)


def create_worker_app() -> Celery:
    """The worker's application, with the task ``wfsched.execute`` registered."""
    options = CeleryOptions.from_settings(load_settings())
    app = build_celery_app(options, for_worker=True)

    @app.task(name=TASK_NAME, bind=True, acks_late=True, ignore_result=True)
    def execute(task: Task, execution_id: int, owner: str, database: str) -> dict[str, Any]:
        """Run one wfsched execution in a child process of its own."""
        return run_execution_task(execution_id, owner, database,
                                  node=task.request.hostname or "unknown")

    return app


@worker_process_init.connect
def _warm_pool_process(**_kwargs: Any) -> None:
    """Load the plugins and open the store when a pool process starts, not at its first
    task (a second of a small machine's time, paid while no execution waits)."""
    try:
        worker_context(os.getpid())
    except Exception as exc:  # the first task tries again and reports it
        log.warning("wfsched: cannot prepare this pool process yet: %s", exc)


# Celery's ``-A MODULE`` looks for this name.
app = create_worker_app()

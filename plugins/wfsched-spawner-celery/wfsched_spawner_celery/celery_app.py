"""Building the Celery application that both sides share: its broker, queue and settings.

The scheduler's side only sends tasks (by name); the worker's side
(:mod:`wfsched_spawner_celery.app`) also registers the task that runs an execution.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import Celery
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

if TYPE_CHECKING:
    from wfsched_spawner_celery.options import CeleryOptions

#: the name of the task that runs one execution (sent by name: the scheduler need not
#: import the worker's side)
TASK_NAME = "wfsched.execute"


def database_name(url: str) -> str:
    """The name of the database a URL points at (never its password): what a task names
    its database by, so that a worker serving another database refuses it. The name
    alone, because the scheduler and the worker may spell host and driver differently."""
    try:
        return make_url(url).database or ""
    except ArgumentError:
        return ""


def build_celery_app(options: CeleryOptions, *, for_worker: bool = False) -> Celery:
    """A Celery application on ``options``' broker, not made the process's current app.

    Tasks are acknowledged late (after they return), so that a message whose worker died
    before it finished is delivered again; the second delivery finds the execution no
    longer pending and does nothing. One task reserved per pool process at a time: an
    execution waits in the broker, where any idle host can take it, not behind a busy one.
    """
    app = Celery("wfsched", broker=options.broker_url, set_as_current=False)
    transport = {"visibility_timeout": options.visibility_timeout}
    if not for_worker:
        # the scheduler never waits long on a broker that is away: its dispatcher retries
        transport.update(socket_timeout=options.connect_timeout,
                         socket_connect_timeout=options.connect_timeout)
    else:
        # a pool process loads the plugins and opens the store as it starts (app.py):
        # on a busy host that can take longer than Celery's default 4 s
        app.conf.worker_proc_alive_timeout = 60.0
    app.conf.update(
        task_default_queue=options.queue,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_timeout=options.connect_timeout,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport,
    )
    return app

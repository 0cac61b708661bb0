"""``CelerySpawner``: start each execution's worker by sending a Celery task.

The task carries the execution id, the id of the scheduler that claimed it and the
database's name (never a URL, so never a password); a Celery worker runs ``wfsched execute ID`` in
a child process of its own (:mod:`wfsched_spawner_celery.task`). The scheduler cannot see
that process: the worker's heartbeat in the database is the authority (``sees_process``
is False, ``poll`` answers UNKNOWN), as for detached and container workers.

A message can be lost (a Redis broker that restarted empty) or refused: a dispatched
execution still ``pending`` after ``redispatch_after`` seconds gets its task sent again,
then after twice that, and so on (an execution merely waiting behind busy workers gets a
few copies, not one a minute). Sending twice is safe: the execution's compare-and-set
start lets only one run, and the other copies return at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wfsched_core.base.errors import SpawnerError
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.framework.spawning import Liveness, SpawnRequest, WorkerHandle, WorkerState
from wfsched_core.worker import ENV_OWNER
from wfsched_spawner_celery.celery_app import TASK_NAME, build_celery_app, database_name
from wfsched_spawner_celery.dispatcher import Dispatcher, TaskMessage
from wfsched_spawner_celery.options import BrokerError, CeleryOptions

if TYPE_CHECKING:
    from celery import Celery

    from wfsched_core.base.config import Settings
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

#: an execution not polled for this long is no longer tracked by the scheduler (it polls
#: every tracked execution at each loop): what was kept to send its task again is dropped
FORGET_AFTER = 120.0
#: the longest wait between two sendings of one execution's task
MAX_REDISPATCH_WAIT = 3600.0


@dataclass
class _Sent:
    """What was sent for one execution, and when, to send it again if it goes unanswered."""

    message: TaskMessage
    sent_at: float
    polled_at: float
    resends: int = 0


class CelerySpawner:
    """One Celery task per execution; liveness by heartbeat."""

    name = "celery"
    sees_process = False  # the worker runs on a Celery host: its heartbeat decides
    survives_scheduler = True  # the Celery worker runs on when the scheduler stops

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.options = CeleryOptions.from_settings(settings)
        self.database = database_name(settings.database_url)
        self._app: Celery | None = None
        self._dispatcher: Dispatcher | None = None
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._sent: dict[int, _Sent] = {}  # by execution id

    @property
    def app(self) -> Celery:
        if self._app is None:
            self._app = build_celery_app(self.options)
        return self._app

    def check_available(self) -> None:
        """A bad or unreachable broker stops the scheduler at start with one line."""
        self.options.check_broker_url()
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0.2,
                                             interval_step=0.2,
                                             timeout=self.options.connect_timeout)
                connection.default_channel  # noqa: B018 - the first round trip
        except Exception as exc:  # kombu's errors vary by transport
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BrokerError(f"cannot reach the Celery broker "
                              f"{self.options.masked_broker_url}: {detail}")

    def start(self, request: SpawnRequest) -> WorkerHandle:
        """Queue the task for sending and return at once (the dispatcher sends it)."""
        owner = request.env.get(ENV_OWNER)
        if not owner:
            raise SpawnerError("the celery spawner needs the claiming scheduler's id "
                               f"(${ENV_OWNER}) to start execution {request.execution_id}")
        queue = (request.spec.queue if request.spec is not None else None) or self.options.queue
        message = TaskMessage(f"wfsched-{request.execution_id}-{uuid.uuid4().hex[:12]}",
                              request.execution_id, owner, self.database, queue)
        self._send(message, resends=0)
        data = {"task_id": message.task_id, "queue": queue,
                "execution_id": request.execution_id,
                "broker": self.options.masked_broker_url}
        return WorkerHandle(self.name, data, pid=None)

    def poll(self, handle: WorkerHandle) -> WorkerState:
        """UNKNOWN (the heartbeat decides); sends the task again when it went unanswered."""
        execution_id = handle.data.get("execution_id")
        if isinstance(execution_id, int):
            self._redispatch_if_unanswered(execution_id)
        return WorkerState(Liveness.UNKNOWN)

    def stop(self, handle: WorkerHandle, grace: float) -> None:
        """Revoke the task (a worker that has not started it drops it, and a later
        delivery of it too); a running worker is stopped on its host, by the task that
        watches it, once its scheduler has ended the execution."""
        execution_id = handle.data.get("execution_id")
        with self._lock:
            self._sent.pop(execution_id, None)  # type: ignore[arg-type]
        task_id = handle.data.get("task_id")
        if not task_id:
            return
        try:
            self.app.control.revoke(task_id)
        except Exception as exc:  # a broker that is away: the worker's watch still stops it
            log.warning("cannot revoke task %s of execution %s: %s", task_id, execution_id,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close()
        if self._store is not None:
            self._store.dispose()

    # --- sending and sending again ----------------------------------------------------

    def _send(self, message: TaskMessage, resends: int) -> None:
        if self._dispatcher is None:
            self._dispatcher = Dispatcher(self.app, TASK_NAME, self.options.masked_broker_url)
        now = time.monotonic()
        with self._lock:
            for execution_id in [i for i, s in self._sent.items()
                                 if now - s.polled_at > FORGET_AFTER]:
                del self._sent[execution_id]  # no longer tracked: it ended
            self._sent[message.execution_id] = _Sent(message, now, now, resends)
        self._dispatcher.send(message)

    def _redispatch_if_unanswered(self, execution_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            sent = self._sent.get(execution_id)
            if sent is None:
                return
            sent.polled_at = now
        wait = min(self.options.redispatch_after * 2 ** sent.resends, MAX_REDISPATCH_WAIT)
        if now - sent.sent_at < wait:
            return
        if self._dispatcher is not None and self._dispatcher.is_waiting(execution_id):
            return  # not even sent yet: the broker is away
        try:
            execution = self._execution_store().get_execution(execution_id)
        except Exception as exc:  # the database away: ask again at the next poll
            log.debug("cannot read execution %s: %s", execution_id, exc)
            return
        message = sent.message
        if execution.status is ExecutionStatus.PENDING and execution.claimed_by == message.owner:
            log.warning("execution %s: no Celery worker started it within %gs; sending its "
                        "task %s again", execution_id, wait, message.task_id)
            self._send(message, resends=sent.resends + 1)
        else:
            with self._lock:
                self._sent.pop(execution_id, None)

    def _execution_store(self) -> Store:
        if self._store is None:
            from wfsched_core.store import SqlStore

            self._store = SqlStore(self.settings.database_url)
        return self._store

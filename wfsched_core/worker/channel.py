"""A lean worker's reports, sent to the scheduler that started it.

The scheduler listens on a Unix socket in a private directory (``scheduler/reports.py``);
the worker connects, proves with its token that it was started for its execution, and
then asks, one request at a time, for each transition to be recorded: the answer comes
once the scheduler has committed it (with other workers' transitions, in one
transaction). So a worker waits for its final status to be committed before it exits.

If the scheduler is gone (the connection fails or closes), the worker records the rest
itself: :class:`~wfsched_core.worker.direct.DirectReporter` takes over, ``resuming`` (the
scheduler may have committed the last request without answering it).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wfsched_core.base.errors import ExecutionStateError
from wfsched_core.worker import FINAL_STATUS_PATIENCE
from wfsched_core.worker.plan import WorkerPlan
from wfsched_core.worker.runner import NotStarted, Outcome
from wfsched_core.worker.wire import execution_from_wire, step_from_wire, step_to_wire

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution, StepRecord
    from wfsched_core.worker.direct import DirectReporter

log = logging.getLogger(__name__)


class ChannelLost(Exception):
    """The scheduler's end of the channel is gone."""


class ChannelReporter:
    """Reports through the scheduler; hands over to the database when it is gone."""

    def __init__(self, plan: WorkerPlan, execution_id: int) -> None:
        self.plan = plan
        self.execution_id = execution_id
        self.execution: Execution | None = None
        self._lock = threading.Lock()  # the heartbeat thread shares the channel
        self._hand_over_lock = threading.Lock()  # either thread may find it gone first
        self._direct: DirectReporter | None = None
        self._sock: socket.socket | None = None
        self._reader: Any = None
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(plan.socket)
            self._sock, self._reader = sock, sock.makefile("rb")
        except OSError as exc:
            log.warning("cannot reach the scheduler at %s (%s): recording directly",
                        plan.socket, exc.strerror or exc)

    # --- the reporter ----------------------------------------------------------------

    def start(self, first_step: Callable[[str], str | None]) -> tuple[Execution,
                                                                     StepRecord | None]:
        try:
            reply = self._call({"op": "start", "id": self.execution_id,
                                "token": self.plan.token, "pid": os.getpid(),
                                "first_step": first_step("")})
        except ChannelLost:
            started = self._hand_over().start(first_step)
            self.execution = started[0]
            return started
        if not reply.get("ok"):
            if reply.get("unavailable"):
                raise NotStarted(reply.get("error") or "the database is unavailable")
            raise ExecutionStateError(reply.get("error") or "the scheduler refused the start")
        self.execution = execution_from_wire(reply["execution"])
        return self.execution, step_from_wire(reply.get("step"))

    def announce_start(self, execution: Execution) -> None:
        if self._direct is not None:
            self._direct.announce_start(execution)
        # else: the scheduler fired it when it committed the start

    def advance(self, done: StepRecord | None, position: int, name: str) -> StepRecord:
        try:
            reply = self._call({"op": "step", "done": step_to_wire(done),
                                "position": position, "name": name})
        except ChannelLost:
            return self._hand_over().advance(done, position, name)
        step = step_from_wire(self._checked(reply).get("step"))
        assert step is not None
        return step

    def heartbeat(self) -> bool:
        try:
            return bool(self._checked(self._call({"op": "heartbeat"})).get("cancel"))
        except ChannelLost:
            return self._hand_over().heartbeat()

    def finish(self, execution: Execution, outcome: Outcome,
               last_step: StepRecord | None) -> int:
        try:
            reply = self._checked(self._call({
                "op": "finish", "status": outcome.status.value, "exit_code": outcome.exit_code,
                "error": outcome.error, "detail": outcome.detail,
                "last_step": step_to_wire(last_step), "resume_from": outcome.resume_from,
                "approvers": outcome.approvers}))
        except ChannelLost:
            return self._hand_over().finish(execution, outcome, last_step)
        finally:
            self._close()
        return int(reply.get("exit_code", 1))

    # --- the channel -----------------------------------------------------------------

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its answer (sent once it is committed)."""
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._sock is None:
                raise ChannelLost()
            try:
                self._sock.sendall(data)
                line = self._reader.readline()
            except OSError:
                line = b""
            if not line:
                self._close_locked()
                raise ChannelLost()
        return json.loads(line)

    def _checked(self, reply: dict[str, Any]) -> dict[str, Any]:
        """A refused report other than a start: the scheduler could not record it (the
        database stayed down past its patience): record it ourselves."""
        if not reply.get("ok"):
            log.warning("the scheduler could not record a report (%s): recording directly",
                        reply.get("error"))
            self._close()
            raise ChannelLost()
        return reply

    def _close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._sock is not None:
            for closable in (self._reader, self._sock):
                try:
                    closable.close()
                except OSError:
                    pass
            self._sock = self._reader = None

    def _hand_over(self) -> DirectReporter:
        """From now on, write to the database ourselves (imports the store: only here)."""
        with self._hand_over_lock:
            return self._direct or self._connect_directly()

    def _connect_directly(self) -> DirectReporter:
        if self._direct is None:
            log.warning("execution %s: the scheduler is gone; recording directly",
                        self.execution_id)
            from wfsched_core.app import App
            from wfsched_core.store.dbretry import with_database_retry
            from wfsched_core.worker.direct import DirectReporter

            app = App()
            store = with_database_retry(lambda: app.store, "connect to the database",
                                        give_up_after=FINAL_STATUS_PATIENCE)
            self._direct = DirectReporter(self.execution_id, store, app.hooks, resuming=True)
            self._direct.execution = self.execution
        return self._direct


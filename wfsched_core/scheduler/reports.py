"""The scheduler's end of its workers' private channels: reports in, one commit per round.

A lean worker this scheduler started on this host connects to a Unix socket in a private
directory (mode 0700), proves with its token which execution it runs, and sends its
transitions one request at a time (``worker/channel.py``). A thread here reads every
request that has arrived, applies them all in one transaction
(``Store.apply_worker_reports``: group commit — the number of transactions no longer
grows with the number of workers), answers each worker once the round is committed, and
then hands the lifecycle events to a second thread, so that a slow notifier never delays
a worker's answer.

Safety does not depend on this channel: every report is the compare-and-set the worker
would have made, a worker waits for its final status to be committed before it exits, and
a worker whose scheduler vanishes (the socket closes) records the rest itself.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import selectors
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import OperationalError

from wfsched_core.authoring.retry import next_attempt_at
from wfsched_core.authoring.workflow import run_version
from wfsched_core.base.errors import DatabaseError
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.store.dbretry import with_database_retry
from wfsched_core.store.reports import (
    FinishReport,
    HandleReport,
    HeartbeatReport,
    StartReport,
    StepReport,
    WorkerReport,
)
from wfsched_core.worker import START_PATIENCE
from wfsched_core.worker.direct import announce_finished, exit_code_of
from wfsched_core.worker.wire import execution_to_wire, step_from_wire, step_to_wire

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.records import Execution, RunVersion
    from wfsched_core.framework.hooks import PluginHooks
    from wfsched_core.store.contract import Store

log = logging.getLogger(__name__)

# How long a round waits out a database outage before telling the waiting workers (a
# start is then given back to the queue; a step or a final status the worker records
# itself, with its own patience).
ROUND_PATIENCE = START_PATIENCE
# How long the scheduler's exit waits for lifecycle events still queued.
EVENTS_FLUSH_TIMEOUT = 10.0
_SEND_TIMEOUT = 5.0


@dataclass
class _Expected:
    """A worker this scheduler started and whose reports it takes."""

    execution: Execution
    spec: WorkflowSpec | None
    token: str

    @property
    def version(self) -> RunVersion:
        """The code the worker runs, as this scheduler's catalog knows it."""
        return run_version(self.spec)


@dataclass
class _Connection:
    sock: socket.socket
    buffer: bytes = b""
    execution_id: int | None = None  # bound by its first (start) request


@dataclass
class _Request:
    connection: _Connection
    message: dict[str, Any]
    report: WorkerReport | None = None
    reply: dict[str, Any] = field(default_factory=dict)


class WorkerReports:
    """Takes the reports of the workers one scheduler started; see the module docstring."""

    def __init__(self, store: Store, hooks: PluginHooks, owner: str, host: str,
                 queue_of: Callable[[str], str | None],
                 on_finished: Callable[[bool], None]) -> None:
        self.store = store
        self.hooks = hooks
        self.owner = owner
        self.host = host
        self.queue_of = queue_of
        self.on_finished = on_finished
        self.socket_path = ""
        self._directory = ""
        self._lock = threading.Lock()
        self._expected: dict[int, _Expected] = {}
        self._handles: list[HandleReport] = []  # to record with the next round
        self._finished: dict[int, Execution] = {}
        self._events: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_read, self._wake_write = -1, -1
        self._threads: list[threading.Thread] = []
        self._serving = False  # the reading thread runs (its wake pipe is open)

    # --- the scheduler's side --------------------------------------------------------

    def start(self) -> None:
        """Listen on a fresh socket in a private directory and start the two threads."""
        self._directory = tempfile.mkdtemp(prefix="wfsched-reports-")
        os.chmod(self._directory, 0o700)
        self.socket_path = os.path.join(self._directory, "s")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._wake_read, self._wake_write = os.pipe()
        self._selector.register(listener, selectors.EVENT_READ, "listener")
        self._selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        self._serving = True
        for target, name in ((self._serve, "wfsched-reports"),
                             (self._deliver_events, "wfsched-report-events")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def expect(self, execution: Execution, spec: WorkflowSpec | None) -> str:
        """Take reports for ``execution`` from the worker about to start; its token."""
        token = secrets.token_hex(16)
        with self._lock:
            self._expected[execution.id] = _Expected(execution, spec, token)
        return token

    def record_handles(self, started: list[tuple[int, str, dict[str, Any], int | None]],
                       ) -> bool:
        """Record how to find these workers again (``Store.record_handles``), with the
        next round's commit instead of a transaction of their own; False when the
        channel is no longer served (the caller records them itself)."""
        with self._lock:
            if not self._serving:
                return False
            self._handles.extend(HandleReport(*entry) for entry in started)
            os.write(self._wake_write, b"h")
        return True

    def forget(self, execution_id: int) -> None:
        """The worker is gone: take no more reports for it."""
        with self._lock:
            self._expected.pop(execution_id, None)
            self._finished.pop(execution_id, None)

    def take_finished(self, execution_id: int) -> Execution | None:
        """The execution as its final report left it, if this channel recorded it."""
        with self._lock:
            return self._finished.pop(execution_id, None)

    def close(self) -> None:
        """Stop listening (workers still connected record directly from now on) and
        deliver the events still queued, within a bound."""
        if self._listener is None:
            return
        with self._lock:
            if self._serving:
                os.write(self._wake_write, b"s")
        serve, deliver = self._threads
        serve.join(timeout=_SEND_TIMEOUT * 2)
        self._events.put(None)
        deliver.join(timeout=EVENTS_FLUSH_TIMEOUT)
        if deliver.is_alive():
            log.warning("lifecycle events still undelivered after %.0fs at exit",
                        EVENTS_FLUSH_TIMEOUT)
        shutil.rmtree(self._directory, ignore_errors=True)
        self._listener = None

    # --- the reading thread ----------------------------------------------------------

    def _serve(self) -> None:
        try:
            while True:
                requests: list[_Request] = []
                for key, _ in self._selector.select():
                    if key.data == "wake":
                        if b"s" in os.read(self._wake_read, 4096):
                            self._round([])  # the handles still to record
                            return
                    elif key.data == "listener":
                        self._accept()
                    else:
                        requests.extend(self._read(key.data))
                self._round(requests)
        except Exception:  # never silently: the workers then record directly
            log.exception("the workers' report channel failed; workers record directly")
        finally:
            self._close_all()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(True)
            sock.settimeout(_SEND_TIMEOUT)
            self._selector.register(sock, selectors.EVENT_READ, _Connection(sock))

    def _read(self, connection: _Connection) -> list[_Request]:
        try:
            chunk = connection.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:  # the worker exited (or closed after its final status)
            self._drop(connection)
            return []
        connection.buffer += chunk
        requests = []
        while b"\n" in connection.buffer:
            line, connection.buffer = connection.buffer.split(b"\n", 1)
            try:
                requests.append(_Request(connection, json.loads(line)))
            except ValueError:
                log.warning("malformed report from a worker: %r", line[:200])
                self._drop(connection)
                return []
        return requests

    def _drop(self, connection: _Connection) -> None:
        try:
            self._selector.unregister(connection.sock)
        except (KeyError, ValueError):
            pass
        connection.sock.close()

    def _close_all(self) -> None:
        with self._lock:
            self._serving = False
            handles, self._handles = self._handles, []
        if handles:  # queued after the last round: recorded here rather than lost
            self._apply(handles)
        for key in list(self._selector.get_map().values()):
            if isinstance(key.data, _Connection):
                self._drop(key.data)
        if self._listener is not None:
            self._listener.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._selector.close()

    # --- a round ---------------------------------------------------------------------

    def _round(self, requests: list[_Request]) -> None:
        """Apply every valid request (and the handles to record) in one transaction,
        answer each, queue the events."""
        with self._lock:
            handles, self._handles = self._handles, []
        if not requests and not handles:
            return
        for request in requests:
            try:
                self._to_report(request)
            except (KeyError, ValueError, TypeError) as exc:  # not what a worker sends
                request.report = None
                request.reply = {"ok": False, "error": f"malformed report: {exc!r}"}
        valid = [r for r in requests if r.report is not None]
        reports: list[WorkerReport] = [*handles]
        reports += [r.report for r in valid if r.report is not None]
        results = self._apply(reports)
        for handle, result in zip(handles, results, strict=False):
            if isinstance(result, Exception):
                log.error("cannot record the handle of execution %s's worker: %s",
                          handle.execution_id, str(result).splitlines()[0])
        for request, result in zip(valid, results[len(handles):], strict=True):
            self._answer(request, result)
        for request in requests:
            self._send(request)

    def _to_report(self, request: _Request) -> None:
        message, connection = request.message, request.connection
        op = message.get("op")
        if op == "start":
            execution_id = int(message.get("id", -1))
            with self._lock:
                expected = self._expected.get(execution_id)
            if connection.execution_id is not None or expected is None \
                    or not secrets.compare_digest(expected.token, str(message.get("token"))):
                request.reply = {"ok": False,
                                 "error": f"this scheduler did not start a worker for "
                                          f"execution {execution_id}"}
                return
            connection.execution_id = execution_id
            request.report = StartReport(execution_id, int(message["pid"]),
                                         message.get("first_step"), expected.execution,
                                         expected.version)
            return
        bound_id = connection.execution_id
        expected = self._expected_for(bound_id)
        if expected is None:
            request.reply = {"ok": False, "error": "report before start, or for a worker "
                                                   "this scheduler forgot"}
        elif op == "step":
            request.report = StepReport(expected.execution.id,
                                        step_from_wire(message.get("done")),
                                        int(message["position"]), str(message["name"]))
        elif op == "heartbeat":
            request.report = HeartbeatReport(expected.execution.id)
        elif op == "finish":
            status = ExecutionStatus(message["status"])
            retry_at = next_attempt_at(expected.spec, expected.execution.attempt) \
                if status is ExecutionStatus.FAILED else None
            request.report = FinishReport(
                expected.execution.id, status, int(message.get("exit_code") or 0),
                message.get("error"), message.get("detail"),
                step_from_wire(message.get("last_step")), retry_at, expected.execution,
                message.get("resume_from"), message.get("approvers"))
        else:
            request.reply = {"ok": False, "error": f"unknown report {op!r}"}

    def _expected_for(self, execution_id: int | None) -> _Expected | None:
        if execution_id is None:
            return None
        with self._lock:
            return self._expected.get(execution_id)

    def _apply(self, reports: Sequence[WorkerReport]) -> list[Any]:
        """The store's results for ``reports``: one transaction, or, when one report
        spoils it, one each; an outage past the patience is every report's result."""
        def apply(batch: Sequence[WorkerReport]) -> list[Any]:
            return with_database_retry(
                lambda: self.store.apply_worker_reports(self.owner, self.host, batch,
                                                        self.queue_of),
                "record the workers' reports", give_up_after=ROUND_PATIENCE)

        try:
            return apply(reports)
        except (DatabaseError, OperationalError) as exc:
            return [exc] * len(reports)
        except Exception as exc:
            if len(reports) == 1:
                log.error("cannot record a worker's report: %s", exc)
                return [exc]
        results: list[Any] = []
        for report in reports:
            try:
                results.extend(apply([report]))
            except Exception as exc:  # noqa: BLE001 - that worker records it itself
                log.error("cannot record a worker's report: %s", exc)
                results.append(exc)
        return results

    def _answer(self, request: _Request, result: Any) -> None:
        """The worker's answer for a recorded (or refused) report; its events queued."""
        report = request.report
        if isinstance(result, (DatabaseError, OperationalError)):
            request.reply = {"ok": False, "unavailable": True,
                             "error": str(result).splitlines()[0]}
            return
        if isinstance(result, Exception):  # refused (ExecutionStateError ...) or unrecorded
            request.reply = {"ok": False, "error": str(result).splitlines()[0]}
            return
        expected = self._expected_for(report.execution_id)  # type: ignore[union-attr]
        if isinstance(report, StartReport):
            execution, step = result
            if expected is not None:
                expected.execution = execution
            request.reply = {"ok": True, "execution": execution_to_wire(execution),
                             "step": step_to_wire(step)}
            self._event(lambda: self.hooks.execution_started(execution))
        elif isinstance(report, StepReport):
            request.reply = {"ok": True, "step": step_to_wire(result)}
            self._step_event(expected, report.done)
        elif isinstance(report, HeartbeatReport):
            request.reply = {"ok": True, "cancel": bool(result)}
        else:
            self._finished_answer(request, report, result, expected)  # type: ignore[arg-type]

    def _finished_answer(self, request: _Request, report: FinishReport, finished: Any,
                         expected: _Expected | None) -> None:
        self._step_event(expected, report.last_step)
        if finished is None:  # its scheduler (this one) ended it first: a timeout, a stop
            request.reply = {"ok": True, "exit_code": 1}
            return
        status = finished.execution.status
        request.reply = {"ok": True, "exit_code": exit_code_of(status)}
        with self._lock:
            self._finished[report.execution_id] = finished.execution
        self._event(lambda: announce_finished(self.hooks, finished, status))
        self.on_finished(finished.retry is not None)

    def _step_event(self, expected: _Expected | None, done: Any) -> None:
        if done is not None and expected is not None:
            execution = expected.execution
            self._event(lambda: self.hooks.step_finished(execution, replace(done)))

    def _send(self, request: _Request) -> None:
        data = (json.dumps(request.reply, separators=(",", ":"), default=str) + "\n").encode()
        try:
            request.connection.sock.sendall(data)
        except OSError:  # the worker is gone; its exit tells the rest
            self._drop(request.connection)

    # --- the events thread -----------------------------------------------------------

    def _event(self, fire: Callable[[], None]) -> None:
        self._events.put(fire)

    def _deliver_events(self) -> None:
        # events go to the process's one event queue, as every other event does: two
        # threads delivering to the same plugins raced for their lanes and lost events
        while True:
            fire = self._events.get()
            if fire is None:
                return
            try:
                fire()
            except Exception:  # the hooks guard plugins; this is a bug of ours: say so
                log.exception("delivering a lifecycle event failed")

"""Optional code around a worker's run and each of its steps, named by the environment.

The worker loads no plugins (a lean worker starts in milliseconds, issue 8), so a plugin
that must act inside it — tracing each step — sets ``WFSCHED_WORKER_INSTRUMENTATION`` to
the name of a module through the ``wfsched_worker_environment`` hook; the worker imports
that module only when the variable is set. The module offers
``start(execution) -> ExecutionInstrumentation | None``, called once the execution is
running (None: nothing to do for this one).
A broken instrumentation is logged and ignored: it never changes a run's outcome.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from wfsched_core.base.records import Execution

from wfsched_core.worker import ENV_INSTRUMENTATION

log = logging.getLogger(__name__)


class ExecutionInstrumentation(Protocol):
    """What ``start(execution)`` of an instrumentation module returns."""

    def step(self, position: int, name: str) -> AbstractContextManager[object]:
        """Entered just before step ``name`` runs, left when it returns or raises."""
        ...

    def finished(self, status: str, error: str | None) -> None:
        """The run ended with ``status`` (its final status is being recorded)."""
        ...


class GuardedInstrumentation:
    """An instrumentation whose own failures are logged, never raised into the run."""

    def __init__(self, inner: ExecutionInstrumentation) -> None:
        self.inner = inner

    @contextmanager
    def step(self, position: int, name: str) -> Iterator[None]:
        manager: AbstractContextManager[object] | None = None
        try:
            manager = self.inner.step(position, name)
            manager.__enter__()
        except Exception as exc:
            log.warning("worker instrumentation failed at step %s: %s", name, exc)
            manager = None
        try:
            yield
        except BaseException as exc:
            if manager is not None:
                self._leave(manager, exc)
            raise
        if manager is not None:
            self._leave(manager, None)

    @staticmethod
    def _leave(manager: AbstractContextManager[object], exc: BaseException | None) -> None:
        try:
            manager.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
        except Exception as error:
            log.warning("worker instrumentation failed after a step: %s", error)

    def finished(self, status: str, error: str | None) -> None:
        try:
            self.inner.finished(status, error)
        except Exception as exc:
            log.warning("worker instrumentation failed at the end: %s", exc)


def start_instrumentation(execution: Execution) -> GuardedInstrumentation | None:
    """The instrumentation the environment names, started for ``execution``; None when
    none is named or it cannot be loaded (logged)."""
    name = os.environ.get(ENV_INSTRUMENTATION)
    if not name:
        return None
    try:
        inner = importlib.import_module(name).start(execution)
    except Exception as exc:
        log.warning("worker instrumentation %s unavailable: %s: %s", name,
                    type(exc).__name__, exc)
        return None
    return None if inner is None else GuardedInstrumentation(inner)

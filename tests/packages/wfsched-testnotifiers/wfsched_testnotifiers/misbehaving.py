"""Notifiers that raise or hang in every lifecycle hook when ``$WFSCHED_TEST_MISBEHAVE``
is set: the core must go on as if they were not there (within its time budget)."""

import os
import time

from wfsched_core.hookspecs import hookimpl

ENV_MISBEHAVE = "WFSCHED_TEST_MISBEHAVE"


class _Misbehaving:
    def act(self):
        raise NotImplementedError

    def _maybe(self):
        if os.environ.get(ENV_MISBEHAVE):
            self.act()

    @hookimpl
    def wfsched_execution_queued(self, execution):
        self._maybe()

    @hookimpl
    def wfsched_execution_started(self, execution):
        self._maybe()

    @hookimpl
    def wfsched_step_finished(self, execution, step):
        self._maybe()

    @hookimpl
    def wfsched_execution_completed(self, execution):
        self._maybe()

    @hookimpl
    def wfsched_execution_failed(self, execution, will_retry):
        self._maybe()

    @hookimpl
    def wfsched_execution_timed_out(self, execution, will_retry):
        self._maybe()

    @hookimpl
    def wfsched_scheduler_started(self, scheduler):
        self._maybe()

    @hookimpl
    def wfsched_scheduler_stopping(self, scheduler, reason):
        self._maybe()


class Raiser(_Misbehaving):
    """Raises in every hook."""

    def act(self):
        raise RuntimeError("test notifier raises on purpose")


class Hanger(_Misbehaving):
    """Never returns from a hook (well, after an hour)."""

    def act(self):
        time.sleep(3600)


# entry points name objects: these are the registered plugins
raiser = Raiser()
hanger = Hanger()

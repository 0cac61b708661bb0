"""Notifiers that raise or hang in lifecycle hooks when ``$WFSCHED_TEST_MISBEHAVE`` is set:
the core must go on as if they were not there (within its time budget).

``WFSCHED_TEST_MISBEHAVE=1`` misbehaves in every hook; a comma-separated list of hook
names without the ``wfsched_`` prefix (``execution_queued,scheduler_tick``) only in those.
"""

import os
import time

from wfsched_core.framework.hookspecs import hookimpl

ENV_MISBEHAVE = "WFSCHED_TEST_MISBEHAVE"


class _Misbehaving:
    def act(self):
        raise NotImplementedError

    def _maybe(self, hook):
        wanted = os.environ.get(ENV_MISBEHAVE, "")
        if wanted == "1" or hook in wanted.split(","):
            self.act()

    @hookimpl
    def wfsched_execution_queued(self, execution):
        self._maybe("execution_queued")

    @hookimpl
    def wfsched_execution_started(self, execution):
        self._maybe("execution_started")

    @hookimpl
    def wfsched_step_finished(self, execution, step):
        self._maybe("step_finished")

    @hookimpl
    def wfsched_execution_completed(self, execution):
        self._maybe("execution_completed")

    @hookimpl
    def wfsched_execution_failed(self, execution, will_retry):
        self._maybe("execution_failed")

    @hookimpl
    def wfsched_execution_timed_out(self, execution, will_retry):
        self._maybe("execution_timed_out")

    @hookimpl
    def wfsched_scheduler_started(self, scheduler):
        self._maybe("scheduler_started")

    @hookimpl
    def wfsched_scheduler_stopping(self, scheduler, reason):
        self._maybe("scheduler_stopping")

    @hookimpl
    def wfsched_scheduler_tick(self, scheduler, running, pending, max_concurrent):
        self._maybe("scheduler_tick")


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

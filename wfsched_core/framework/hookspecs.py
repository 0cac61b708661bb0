"""Every hook of wfsched, in one place: the index of what a plugin can extend.

A plugin is a module (or object) with functions named like the specs below, decorated
with ``wfsched_core.hookimpl``, announced through the ``wfsched.plugins`` entry point::

    [project.entry-points."wfsched.plugins"]
    wfsched-notify-webhook = "wfsched_notify_webhook.plugin"

A plugin need implement only the hooks it cares about, and may accept fewer arguments
than a spec offers (pluggy passes only those it names). Built-in behaviour is itself a set
of plugins (listed in ``wfsched_core.framework.builtins``) registered the same way, so
``wfsched plugins list`` shows everything that is active and any of it can be replaced.

Processes: the *scheduler* is ``wfsched scheduler``; a *worker* is ``wfsched execute ID``;
a *command* is any other ``wfsched`` invocation (``trigger``, ``cancel`` ...). Lifecycle
hooks are called once per event, in the process that owns the execution at that moment:
the process whose compare-and-set of the status succeeded.

Calling order is pluggy's: implementations marked ``tryfirst`` first, then the others from
the last registered to the first, ``trylast`` ones last; ``wrapper=True`` implementations
run around all of them. Inside that call each plugin's lifecycle and admission
implementations are guarded: they run within a time budget (``[scheduler] notify_budget``
seconds, default 5) in a thread of the plugin's own; an exception or an overrun is logged
with the plugin's name and never changes the execution's outcome, and a plugin that
overran is skipped on that host for ``notify_backoff`` seconds (default 60, doubling while
it keeps overrunning), which ``wfsched plugins list`` and ``wfsched status`` show.

Lifecycle events are delivered from a queue in the firing process, in the order fired,
off the path of the code that fires them: the firing code waits at most half a second for
the hand-over, and at exit the events still queued get one more budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from wfsched_core.authoring.catalog import WorkflowRegistrar
    from wfsched_core.authoring.workflow import WorkflowSpec
    from wfsched_core.base.config import Settings
    from wfsched_core.base.records import Execution, SchedulerRow, StepRecord
    from wfsched_core.framework.spawning import SpawnerRegistrar
    from wfsched_core.store.contract import Store

PROJECT = "wfsched"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- configuration -------------------------------------------------------------------


@hookspec
def wfsched_configure(settings: Settings) -> None:
    """Validate and take in this plugin's configuration, once per process, after loading.

    Called in every process (scheduler, worker, command) before anything else uses the
    plugin. ``settings.section("notify.webhook")`` returns the plugin's own table of
    ``wfsched.toml`` (an empty dict when absent). Raise
    :class:`wfsched_core.base.errors.ConfigError` with a message naming the key to report a
    bad setting: the command stops with exit code 2 and that one line.
    """


# --- discovery -----------------------------------------------------------------------


@hookspec
def wfsched_workflows(registry: WorkflowRegistrar) -> None:
    """Announce workflow classes: ``registry.add(name, cls, source=..., distribution=...)``
    (``distribution`` defaults to the plugin's own).

    Called once per process that needs the catalog of workflows (scheduler, worker,
    ``workflows list``, ``trigger``). A workflow that cannot be loaded is announced with
    ``registry.add_broken(name, reason, source=...)`` so that ``workflows list`` shows it
    and the others still run. When several distributions announce the same name, none of
    them runs until ``[workflows.NAME] distribution = "..."`` picks one; the others are
    reported as broken with the reason (``wfsched_core.authoring.name_collisions``).
    The built-in implementation reads the ``wfsched.workflows`` entry points.
    """


# --- spawning ------------------------------------------------------------------------


@hookspec
def wfsched_spawners(registry: SpawnerRegistrar) -> None:
    """Announce spawn strategies: ``registry.add(name, factory)``.

    ``factory(settings)`` returns an object following
    :class:`wfsched_core.framework.spawning.Spawner`: it starts one worker (``wfsched execute ID``)
    for one execution and returns a storable handle, tells whether a handle's worker is
    alive, and stops it (gracefully, then forcibly). Called in the scheduler (and by
    ``cancel``). A name announced twice keeps the first and reports the second.
    See ``docs/writing-a-spawner.md``.
    """


# --- status storage ------------------------------------------------------------------


@hookspec(firstresult=True)
def wfsched_store(url: str, settings: Settings) -> Store | None:
    """Return the store for a database URL, or ``None`` to let the next plugin try.

    The first non-``None`` result wins. The built-in SQLAlchemy store accepts every URL
    SQLAlchemy knows (``sqlite``, ``postgresql``, ``mysql``/``mariadb``); a plugin
    registered before it may claim some URLs for itself. The returned object must offer
    the store contract, :class:`wfsched_core.store.contract.Store` (``SqlStore`` implements
    it; a plugin may wrap one).
    """


# --- admission -----------------------------------------------------------------------


@hookspec
def wfsched_admit(execution: Execution, spec: WorkflowSpec | None) -> str | None:
    """Say whether a pending execution may start now.

    Called in the scheduler for each pending execution it is about to claim. Return
    ``None`` to admit it, or a short reason (``"available memory 180 MB < 512 MB"``) to
    hold it back for now; the reason is stored and shown by ``executions list/show``, and
    the scheduler asks again on its next round. Any plugin holding it back is enough; the
    first reason in pluggy's order is the one shown. Called directly (not queued), each
    plugin within the budget: one that raises, overruns or is skipped does not hold back.
    """


# --- workers -------------------------------------------------------------------------


@hookspec
def wfsched_worker_environment(execution: Execution, spawner: str) -> dict[str, str] | None:
    """Return variables to add to the environment of the worker about to run ``execution``.

    Called in the scheduler for each execution it starts, just before it hands the worker
    to the spawner named ``spawner`` (``local`` in fork or exec mode, or a plugin's), so
    the values reach the lean worker and ``wfsched execute`` alike, in every start mode:
    a trace context (``TRACEPARENT``), a correlation id. The worker loads no plugins;
    to run code of its own around each step, a plugin sets
    ``WFSCHED_WORKER_INSTRUMENTATION`` to the name of a module, which the worker then
    imports (see ``wfsched_core.worker.instrumentation``). Every plugin's variables are
    merged, the first in pluggy's order winning a name; guarded like ``wfsched_admit``.
    """


# --- command line --------------------------------------------------------------------


@hookspec
def wfsched_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``wfsched`` group: ``cli.add_command(my_command)``.

    Called once, in a ``wfsched`` command given a name that is not built in (``wfsched
    --help`` lists the built-in commands only: it loads no plugin). A command whose name
    is taken is reported and not added.
    """


# --- lifecycle events ----------------------------------------------------------------


@hookspec
def wfsched_execution_queued(execution: Execution) -> None:
    """An execution became ``pending`` (trigger, schedule tick, retry or dependency).

    Called in the process that inserted it (``trigger`` command, scheduler or worker).
    """


@hookspec
def wfsched_execution_started(execution: Execution) -> None:
    """The worker marked the execution ``running``; called in the worker."""


@hookspec
def wfsched_step_finished(execution: Execution, step: StepRecord) -> None:
    """One step ended (``step.status`` completed or failed); called in the worker."""


@hookspec
def wfsched_execution_completed(execution: Execution) -> None:
    """Every step succeeded; called in the worker after the status is stored."""


@hookspec
def wfsched_execution_failed(execution: Execution, will_retry: bool) -> None:
    """The execution ended ``failed``: ``execution.error`` says why.

    Called in the worker when a step raised, or in the scheduler when the worker died,
    timed out or was stopped. ``will_retry`` is true when a new attempt was queued.
    """


@hookspec
def wfsched_execution_cancelled(execution: Execution) -> None:
    """The execution ended ``cancelled``; called by the process that set the status."""


@hookspec
def wfsched_execution_timed_out(execution: Execution, will_retry: bool) -> None:
    """The scheduler stopped a worker that ran past its ``timeout``.

    Called in the scheduler, in addition to (and before) ``wfsched_execution_failed``.
    """


@hookspec
def wfsched_execution_waiting(execution: Execution) -> None:
    """The run reached a step that needs a person's approval and now waits (``waiting``).

    Called once, by the process that recorded the wait (the scheduler that committed its
    lean worker's report, or the ``wfsched execute`` worker itself). ``execution.wait_reason``
    names the step (and who may approve it, also in ``execution.approvers``); the run
    holds no slot and no process until ``wfsched approve ID`` or ``wfsched reject ID``. A
    notifier asks for the approval here.
    """


@hookspec
def wfsched_execution_overdue(execution: Execution, deadline: float) -> None:
    """The run had not finished ``deadline`` seconds (its workflow's ``deadline``) after
    it was scheduled or queued.

    Called once per execution across every scheduler (the one whose compare-and-set on
    ``overdue_at`` won), in that scheduler, also when it notices late, after a restart.
    The run goes on; this only tells.
    """


@hookspec
def wfsched_scheduler_started(scheduler: SchedulerRow) -> None:
    """A scheduler registered itself and is about to claim work; called in it."""


@hookspec
def wfsched_scheduler_stopping(scheduler: SchedulerRow, reason: str) -> None:
    """A scheduler stopped claiming and is about to exit; called in it."""


# --- notification delivery -------------------------------------------------------------


@hookspec
def wfsched_notify_report(wait: float) -> list[dict[str, Any]] | None:
    """Describe this plugin's notification destinations and how its last sending went.

    Called by ``wfsched notify list`` (``wait`` 0) and by ``wfsched notify test`` (after it
    fired one lifecycle hook for a synthetic execution with id 0), in that command's
    process; never by schedulers or workers. A notifier first waits up to ``wait`` seconds
    for its deliveries still in flight in this process, then returns one dict per
    configured destination: ``notifier`` (e.g. ``"webhook"``), ``target`` (as shown to a
    user: never a secret), ``events`` (the event names it listens to), ``workflows`` (a
    list, or ``None`` for all), ``ok`` (the last notification of this process: ``True``
    delivered, ``False`` failed, ``None`` none sent, for example filtered out) and
    ``detail`` (one line saying what happened). A plugin that notifies no one returns
    ``None``.
    """


# --- the scheduler's pulse -------------------------------------------------------------


@hookspec
def wfsched_scheduler_tick(scheduler: SchedulerRow, running: int, pending: int,
                           max_concurrent: int) -> None:
    """The scheduler's main loop is alive: called in it once per heartbeat interval.

    ``running`` is how many workers this scheduler watches, ``pending`` how many
    executions wait in the database. For service integration (a systemd watchdog and
    status line), metrics and dashboards. Not a notification event. Delivered from the
    event queue with the same time budget as lifecycle hooks; keep it quick.
    """


LIFECYCLE_HOOKS: tuple[str, ...] = (
    "wfsched_execution_queued",
    "wfsched_execution_started",
    "wfsched_step_finished",
    "wfsched_execution_completed",
    "wfsched_execution_failed",
    "wfsched_execution_cancelled",
    "wfsched_execution_timed_out",
    "wfsched_execution_waiting",
    "wfsched_execution_overdue",
    "wfsched_scheduler_started",
    "wfsched_scheduler_stopping",
    "wfsched_scheduler_tick",
)

# Hooks whose third-party implementations run under wfsched's guard (wfsched_core.framework.hook_guard).
GUARDED_HOOKS: frozenset[str] = frozenset((*LIFECYCLE_HOOKS, "wfsched_admit",
                                          "wfsched_worker_environment"))

# The event names of notifications and their hooks (contract for notifier configuration).
EVENT_HOOKS: dict[str, str] = {
    "queued": "wfsched_execution_queued",
    "started": "wfsched_execution_started",
    "step_finished": "wfsched_step_finished",
    "completed": "wfsched_execution_completed",
    "failed": "wfsched_execution_failed",
    "cancelled": "wfsched_execution_cancelled",
    "timed_out": "wfsched_execution_timed_out",
    "waiting": "wfsched_execution_waiting",
    "overdue": "wfsched_execution_overdue",
    "scheduler_started": "wfsched_scheduler_started",
    "scheduler_stopping": "wfsched_scheduler_stopping",
}

ALL_HOOKS: tuple[str, ...] = tuple(
    name for name, value in dict(globals()).items()
    if name.startswith("wfsched_") and callable(value)
)  # fmt: skip

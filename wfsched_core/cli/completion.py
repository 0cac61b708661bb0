"""Shell completion (click's): workflow names and execution ids.

Enabled by the shell's start-up file (see the README, "Shell completion"): the shell runs
``wfsched`` with ``_WFSCHED_COMPLETE=bash_complete`` (or ``zsh_complete``,
``fish_complete``) and the words typed so far, and prints what it answers. No group
callback runs then, so the application is built here from the options already typed
(``--database-url``, ``--config``). Completion never fails loudly: a missing database or
a broken configuration completes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import click
from click.shell_completion import CompletionItem

from wfsched_core.base.bounds import MAX_EXECUTION_ID

log = logging.getLogger(__name__)
COMPLETED_IDS = 200  # newest executions offered for an id


def _app(ctx: click.Context) -> Any:
    from wfsched_core.app import App

    app = ctx.find_object(App)
    if app is not None:
        return app
    root = ctx.find_root().params
    return App(root.get("database_url"), root.get("config_file"), -2)


class WorkflowName(click.ParamType):
    """A workflow's name, completed from the installed workflows."""

    name = "workflow"

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
        try:
            names = _app(ctx).hooks.catalog().names
        except Exception as exc:  # noqa: BLE001 - completion must never print a traceback
            log.debug("no workflow names to complete: %s", exc)
            return []
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


class ExecutionId(click.IntRange):
    """An execution id (1 and up), completed from the newest executions."""

    def __init__(self) -> None:
        super().__init__(1, MAX_EXECUTION_ID)

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
        try:
            # reading never creates a database: a missing one raises, and completes nothing
            rows = _app(ctx).quick_store.list_executions(limit=COMPLETED_IDS)
        except Exception as exc:  # noqa: BLE001 - completion must never print a traceback
            log.debug("no execution ids to complete: %s", exc)
            return []
        return [CompletionItem(str(e.id), help=f"{e.workflow} {e.status.value}")
                for e in rows if str(e.id).startswith(incomplete)]

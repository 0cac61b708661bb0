"""Colour on a terminal: statuses in ``executions list|show``.

Styles are always written; click strips them when the output is not a terminal (a pipe,
a file, cron), and when colour is switched off: ``--no-color`` or a non-empty
``NO_COLOR`` (https://no-color.org). ``--color`` keeps them through a pipe (``| less -R``).
"""

from __future__ import annotations

import os

import click

STATUS_STYLES: dict[str, dict[str, object]] = {
    "pending": {"fg": "yellow"},
    "waiting": {"fg": "yellow"},
    "running": {"fg": "cyan"},
    "completed": {"fg": "green"},
    "failed": {"fg": "red", "bold": True},
    "cancelled": {"fg": "magenta"},
}


def colour_setting(option: bool | None) -> bool | None:
    """``ctx.color`` for the group: the option if given, off under ``NO_COLOR``, else
    ``None`` (click decides per stream: on for a terminal)."""
    if option is not None:
        return option
    if os.environ.get("NO_COLOR"):
        return False
    return None


def status(text: str) -> str:
    """A status (of an execution or a step) in its colour."""
    return click.style(text, **STATUS_STYLES.get(text, {}))  # type: ignore[arg-type]

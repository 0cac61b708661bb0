"""How the pages show times and durations (the script in ``static/`` mirrors these)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment


def when(value: str | None) -> str:
    """``2026-11-28T18:05:59.123Z`` -> ``2026-11-28 18:05:59`` (UTC, as stored)."""
    if not value:
        return "—"
    return value.replace("T", " ")[:19]


def duration(seconds: Any) -> str:
    """Seconds as ``0.42 s``, ``12.3 s``, ``4m 05s`` or ``2h 03m``."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def params_text(params: Any) -> str:
    """Parameters as ``k=v`` pairs for a table cell."""
    if not params:
        return ""
    return " ".join(f"{key}={value}" for key, value in dict(params).items())


def register_filters(env: Environment) -> None:
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["params_text"] = params_text

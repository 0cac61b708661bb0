"""The body of a Slack incoming webhook: ``text`` (the fallback) and Block Kit blocks."""

from __future__ import annotations

from typing import Any

from wfsched_core.base.records import isoformat
from wfsched_core.notify.notification import Notification

_EMOJI = {
    "queued": ":hourglass_flowing_sand:", "started": ":arrow_forward:",
    "step_finished": ":white_small_square:", "completed": ":white_check_mark:",
    "failed": ":x:", "cancelled": ":no_entry_sign:", "timed_out": ":alarm_clock:",
    "waiting": ":raised_hand:", "overdue": ":hourglass:",
    "scheduler_started": ":large_green_circle:", "scheduler_stopping": ":red_circle:",
}  # fmt: skip
# Slack refuses a section text over 3000 characters.
_MAX_TEXT = 2900


def slack_message(note: Notification) -> dict[str, Any]:
    """``{"text": ..., "blocks": [...]}`` for ``note``."""
    headline = f"{_EMOJI.get(note.event, '')} {escape(note.summary())}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:_MAX_TEXT]}},
    ]
    execution = note.execution
    if execution is not None and execution.error and note.event in ("failed", "timed_out"):
        error = escape(execution.error)[:_MAX_TEXT]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{error}```"}})
    facts = [f"event `{note.event}`"]
    if execution is not None:
        facts += [f"execution {execution.id}", f"attempt {execution.attempt}"]
        if execution.host:
            facts.append(f"host {escape(execution.host)}")
        if execution.duration is not None and execution.finished_at is not None:
            facts.append(f"{execution.duration:.1f}s")
    facts.append(isoformat(note.at) or "")
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]})
    return {"text": escape(note.summary())[:_MAX_TEXT], "blocks": blocks}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the three characters it treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

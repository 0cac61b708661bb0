"""The mail for one notification: a subject that says it all, a plain-text body to read."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from wfsched_core.base.records import isoformat
from wfsched_core.notify.notification import RETRY_EVENTS, Notification
from wfsched_notify_email.email_config import EmailTarget


def build_message(target: EmailTarget, note: Notification, logs_dir: Path | None) -> EmailMessage:
    """The message for ``note``; the log's last lines come from ``logs_dir`` when known."""
    message = EmailMessage()
    message["Subject"] = f"{target.subject_prefix} {note.summary()}".strip()[:250]
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=target.sender.rpartition("@")[2])
    message["X-Wfsched-Event"] = note.event
    message.set_content(body_text(note, logs_dir, target.log_lines))
    return message


def body_text(note: Notification, logs_dir: Path | None, log_lines: int) -> str:
    """Facts first, then the error, then the end of the execution's log."""
    lines = [note.summary(), ""]
    execution = note.execution
    facts: list[tuple[str, object]] = [("Event", note.event)]
    if execution is not None:
        facts += [
            ("Workflow", execution.workflow),
            ("Execution", f"{execution.id} (attempt {execution.attempt})"),
            ("Status", execution.status.value),
            ("Host", execution.host),
            ("Started", isoformat(execution.started_at)),
            ("Finished", isoformat(execution.finished_at)),
        ]
        if execution.finished_at is not None and execution.duration is not None:
            facts.append(("Duration", f"{execution.duration:.1f}s"))
        if execution.exit_code is not None:
            facts.append(("Exit code", execution.exit_code))
        if note.event in RETRY_EVENTS:
            facts.append(("Will retry", "yes" if note.will_retry else "no"))
    if note.step is not None:
        facts.append(("Step", f"{note.step.name} ({note.step.status.value})"))
    if note.scheduler is not None:
        facts += [("Scheduler", note.scheduler.id), ("Host", note.scheduler.host),
                  ("PID", note.scheduler.pid)]
    if note.reason:
        facts.append(("Reason", note.reason))
    facts += [(action.capitalize(), command) for action, command in note.commands().items()]
    width = max(len(name) for name, _ in facts) + 1
    lines += [f"{name + ':':<{width}} {'-' if value is None else value}" for name, value in facts]
    error = (note.step.error if note.step is not None else None) or (
        execution.error if execution is not None else None)
    if error:
        lines += ["", "Error:", *_indent(error.splitlines())]
    if execution is not None and logs_dir is not None and log_lines > 0:
        lines += ["", *_log_tail(logs_dir, execution.id, log_lines)]
        lines += ["", f"More: wfsched executions show {execution.id}; "
                      f"wfsched logs {execution.id}"]
    return "\n".join(lines) + "\n"


def _log_tail(logs_dir: Path, execution_id: int, count: int) -> list[str]:
    from wfsched_core.base.execution_log import log_path, tail

    path = log_path(logs_dir, execution_id)
    try:
        tail_lines = tail(path, count)
    except OSError as exc:
        return [f"The log {path} cannot be read: {exc}"]
    if not tail_lines:
        return [f"The log {path} is empty or absent."]
    return [f"Last {len(tail_lines)} lines of the log ({path}):", *_indent(tail_lines)]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]

"""Checking what a request sends: query strings, JSON bodies and forms.

Every problem becomes an :class:`InputError` with a message naming the field, answered
as 422; nothing a client sends reaches the database unchecked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wfsched_core.base.status import ExecutionStatus

MAX_COUNT = 1000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
INT32 = (-(2**31), 2**31 - 1)
MAX_ID = 2**63 - 1
MAX_OFFSET = 2**53
MAX_BODY_BYTES = 1024 * 1024
MAX_PAGE_OFFSET = 10**9
MAX_SEARCH_TEXT = 200
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
STATUSES = tuple(s.value for s in ExecutionStatus)


class InputError(ValueError):
    """A malformed request; its message says which field and why."""


@dataclass
class TriggerRequest:
    """What ``POST /api/workflows/{name}/trigger`` and the Trigger form ask for."""

    count: int = 1
    priority: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionFilter:
    """The filters of the executions list, and which page of it."""

    status: str | None = None
    workflow: str | None = None
    limit: int = DEFAULT_LIMIT
    text: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as a query string's fields (empty ones left out), with changes."""
        fields = {"status": self.status, "workflow": self.workflow, "q": self.text,
                  "since": _time_text(self.since), "until": _time_text(self.until),
                  "limit": None if self.limit == DEFAULT_LIMIT else self.limit,
                  "offset": self.offset or None}
        fields.update(changes)
        return {key: str(value) for key, value in fields.items() if value not in (None, "")}


def plain_text(name: str, value: str) -> str:
    # PostgreSQL refuses NUL characters in text; refuse them here, as bad input
    if "\x00" in value:
        raise InputError(f"{name} must not contain NUL characters")
    return value


def parse_int(name: str, value: Any, low: int, high: int) -> int:
    """An integer in [low, high] from a JSON number or a string."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be an integer, not a boolean")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InputError(f"{name} must be an integer, got {value[:40]!r}")
    if not isinstance(value, int):
        raise InputError(f"{name} must be an integer")
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}")
    return value


def execution_filter(query: Any) -> ExecutionFilter:
    """``status``, ``workflow``, ``q`` (parameter text), ``since``/``until`` (creation
    time, UTC), ``limit`` and ``offset`` of a query string (empty means no filter)."""
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}")
    workflow = query.get("workflow") or None
    if workflow is not None:
        workflow = plain_text("workflow", workflow)
    text = (query.get("q") or "").strip() or None
    if text is not None and len(text) > MAX_SEARCH_TEXT:
        raise InputError(f"q must be at most {MAX_SEARCH_TEXT} characters")
    since = parse_time("since", query.get("since"))
    until = parse_time("until", query.get("until"), end_of_day=True)
    if since is not None and until is not None and until <= since:
        raise InputError("until must be later than since")
    limit = query.get("limit")
    limit = DEFAULT_LIMIT if limit in (None, "") else parse_int("limit", limit, 1, MAX_LIMIT)
    offset = query.get("offset")
    offset = 0 if offset in (None, "") else parse_int("offset", offset, 0, MAX_PAGE_OFFSET)
    return ExecutionFilter(status=status, workflow=workflow, limit=limit,
                           text=plain_text("q", text) if text else None, since=since,
                           until=until, offset=offset)


def parse_time(name: str, value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A UTC time written ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` (a space works too).

    A bare date as an upper bound means the end of that day, so ``until=2026-11-28``
    includes the 28th.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not _TIME.fullmatch(text):
        raise InputError(f"{name} must be a UTC time as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], "
                         f"got {text[:40]!r}")
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError as exc:
        raise InputError(f"{name}: {exc}")
    if end_of_day and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def _time_text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def log_offset(query: Any) -> int | None:
    value = query.get("offset")
    return None if value in (None, "") else parse_int("offset", value, 0, MAX_OFFSET)


def json_object(body: bytes, what: str, fields: set[str]) -> dict[str, Any]:
    """A request's JSON body: an object of at most ``fields`` (empty body: ``{}``)."""
    if not body.strip():
        return {}
    if len(body) > MAX_BODY_BYTES:
        raise InputError(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except RecursionError:
        raise InputError(f"the body is nested too deeply to be a {what}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"the body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(unknown)}")
    return data


def trigger_from_json(body: bytes) -> TriggerRequest:
    """The JSON body ``{"count": 1, "priority": null, "params": {}}`` (all optional)."""
    if not body.strip():
        return TriggerRequest()
    data = json_object(body, "trigger request", {"count", "priority", "params"})
    count = data.get("count")
    priority = data.get("priority")
    params = data.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InputError("params must be a JSON object")
    for key, value in params.items():
        check_param(f"params.{key}"[:60], key, value)
    return TriggerRequest(
        count=1 if count is None else parse_int("count", count, 1, MAX_COUNT),
        priority=None if priority is None else parse_int("priority", priority, *INT32),
        params=params,
    )


def trigger_from_form(form: Any) -> TriggerRequest:
    """The Trigger form: count, priority (blank = the workflow's), KEY=VALUE lines."""
    count_text = (form.get("count") or "1").strip()
    priority_text = (form.get("priority") or "").strip()
    return TriggerRequest(
        count=parse_int("count", count_text, 1, MAX_COUNT),
        priority=parse_int("priority", priority_text, *INT32) if priority_text else None,
        params=params_from_lines(form.get("params") or ""),
    )


def params_from_lines(text: str) -> dict[str, str]:
    """``KEY=VALUE`` per line (values are strings, as with ``trigger --param``)."""
    params: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise InputError(f"parameters, line {number}: expected KEY=VALUE, got {line[:60]!r}")
        params[key] = value.strip()
        check_param(f"parameters, line {number}", key, params[key])
    return params


def check_param(where: str, key: str, value: object) -> None:
    """A parameter as ``trigger --param K=V`` makes them: a name and a string value."""
    if not _KEY.fullmatch(key):
        raise InputError(f"{where}: {key[:40]!r} is not a valid parameter name "
                         "(letters, digits, _ . -; not starting with a digit)")
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string (as with trigger --param K=V), "
                         f"not {type(value).__name__ if value is not None else 'null'}")
    plain_text(where, value)


def pause_reason_from_json(body: bytes) -> str | None:
    """The JSON body of a pause, ``{"reason": "..."}`` (optional): its reason."""
    return pause_reason(json_object(body, "pause request", {"reason"}).get("reason"))


def pause_reason(value: Any) -> str | None:
    """A pause's reason from a form or JSON: text of at most 500 characters, or none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError("reason must be a string")
    if len(value) > 500:
        raise InputError("reason is longer than 500 characters")
    return plain_text("reason", value.strip()) or None

"""Cron expressions in words for the common shapes; anything else is shown as written."""

from __future__ import annotations

_ALIASES = {
    "@yearly": "every year on 1 January at 00:00",
    "@annually": "every year on 1 January at 00:00",
    "@monthly": "every month on day 1 at 00:00",
    "@weekly": "every Sunday at 00:00",
    "@daily": "every day at 00:00",
    "@midnight": "every day at 00:00",
    "@hourly": "every hour at minute 0",
}
_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


def cron_in_words(expression: str) -> str:
    text = expression.strip()
    if text in _ALIASES:
        return _ALIASES[text]
    fields = text.split()
    if len(fields) != 5:
        return f"cron {text}"
    minute, hour, dom, month, dow = fields
    if all(f == "*" for f in fields):
        return "every minute"
    if minute.startswith("*/") and hour == dom == month == dow == "*":
        return f"every {minute[2:]} minutes"
    if minute.isdigit() and hour == dom == month == dow == "*":
        return f"every hour at minute {int(minute)}"
    if minute.isdigit() and hour.startswith("*/") and dom == month == dow == "*":
        return f"every {hour[2:]} hours at minute {int(minute)}"
    if minute.isdigit() and hour.isdigit() and month == "*":
        at = f"{int(hour):02d}:{int(minute):02d}"
        if dom == "*" and dow == "*":
            return f"every day at {at}"
        if dom == "*" and dow.isdigit() and int(dow) <= 7:
            return f"every {_DAYS[int(dow) % 7]} at {at}"
        if dom == "*" and dow in ("1-5", "MON-FRI", "mon-fri"):
            return f"every weekday at {at}"
        if dom.isdigit() and dow == "*":
            return f"every month on day {int(dom)} at {at}"
    return f"cron {text}"

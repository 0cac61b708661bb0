"""Flow limits of a workflow beyond ``concurrency``: a limit per concurrency key and a
rate limit (issue 17).

Plain values the claim can apply: the key of an execution is computed from its params
when it is queued (and stored with it), so that the claim counts running executions of
the same key in SQL, inside its transaction, on every scheduler alike.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfsched_core.base.bounds import DAY

if TYPE_CHECKING:
    from wfsched_core.authoring.workflow import WorkflowSpec

log = logging.getLogger(__name__)

#: the stored key's column width; a longer key is shortened with a digest of the whole
KEY_WIDTH = 200
MAX_RATE_COUNT = 1_000_000
MAX_RATE_WINDOW = DAY

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
          "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
          "h": 3600.0, "hour": 3600.0, "hours": 3600.0, "d": DAY, "day": DAY, "days": DAY}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.IGNORECASE)
RATE_FORMAT = ('COUNT/UNIT like "10/minute", "5/2s" or "100/hour" '
               "(units: second, minute, hour, day, or s, m, h, d)")


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` starts in any window of ``seconds``."""

    count: int
    seconds: float

    def describe(self) -> str:
        return f"{self.count} per {_seconds_text(self.seconds)}"


def parse_rate_limit(text: str) -> RateLimit:
    """``"10/minute"``, ``"5/2s"``, ``"100/hour"`` as a :class:`RateLimit`; a
    ``ValueError`` saying the expected form for anything else."""
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    unit = _UNITS.get(match.group(3).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"must be {RATE_FORMAT}, not {text!r}")
    count = int(match.group(1))
    seconds = float(match.group(2) or 1) * unit
    if not 1 <= count <= MAX_RATE_COUNT or not 0 < seconds <= MAX_RATE_WINDOW:
        raise ValueError(f"must allow 1 to {MAX_RATE_COUNT} starts in a window longer than "
                         f"0 and at most a day, not {text!r}")
    return RateLimit(count, seconds)


def rate_limit_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a ``rate_limit`` (``must be ...``), or None when it can."""
    try:
        parse_rate_limit(value)
    except ValueError as exc:
        return str(exc)
    return None


def concurrency_key_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a ``concurrency_key``, or None when it can."""
    if callable(value) or (isinstance(value, str) and value.strip()):
        return None
    return f"must be a parameter name or a callable of the params, not {value!r}"


@dataclass(frozen=True)
class FlowLimits:
    """What the claim holds one workflow's executions to, beyond ``concurrency``."""

    key: str | Callable[[Mapping[str, Any]], Any] | None = None
    per_key: int = 1
    rate: RateLimit | None = None

    def key_for(self, params: Mapping[str, Any], *, strict: bool = False) -> str | None:
        """The concurrency key of an execution with ``params``: None without a key;
        ``""`` (one shared key) when the parameter is absent or the callable returns None
        or fails — unless ``strict``, where a failing callable raises ``ValueError``."""
        if self.key is None:
            return None
        if isinstance(self.key, str):
            value = params.get(self.key)
        else:
            try:
                value = self.key(params)
            except Exception as exc:
                if strict:
                    raise ValueError(f"its concurrency_key failed on these params: "
                                     f"{type(exc).__name__}: {exc}") from exc
                log.warning("concurrency_key failed (%s: %s): using the empty key",
                            type(exc).__name__, exc)
                value = None
        return _stored_key("" if value is None else str(value))


def flow_limits_of(spec: WorkflowSpec) -> FlowLimits | None:
    """The limits of ``spec`` (None: it has neither a key nor a rate limit)."""
    if spec.concurrency_key is None and spec.rate_limit is None:
        return None
    rate = parse_rate_limit(spec.rate_limit) if spec.rate_limit is not None else None
    return FlowLimits(spec.concurrency_key, spec.concurrency_per_key, rate)


def key_for_spec(spec: WorkflowSpec | None, params: Mapping[str, Any], *,
                 strict: bool = False) -> str | None:
    """The concurrency key of a new execution of ``spec`` (None: the workflow has none)."""
    limits = flow_limits_of(spec) if spec is not None else None
    return limits.key_for(params, strict=strict) if limits is not None else None


def _stored_key(key: str) -> str:
    if len(key) <= KEY_WIDTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[:KEY_WIDTH - 18]}~{digest}"


def _seconds_text(seconds: float) -> str:
    named = {1.0: "second", 60.0: "minute", 3600.0: "hour", DAY: "day"}
    return named.get(seconds) or f"{seconds:g}s"


def flow_limits_by_name(specs: Iterable[WorkflowSpec]) -> dict[str, FlowLimits]:
    """The limits of each workflow that has a concurrency key or a rate limit."""
    found = {spec.name: flow_limits_of(spec) for spec in specs}
    return {name: limits for name, limits in found.items() if limits is not None}


def limits_json(spec: WorkflowSpec | None) -> dict[str, Any]:
    """A workflow's limits as ``workflows list --json`` shows them (a callable key by its
    name): ``concurrency``, ``concurrency_key``, ``concurrency_per_key``, ``rate_limit``."""
    if spec is None:
        return {"concurrency": None, "concurrency_key": None, "concurrency_per_key": None,
                "rate_limit": None}
    key = spec.concurrency_key
    if key is not None and not isinstance(key, str):
        key = f"<callable {getattr(key, '__qualname__', type(key).__name__)}>"
    return {"concurrency": spec.concurrency, "concurrency_key": key,
            "concurrency_per_key": spec.concurrency_per_key if key is not None else None,
            "rate_limit": spec.rate_limit}

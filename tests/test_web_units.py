"""In-process checks of the dashboard's pure parts: lanes, inputs, addresses, redirects."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytest.importorskip("starlette", reason="wfsched-web is not installed")

from wfsched_web.command import check_bind, is_loopback  # noqa: E402
from wfsched_web.inputs import InputError, params_from_lines, trigger_from_json  # noqa: E402
from wfsched_web.pages import safe_next  # noqa: E402
from wfsched_web.timeline import assign_lanes, render_svg  # noqa: E402

from wfsched_core.base.errors import UsageError  # noqa: E402

T0 = datetime(2026, 1, 1, 12, 0, 0)


def _row(execution_id: int, start: float, end: float | None, owner: str | None = "s1",
         workflow: str = "noop", status: str = "completed") -> dict:
    return {"id": execution_id, "workflow": workflow, "status": status, "claimed_by": owner,
            "started_at": T0 + timedelta(seconds=start),
            "finished_at": None if end is None else T0 + timedelta(seconds=end)}


def test_lanes_use_as_few_slots_as_the_peak_parallelism() -> None:
    rows = [_row(1, 0, 10), _row(2, 1, 3), _row(3, 4, 6), _row(4, 5, 12),
            _row(5, 2, 4, owner="s2"), _row(6, 11, None, status="running")]
    bars, lanes = assign_lanes(rows, now=T0 + timedelta(seconds=20))
    lane_of = {bar.execution_id: bar.lane for bar in bars}
    assert [(lane.owner, lane.slot) for lane in lanes] == [("s1", 1), ("s1", 2), ("s1", 3),
                                                           ("s2", 1)]
    assert lane_of[1] == 0 and lane_of[2] == lane_of[3] == 1 and lane_of[4] == 2
    assert lane_of[6] == 0  # execution 1 had ended by then: its slot is free again
    assert lane_of[5] == 3
    running = next(bar for bar in bars if bar.execution_id == 6)
    assert running.end == T0 + timedelta(seconds=20)  # drawn up to now


def test_timeline_escapes_names_and_draws_nothing_when_empty() -> None:
    svg = render_svg([_row(1, 0, 1, owner="<x>", workflow="<script>")], {"<x>": "<b>host"})
    assert "<script>" not in svg and "&lt;b&gt;host" in svg and "<b>" not in svg
    assert "No execution has started yet." in render_svg([], {})


def test_trigger_inputs() -> None:
    assert params_from_lines("a=1\n\n b = two words \nc=x=y") == {
        "a": "1", "b": "two words", "c": "x=y"}
    with pytest.raises(InputError, match="line 1: expected KEY=VALUE"):
        params_from_lines("no equals sign")
    assert trigger_from_json(b"").count == 1
    assert trigger_from_json(b'{"count": 2, "priority": -3, "params": {"k": "v"}}').params == {
        "k": "v"}
    with pytest.raises(InputError, match="params.k must be a string"):
        trigger_from_json(b'{"params": {"k": [1]}}')
    with pytest.raises(InputError, match="priority must be between"):
        trigger_from_json(b'{"priority": 99999999999}')


def test_addresses_and_redirects() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.9.10") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    check_bind("127.0.0.1", None, "T")
    check_bind("0.0.0.0", "secret", "T")
    with pytest.raises(UsageError, match="set the environment variable T"):
        check_bind("::", None, "T")
    assert safe_next("/executions?status=running") == "/executions?status=running"
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil", "", None):
        assert safe_next(hostile) == "/executions"

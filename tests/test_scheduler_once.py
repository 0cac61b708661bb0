"""``wfsched scheduler --once`` over real workers: concurrency, outcomes, exit codes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import installed_package
from helpers import Wfsched, wait_until


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals],
                    key=lambda ev: (ev[0], ev[1]))
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def test_ten_sleepers_with_limit_five_overlap_exactly_five(wf: Wfsched, work_dir: Path) -> None:
    ids = wf.trigger("interval", count=10, seconds=1.5, dir=work_dir)
    result = wf.run("scheduler", "--once", "--max-concurrent", "5", timeout=120)
    assert "ran 10 execution(s): 10 completed" in result.stdout
    records = wf.records(work_dir, "interval")
    assert sorted(r["execution_id"] for r in records) == ids
    # the workflows' own clocks: never more than 5 at once, and 5 at the peak
    assert max_overlap([(r["start"], r["end"]) for r in records]) == 5
    # the database's view agrees
    rows = [wf.execution(i) for i in ids]
    assert all(r.status.value == "completed" for r in rows)
    db_intervals = [(r.started_at.timestamp(), r.finished_at.timestamp()) for r in rows]
    assert max_overlap(db_intervals) == 5


def test_once_exit_code_is_one_when_an_execution_failed(wf: Wfsched) -> None:
    (ok,) = wf.trigger("noop")
    (bad,) = wf.trigger("chatty", fail="yes")
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 1, result.stderr
    assert "1 completed, 1 failed" in result.stdout
    assert wf.execution(ok).status.value == "completed"
    failed = wf.execution(bad)
    assert failed.status.value == "failed"
    assert failed.error == "ValueError: <b>bad</b> input"
    assert "Traceback" in failed.error_detail and "raise ValueError" in failed.error_detail
    assert failed.exit_code == 1
    steps = wf.store.steps(bad)
    assert [(s.name, s.status.value) for s in steps] == [("talk", "failed")]


def test_steps_pass_results_and_are_recorded(wf: Wfsched) -> None:
    (execution_id,) = [int(x) for x in wf.run("trigger", "etl", "-p", "rows=4").stdout.split()]
    wf.run("scheduler", "--once")
    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "completed"
    assert [s["name"] for s in shown["steps"]] == ["extract", "transform", "load"]
    assert shown["steps"][1]["result"] == {"count": 4, "total": 60}
    assert all(s["status"] == "completed" and s["duration"] is not None
               for s in shown["steps"])


def test_worker_killed_by_sigkill_ends_failed_not_running(wf: Wfsched, work_dir: Path) -> None:
    (execution_id,) = wf.trigger("crash", dir=work_dir)
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 1
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed"
    assert "killed by signal SIGKILL" in execution.error
    assert execution.exit_code == -9
    assert len(wf.records(work_dir, "ran")) == 1  # it really ran, once


def test_worker_hard_exit_is_reported_with_its_code(wf: Wfsched, work_dir: Path) -> None:
    (execution_id,) = wf.trigger("crash", how="exit", code=7, dir=work_dir)
    wf.run("scheduler", "--once", check=False)
    execution = wf.execution(execution_id)
    assert execution.status.value == "failed"
    assert "exited with code 7 without recording a final status" in execution.error


def test_priority_decides_order_when_slots_are_scarce(wf: Wfsched, work_dir: Path) -> None:
    low = wf.trigger("interval", count=2, priority=0, seconds=0.05, dir=work_dir)
    high = wf.trigger("interval", count=2, priority=10, seconds=0.05, dir=work_dir)
    wf.run("scheduler", "--once", "--max-concurrent", "1")
    order = [r["execution_id"] for r in sorted(wf.records(work_dir, "interval"),
                                               key=lambda r: r["start"])]
    assert order == high + low  # higher first; equal priorities oldest first


def test_retry_that_succeeds_makes_once_exit_zero(wf: Wfsched, work_dir: Path) -> None:
    (first,) = wf.trigger("fail_then_pass", succeed_on=2, dir=work_dir)
    result = wf.run("scheduler", "--once", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    attempts = wf.json("executions", "list", "--workflow", "fail_then_pass")
    assert [(e["attempt"], e["status"]) for e in reversed(attempts)] == [
        (1, "failed"), (2, "completed")]
    retry = wf.execution(attempts[0]["id"])
    assert retry.retry_of == first and retry.trigger.value == "retry"


def test_json_output_carries_exactly_the_contract_fields(wf: Wfsched) -> None:
    (execution_id,) = wf.trigger("noop", priority=3, greeting="hi")
    wf.run("scheduler", "--once")
    (listed,) = wf.json("executions", "list")
    assert list(listed) == ["id", "workflow", "status", "priority", "attempt", "params",
                            "created_at", "started_at", "finished_at", "pid", "host",
                            "spawner", "exit_code", "error"]
    assert listed["id"] == execution_id and listed["status"] == "completed"
    assert listed["priority"] == 3 and listed["params"] == {"greeting": "hi"}
    assert listed["spawner"] == "local" and listed["exit_code"] == 0
    assert listed["created_at"].endswith("Z") and listed["pid"] > 0
    shown = wf.json("executions", "show", str(execution_id))
    assert {k: shown[k] for k in listed} == listed
    assert shown["steps"][0]["name"] == "nothing"
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert flows["noop"]["last_status"] == "completed" and flows["noop"]["steps"] == ["nothing"]


def test_filters_of_executions_list(wf: Wfsched) -> None:
    wf.trigger("noop", count=2)
    (bad,) = wf.trigger("chatty", fail="1")
    wf.run("scheduler", "--once", check=False)
    failed = wf.json("executions", "list", "--status", "failed")
    assert [e["id"] for e in failed] == [bad]
    assert len(wf.json("executions", "list", "--workflow", "noop", "--limit", "1")) == 1


@pytest.fixture
def gated(wf: Wfsched, tmp_path: Path) -> Path:
    """The test gate admission plugin (tests/packages/wfsched-testnotifiers) holds
    `hang` back while the returned file exists."""
    wf.python_paths.append(installed_package("wfsched-testnotifiers"))
    gate = tmp_path / "hold"
    gate.touch()
    wf.extra_env.update(WFSCHED_TEST_HOLD="hang", WFSCHED_TEST_HOLD_FILE=str(gate))
    return gate


def test_once_ends_when_only_held_work_is_left(wf: Wfsched, gated: Path,
                                               work_dir: Path) -> None:
    """Issue 21: the admitted work runs, the held one is listed with its reason, and the
    command exits 3 (not 1: nothing failed) instead of waiting for the hold to lift."""
    admitted = wf.trigger("mark", count=2, dir=work_dir)
    (held,) = wf.trigger("hang", dir=work_dir, seconds=0)
    started = time.monotonic()
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    assert time.monotonic() - started < 30
    for execution_id in admitted:
        assert wf.execution(execution_id).status.value == "completed"
    assert f"held: hang #{held}: held by the test gate while {gated} exists" \
        in result.stdout
    assert wf.execution(held).status.value == "pending"
    allowed = wf.run("scheduler", "--once", "--allow-held", check=False, timeout=60)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert f"held: hang #{held}" in allowed.stdout


def test_once_waits_held_work_out_with_wait_held(wf: Wfsched, gated: Path,
                                                work_dir: Path) -> None:
    (held,) = wf.trigger("hang", dir=work_dir, seconds=0)
    scheduler = wf.popen("scheduler", "--once", "--wait-held", "60")
    try:
        wait_until(lambda: wf.execution(held).wait_reason, 30, "the execution to be held")
        gated.unlink()  # the hold lifts while --once waits
        assert scheduler.wait(60) == 0, wf.output_of()
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert wf.execution(held).status.value == "completed"
    assert "held:" not in wf.output_of()


def test_once_waits_for_a_retry_due_soon(wf: Wfsched, work_dir: Path) -> None:
    """A retry whose backoff ends within two poll intervals is run by the same --once."""
    wf.write_config("[workflows.fail_then_pass]\nretry_delay = 0.2\nretry_backoff = 1\n")
    (first,) = wf.trigger("fail_then_pass", succeed_on=2, dir=work_dir)
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 retried" in result.stdout and "held:" not in result.stdout
    assert len(wf.records(work_dir, "attempt")) == 2
    assert wf.execution(first).status.value == "failed"


def test_once_lists_a_retry_beyond_the_bound_as_held(wf: Wfsched, work_dir: Path) -> None:
    wf.write_config("[workflows.fail_then_pass]\nretry_delay = 3600\n")
    (first,) = wf.trigger("fail_then_pass", succeed_on=2, dir=work_dir)
    result = wf.run("scheduler", "--once", check=False, timeout=60)
    assert result.returncode == 1, result.stdout  # a failure dominates what is held
    (retry,) = [e for e in wf.store.list_executions() if e.retry_of == first]
    assert f"held: fail_then_pass #{retry.id}: not before " in result.stdout
    assert "(a retry's backoff)" in result.stdout

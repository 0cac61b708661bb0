"""A plugin hook that hangs stands on no critical path (issue 14, defect 2): ``trigger``
returns, workers free their slots and the scheduler keeps its threads bounded, because
lifecycle events are delivered from a queue and a plugin that overran its budget is
skipped for a back-off period, which ``plugins list`` and ``status`` show."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from conftest import installed_package
from helpers import TEST_CONFIG, Wfsched, wait_until

HANGER = "wfsched-testnotifiers-hanger"
BUDGET = 2.0  # notify_budget of these tests (TEST_CONFIG's)
assert f"notify_budget = {BUDGET:g}" in TEST_CONFIG


@pytest.fixture
def hanging(wf: Wfsched, tmp_path: Path) -> Wfsched:
    """The test notifiers installed; ``WFSCHED_TEST_MISBEHAVE`` names the hooks that hang."""
    wf.python_paths.append(installed_package("wfsched-testnotifiers"))
    events = tmp_path / "events"
    events.mkdir()
    wf.extra_env["WFSCHED_TEST_EVENTS_DIR"] = str(events)
    return wf


def _timed(wf: Wfsched, *args: str) -> tuple[float, object]:
    started = time.monotonic()
    result = wf.run(*args, check=False)
    return time.monotonic() - started, result


def test_trigger_returns_though_execution_queued_hangs(hanging: Wfsched) -> None:
    hanging.extra_env["WFSCHED_TEST_MISBEHAVE"] = "execution_queued"
    elapsed, result = _timed(hanging, "trigger", "noop", "--count", "20")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 20
    # one budget for the first call (then the plugin is skipped), process start, the rest:
    # far less than one budget per execution (40 s)
    assert elapsed < 3 * BUDGET + 4, f"trigger --count 20 took {elapsed:.1f}s"
    assert HANGER in result.stderr and "did not return within" in result.stderr
    # the next command knows the plugin is skipped and does not wait for it at all
    elapsed, result = _timed(hanging, "trigger", "noop", "--count", "20")
    assert result.returncode == 0
    assert elapsed < BUDGET + 4, f"the second trigger --count 20 took {elapsed:.1f}s"
    listing = {p["name"]: p for p in hanging.json("plugins", "list")}
    assert listing[HANGER]["skipped"]["reason"].startswith("did not return within")
    assert "skipped for" in hanging.run("plugins", "list").stdout
    assert f"{HANGER}: skipped for" in hanging.run("status").stdout
    assert HANGER in hanging.json("status")["plugins_skipped"]


def test_a_hung_execution_completed_does_not_hold_worker_slots(hanging: Wfsched) -> None:
    hanging.extra_env["WFSCHED_TEST_MISBEHAVE"] = "execution_completed"
    # a budget well above a worker's start on a loaded machine, so that the gaps tell
    budget = 5.0
    hanging.config_path.write_text(TEST_CONFIG.replace(f"notify_budget = {BUDGET:g}",
                                                       f"notify_budget = {budget:g}"))
    ids = hanging.trigger("noop", count=6)
    elapsed, result = _timed(hanging, "scheduler", "--once", "--max-concurrent", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted((hanging.execution(i) for i in ids), key=lambda e: e.started_at)
    assert all(run.status.value == "completed" for run in runs)
    # one slot: each run starts once the previous worker has gone. A hung notifier held
    # the slot one budget per run; now at most the first pays it (then it is skipped)
    gaps = [(later.started_at - earlier.finished_at).total_seconds()
            for earlier, later in zip(runs, runs[1:], strict=False)]
    assert sum(gap >= budget for gap in gaps) <= 1, f"gaps between runs: {gaps}"
    assert elapsed < 6 * budget, f"scheduler --once took {elapsed:.1f}s"


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc (Linux)")
def test_hung_tick_and_started_hooks_keep_the_scheduler_threads_bounded(
        hanging: Wfsched) -> None:
    hanging.extra_env["WFSCHED_TEST_MISBEHAVE"] = "scheduler_tick,execution_started"
    # the breaker's back-off shorter than the run: the plugin is probed again, and hangs again
    hanging.config_path.write_text(TEST_CONFIG + "notify_backoff = 3\n")
    scheduler = hanging.popen("scheduler", "--max-concurrent", "2")
    try:
        wait_until(lambda: hanging.store.list_schedulers(active_only=True), 30,
                   "the scheduler to register")
        ids = hanging.trigger("noop", count=10)
        started = time.monotonic()
        samples = []
        while time.monotonic() - started < 5 * BUDGET + 3:  # several budgets and back-offs
            samples.append(_threads(scheduler.pid))
            time.sleep(0.2)  # the sampling period of a measurement, not a synchronisation
        for execution_id in ids:
            hanging.wait_for_status(execution_id, "completed", timeout=60)
        samples.append(_threads(scheduler.pid))
    finally:
        os.kill(scheduler.pid, signal.SIGTERM)
        scheduler.wait(60)
    # settled after the first hang: the hanger's one lane (stuck) and the event thread
    assert max(samples) - samples[0] <= 2, f"scheduler threads over time: {samples}"
    assert "did not return within" in hanging.output_of()


def test_plugins_list_json_says_nothing_is_skipped_when_nothing_is(hanging: Wfsched) -> None:
    listing = hanging.json("plugins", "list")
    assert all(p["skipped"] is None for p in listing)
    assert json.dumps(hanging.json("status")["plugins_skipped"]) == "{}"

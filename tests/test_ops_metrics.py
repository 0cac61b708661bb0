"""``scheduler --metrics-port``: scraped over HTTP, parsed by prometheus_client's parser."""

from __future__ import annotations

import os
import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from conftest import IN_CI
from helpers import Wfsched, wait_until

try:
    from prometheus_client import parser
except ImportError:  # pragma: no cover - installed by scripts/setup.sh
    if IN_CI:
        raise
    pytest.skip("prometheus_client is not installed (wfsched-core[metrics])",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def metrics_daemon(wf: Wfsched) -> Iterator[tuple[Popen[str], int]]:
    port = _free_port()
    process = wf.popen("scheduler", "--max-concurrent", "3", "--metrics-port", str(port))
    yield process, port
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_counters_match_the_executions_run(wf: Wfsched, work_dir: Path, metrics_daemon) -> None:
    daemon, port = metrics_daemon
    completed = wf.trigger("noop", count=3)
    failed = wf.trigger("crash", count=2, dir=work_dir)
    for execution_id in completed:
        wf.wait_for_status(execution_id, "completed")
    for execution_id in failed:
        wf.wait_for_status(execution_id, "failed")

    def counted() -> dict | None:
        try:
            samples = scrape(port)
        except OSError:
            return None
        done = samples.get(("wfsched_executions_total",
                            (("status", "completed"), ("workflow", "noop"))))
        failures = samples.get(("wfsched_executions_total",
                                (("status", "failed"), ("workflow", "crash"))))
        # counted on the scheduler's next tick after the rows say so: wait for both
        return samples if (done, failures) == (3, 2) else None

    samples = wait_until(counted, 30, "the counters to reach 3 completed and 2 failed")
    assert samples[("wfsched_executions_total", (("status", "failed"), ("workflow", "crash")))] == 2
    assert sum(v for (name, _), v in samples.items() if name == "wfsched_executions_total") == 5
    assert samples[("wfsched_execution_duration_seconds_count", (("workflow", "noop"),))] == 3
    assert samples[("wfsched_execution_duration_seconds_count", (("workflow", "crash"),))] == 2
    assert samples[("wfsched_slots_max", ())] == 3
    assert samples[("wfsched_slots_in_use", ())] == 0
    assert samples[("wfsched_queue_depth", ())] == 0
    assert 0 <= samples[("wfsched_heartbeat_age_seconds", ())] < 10
    # the queue depth follows the database: a pending execution the scheduler cannot claim
    (hanging,) = wf.trigger("hang", seconds=60, dir=work_dir)
    wait_until(lambda: scrape(port)[("wfsched_slots_in_use", ())] == 1, 30, "one slot in use")
    wf.wait_for_status(hanging, "running")  # the slot is taken at spawn, before it runs


def test_metrics_without_prometheus_client_is_a_clear_error(wf: Wfsched, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "prometheus_client.py").write_text("raise ImportError('hidden for the test')\n")
    wf.python_paths.insert(0, shadow)
    result = wf.run("scheduler", "--once", "--metrics-port", str(_free_port()), check=False)
    assert result.returncode == 2
    assert 'pip install "wfsched-core[metrics]"' in result.stderr
    assert "Traceback" not in result.stderr


def test_metrics_port_in_use_is_a_clear_error(wf: Wfsched) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = wf.run("scheduler", "--once", "--metrics-port",
                        str(busy.getsockname()[1]), check=False)
    assert result.returncode == 1
    assert "cannot serve metrics on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_each_execution_is_counted_once_even_when_it_commits_late(tmp_path: Path) -> None:
    from datetime import timedelta

    from wfsched_core.base.records import utcnow
    from wfsched_core.ops.metrics import SchedulerMetrics
    from wfsched_core.store import SqlStore
    from wfsched_core.store.db.schema import workflow_executions as executions

    store = SqlStore(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.ensure_schema(auto_create=True)

    def finished(owner: str, status: str, ago: float) -> None:
        end = utcnow() - timedelta(seconds=ago)
        with store.engine.begin() as conn:
            conn.execute(executions.insert().values(
                workflow="noop", status=status, created_at=end, claimed_by=owner,
                started_at=end - timedelta(seconds=2), finished_at=end))

    try:
        plugin = SchedulerMetrics()
        plugin.enable(store)
        finished("me", "completed", 1)
        finished("me", "failed", 1)
        finished("another scheduler", "completed", 1)
        assert plugin.count_finished("me") == 2
        assert plugin.count_finished("me") == 0  # the look-back window re-reads, never recounts
        # a worker stamped finished_at before our last look but committed after it
        finished("me", "completed", 30)
        assert plugin.count_finished("me") == 1
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in plugin.registry.collect() for s in family.samples}
        assert samples[("wfsched_executions_total",
                        (("status", "completed"), ("workflow", "noop")))] == 2
        assert samples[("wfsched_execution_duration_seconds_sum", (("workflow", "noop"),))] == 6
    finally:
        store.dispose()

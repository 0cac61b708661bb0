"""``scheduler --metrics-port``: scraped over HTTP, parsed by prometheus_client's parser."""

from __future__ import annotations

import os
import platform
import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from conftest import IN_CI
from helpers import REPO, Wfsched, wait_until

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


def scrape_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def exported_names(text: str) -> set[str]:
    """Every series name a query may use: each family's samples, and the names its type
    implies even before a label set exists (``_total``, ``_bucket``/``_sum``/``_count``)."""
    names = set()
    for family in parser.text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset"}


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, labels, strings left out)."""
    import re

    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values, $variables)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    words = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text)
    return {w for w in words if w not in PROMQL_WORDS}


def test_fuller_metrics_and_the_grafana_dashboard(wf: Wfsched, work_dir: Path) -> None:
    import json

    from wfsched_core import __version__

    # 'mark' runs in the queue "reports", which this scheduler does not serve: it waits
    wf.write_config('[workflows.mark]\nqueue = "reports"\n')
    waiting = wf.trigger("mark", count=2, dir=work_dir)
    port = _free_port()
    daemon = wf.popen("scheduler", "--queue", "default", "--metrics-port", str(port))
    try:
        (hanging,) = wf.trigger("hang", seconds=60, dir=work_dir)
        wf.wait_for_status(hanging, "running")

        def read() -> dict | None:
            try:
                samples = scrape(port)
            except OSError:
                return None
            running = samples.get(("wfsched_running_executions", (("workflow", "hang"),)))
            return samples if running == 1 else None

        samples = wait_until(read, 30, "the running hang execution to be counted")
        assert samples[("wfsched_queue_pending", (("queue", "reports"),))] == 2
        assert samples[("wfsched_queue_depth", ())] == 2
        assert samples[("wfsched_oldest_pending_age_seconds", ())] > 0
        assert samples[("wfsched_build_info", (("python", platform.python_version()),
                                               ("version", __version__)))] == 1
        # prometheus_client's default collectors, in our own registry
        assert samples[("process_resident_memory_bytes", ())] > 0
        assert ("process_cpu_seconds_total", ()) in samples
        assert any(name == "python_info" for name, _ in samples)
        assert any(name == "python_gc_collections_total" for name, _ in samples)

        wf.run("cancel", str(hanging))
        wf.wait_for_status(hanging, "cancelled")

        def after_cancel() -> dict | None:
            samples = scrape(port)
            done = samples.get(("wfsched_executions_total",
                                (("status", "cancelled"), ("workflow", "hang"))))
            idle = samples.get(("wfsched_running_executions", (("workflow", "hang"),)))
            return samples if (done, idle) == (1, 0) else None

        # the workflow stays, at 0: a graph shows the drop instead of a line that stops
        wait_until(after_cancel, 30, "the cancelled execution to be counted")
        text = scrape_text(port)
        # no timestamp series that reads like a count (wfsched_executions_created)
        assert "_created" not in text
        exported = exported_names(text)
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
    assert {execution_id for execution_id in waiting} == {
        e.id for e in wf.store.list_executions(status="pending")}

    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        names = metric_names_in(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} reads {sorted(names - exported)}, not exported"
    used = set().union(*(metric_names_in(expr) for expr in exprs))
    assert {"wfsched_oldest_pending_age_seconds", "wfsched_queue_pending",
            "wfsched_running_executions", "wfsched_build_info",
            "process_resident_memory_bytes"} <= used


def test_promql_names_are_read_from_expressions() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, workflow) (rate(x_bucket{job=~"$job", '
            'status="a b"}[5m]))) / clamp_min(sum(y_total offset 1h), 1e-9)')
    assert metric_names_in(expr) == {"x_bucket", "y_total"}

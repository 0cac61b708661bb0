"""One trace per execution across the scheduler and its worker process (issue 20, item 5).

The real ``wfsched scheduler --once`` runs executions with the OpenTelemetry SDK exporting
through this plugin's JSON-lines exporter (``OTEL_TRACES_EXPORTER=wfsched_jsonl``) into a
file that both processes append to; the test reads it and checks that the scheduler's
spans (the execution's root and its wait) and the worker's (the run and each step) share
one trace id, with the worker's run a child of the scheduler's root across the process
boundary — in fork and exec start modes, and through ``wfsched execute`` (the worker of
the other spawners).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from helpers import Wfsched


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _traced(wf: Wfsched, path: Path, **more: str) -> None:
    wf.extra_env.update({"OTEL_TRACES_EXPORTER": "wfsched_jsonl",
                         "WFSCHED_OTEL_JSONL_PATH": str(path), **more})


def _by_name(spans: list[dict[str, Any]], execution_id: int) -> dict[str, dict[str, Any]]:
    mine = [s for s in spans if s["attributes"].get("wfsched.execution_id") == execution_id]
    named = {s["name"]: s for s in mine}
    assert len(named) == len(mine), f"a span name repeats: {[s['name'] for s in mine]}"
    return named


@pytest.mark.parametrize(("start_mode", "spawner"), [
    ("fork", "local"), ("exec", "local"),
    ("exec", "detached"),  # its worker is ``wfsched execute``, as for container and celery
])
def test_one_trace_per_execution_across_the_worker_process(wf: Wfsched, tmp_path: Path,
                                                           start_mode: str,
                                                           spawner: str) -> None:
    path = tmp_path / "spans.jsonl"
    _traced(wf, path)
    wf.write_config(f'start_mode = "{start_mode}"\n[workflows.fail_then_pass]\nretries = 0\n')
    ids = wf.trigger("produce", count=2)
    (failed_id,) = wf.trigger("fail_then_pass")
    result = wf.run("scheduler", "--once", "--spawner", spawner, check=False)
    assert result.returncode == 1, result.stderr  # one failed
    spans = _spans(path)

    traces = set()
    for execution_id in ids:
        named = _by_name(spans, execution_id)
        assert sorted(named) == ["wfsched.execution produce", "wfsched.run produce",
                                 "wfsched.step count", "wfsched.step label", "wfsched.wait"]
        root, wait = named["wfsched.execution produce"], named["wfsched.wait"]
        run = named["wfsched.run produce"]
        steps = [named["wfsched.step count"], named["wfsched.step label"]]
        trace_id = root["context"]["trace_id"]
        assert {s["context"]["trace_id"] for s in named.values()} == {trace_id}
        traces.add(trace_id)
        assert root["parent_id"] is None
        assert wait["parent_id"] == root["context"]["span_id"]
        assert run["parent_id"] == root["context"]["span_id"]  # across the process boundary
        assert all(s["parent_id"] == run["context"]["span_id"] for s in steps)
        for span in (root, run, *steps):
            attributes = span["attributes"]
            assert attributes["wfsched.workflow"] == "produce"
            assert attributes["wfsched.attempt"] == 1
            assert attributes["wfsched.spawner"] == spawner
            assert attributes["host.name"] == socket.gethostname()
        assert run["attributes"]["wfsched.status"] == "completed"
    assert len(traces) == 2  # one trace per execution

    failed = _by_name(spans, failed_id)
    run = failed["wfsched.run fail_then_pass"]
    assert run["status"]["status_code"] == "ERROR"
    assert run["attributes"]["wfsched.status"] == "failed"
    step = failed["wfsched.step attempt"]
    assert step["status"]["status_code"] == "ERROR"
    assert [e["attributes"]["exception.type"] for e in step["events"]] == ["RuntimeError"]


def test_wfsched_execute_joins_the_trace_it_is_given(wf: Wfsched, tmp_path: Path) -> None:
    """The worker of the detached, container and Celery spawners: the variables the
    scheduler set reach it in its environment, and its spans join that trace."""
    path = tmp_path / "spans.jsonl"
    parent_trace, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    _traced(wf, path, TRACEPARENT=f"00-{parent_trace}-{parent_span}-01",
            WFSCHED_WORKER_INSTRUMENTATION="wfsched_otel.worker")
    (execution_id,) = wf.trigger("noop")
    wf.run("execute", str(execution_id))
    named = _by_name(_spans(path), execution_id)
    run = named["wfsched.run noop"]
    assert run["context"]["trace_id"] == f"0x{parent_trace}"
    assert run["parent_id"] == f"0x{parent_span}"
    steps = [s for name, s in named.items() if name.startswith("wfsched.step")]
    assert steps and all(s["parent_id"] == run["context"]["span_id"] for s in steps)


def test_nothing_is_traced_without_an_exporter(wf: Wfsched, tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    wf.extra_env["WFSCHED_OTEL_JSONL_PATH"] = str(path)
    (execution_id,) = wf.trigger("noop")
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).status.value == "completed"
    assert not path.exists()

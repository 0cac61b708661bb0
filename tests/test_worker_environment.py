"""The generic way into a worker that loads no plugins (issue 20, item 5): the scheduler
asks ``wfsched_worker_environment`` for variables to add to each worker's environment, and
a worker whose environment names ``WFSCHED_WORKER_INSTRUMENTATION`` imports that module
and calls it around its run and each step — a broken one never changes the outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import Wfsched
from test_hook_order import execution, settings

from wfsched_core import hookimpl
from wfsched_core.framework.hooks import PluginHooks
from wfsched_core.framework.plugin_manager import get_plugin_manager

RECORDING = '''
import json, os
from contextlib import contextmanager

def _note(*what):
    with open(os.environ["INSTRUMENTATION_NOTES"], "a") as notes:
        notes.write(json.dumps(list(what)) + "\\n")

class Run:
    @contextmanager
    def step(self, position, name):
        _note("enter", position, name)
        try:
            yield
        except BaseException as exc:
            _note("raised", position, name, type(exc).__name__)
            raise
        _note("left", position, name)

    def finished(self, status, error):
        _note("finished", status)

def start(execution):
    _note("start", execution.id, execution.status.value)
    return Run()
'''

BROKEN = '''
class Run:
    def step(self, position, name):
        raise RuntimeError("broken at the step")

    def finished(self, status, error):
        raise RuntimeError("broken at the end")

def start(execution):
    return Run()
'''


def _plugin(variables: dict[str, str] | None, *, broken: bool = False) -> object:
    class Plugin:
        @hookimpl
        def wfsched_worker_environment(self, execution: Any, spawner: str) -> Any:
            if broken:
                raise RuntimeError("this plugin is broken")
            return {**(variables or {}), "SPAWNER_SEEN": f"{spawner}:{execution.id}"}

    return Plugin()


def test_variables_of_every_plugin_merge_and_a_broken_one_adds_nothing(tmp_path: Path) -> None:
    s = settings(tmp_path)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(
        ("early", _plugin({"SHARED": "early", "EARLY": "1"})),
        ("broken", _plugin(None, broken=True)),
        ("late", _plugin({"SHARED": "late", "LATE": "1"}))))
    variables = PluginHooks(pm, s).worker_environment(execution(), "local")
    # registered last: called first in pluggy's order, so its value of a shared name wins
    assert variables == {"SHARED": "late", "EARLY": "1", "LATE": "1",
                         "SPAWNER_SEEN": "local:7"}


def _instrumented(wf: Wfsched, tmp_path: Path, source: str) -> Path:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "recording_instrumentation.py").write_text(source)
    wf.python_paths.append(modules)
    notes = tmp_path / "notes.jsonl"
    wf.extra_env.update({"WFSCHED_WORKER_INSTRUMENTATION": "recording_instrumentation",
                         "INSTRUMENTATION_NOTES": str(notes)})
    return notes


def test_the_worker_calls_the_named_module_around_each_step(wf: Wfsched,
                                                            tmp_path: Path) -> None:
    notes = _instrumented(wf, tmp_path, RECORDING)
    wf.write_config("[workflows.fail_then_pass]\nretries = 0\n")
    (produce_id,) = wf.trigger("produce")
    wf.run("execute", str(produce_id))
    (failing_id,) = wf.trigger("fail_then_pass")
    wf.run("execute", str(failing_id), check=False)
    assert [json.loads(line) for line in notes.read_text().splitlines()] == [
        ["start", produce_id, "running"],
        ["enter", 1, "count"], ["left", 1, "count"],
        ["enter", 2, "label"], ["left", 2, "label"],
        ["finished", "completed"],
        ["start", failing_id, "running"],
        ["enter", 1, "attempt"], ["raised", 1, "attempt", "RuntimeError"],
        ["finished", "failed"],
    ]


def test_a_broken_instrumentation_never_changes_the_outcome(wf: Wfsched,
                                                           tmp_path: Path) -> None:
    _instrumented(wf, tmp_path, BROKEN)
    (execution_id,) = wf.trigger("produce")
    wf.run("execute", str(execution_id))
    shown = wf.json("executions", "show", str(execution_id))
    assert shown["status"] == "completed"
    assert [s["result"] for s in shown["steps"]] == [3, {"name": "report", "count": 3}]
    log = wf.run("logs", str(execution_id)).stdout
    assert "worker instrumentation failed at step count: broken at the step" in log

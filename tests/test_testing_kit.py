"""The plugin author's testing kit (``wfsched_core.testing``): ``run_workflow`` in this
process, and the pytest fixtures ``wfsched_home``, ``wfsched_plugins``, ``wfsched_run``
(loaded here through the core's ``pytest11`` entry point, as in an author's suite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wfsched_core import Workflow, hookimpl, step
from wfsched_core.base.errors import UnknownWorkflowError
from wfsched_core.base.status import ExecutionStatus, StepStatus
from wfsched_core.testing import TestPlugins, run_workflow


class Greeting(Workflow):
    """Greets, then shouts."""

    @step
    def greet(self, ctx):
        ctx.log.info("greeting %s", ctx.params["name"])
        print("printed by greet")
        return {"text": f"hello {ctx.params['name']}"}

    @step
    def shout(self, ctx):
        return ctx.results["greet"]["text"].upper()


class BreaksInStepTwo(Workflow):
    @step
    def fine(self, ctx):
        return 1

    @step
    def breaks(self, ctx):
        raise ValueError("the input is bad")  # the line the traceback must show

    @step
    def never(self, ctx):
        return 3


class ReadsUpstream(Workflow):
    depends_on = ["extract_job"]

    @step
    def use(self, ctx):
        return ctx.upstream["extract_job"].results["extract"]["rows"] * 2


class FailsUnlessRetried(Workflow):
    retries = 1

    @step
    def only(self, ctx):
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return ctx.attempt


class EventRecorder:
    """A notifier-like plugin: remembers the lifecycle events it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    @hookimpl
    def wfsched_execution_completed(self, execution):
        self.events.append(("completed", execution.workflow, execution.status.value))

    @hookimpl
    def wfsched_execution_failed(self, execution, will_retry):
        self.events.append(("failed", execution.workflow, str(will_retry)))


class HoldEverything:
    """An admission plugin that holds every execution back."""

    @hookimpl
    def wfsched_admit(self, execution, spec):
        return "held by the test's admission plugin"


class ChildSpawner:
    """A spawn strategy that starts the worker command it is given as a plain child."""

    name = "test-child"
    sees_process = True
    survives_scheduler = False

    def __init__(self, settings) -> None:
        self.settings = settings

    def check_available(self) -> None:
        pass

    def start(self, request):
        from wfsched_core.base.execution_log import open_for_worker
        from wfsched_core.framework.spawning import WorkerHandle

        with open_for_worker(request.log_path) as log_file:
            process = subprocess.Popen(request.argv, env=request.env, stdout=log_file,
                                       stderr=subprocess.STDOUT)
        return WorkerHandle(self.name, {"pid": process.pid}, pid=process.pid, process=process)

    def poll(self, handle):
        from wfsched_core.framework.spawning import Liveness, WorkerState

        code = handle.process.poll()
        return WorkerState(Liveness.ALIVE) if code is None else \
            WorkerState(Liveness.EXITED, code, f"exited with code {code}")

    def stop(self, handle, grace) -> None:
        handle.process.terminate()
        handle.process.wait(grace)


class ChildSpawnerPlugin:
    @hookimpl
    def wfsched_spawners(self, registry):
        registry.add("test-child", ChildSpawner)


# --- run_workflow ------------------------------------------------------------------------


def test_run_workflow_returns_status_steps_results_and_log() -> None:
    run = run_workflow(Greeting, {"name": "Ada"})

    assert run.status is ExecutionStatus.COMPLETED and run.completed
    assert run.workflow == "greeting"
    assert [(s.name, s.status) for s in run.steps] == [
        ("greet", StepStatus.COMPLETED), ("shout", StepStatus.COMPLETED)]
    assert run.results == {"greet": {"text": "hello Ada"}, "shout": "HELLO ADA"}
    assert all(s.duration is not None and s.duration >= 0 for s in run.steps)
    assert "greeting Ada" in run.log and "printed by greet" in run.log
    assert run.assert_completed() is run


def test_a_failing_step_shows_its_error_and_traceback() -> None:
    run = run_workflow(BreaksInStepTwo)

    assert run.status is ExecutionStatus.FAILED
    assert run.error == "ValueError: the input is bad"
    assert [(s.name, s.status) for s in run.steps] == [
        ("fine", StepStatus.COMPLETED), ("breaks", StepStatus.FAILED)]
    failed = run.step("breaks")
    assert failed.error == "ValueError: the input is bad"
    assert f'File "{__file__}"' in failed.traceback
    assert 'raise ValueError("the input is bad")' in failed.traceback
    assert run.step("fine").traceback is None
    with pytest.raises(AssertionError, match="ended failed: ValueError: the input is bad"):
        run.assert_completed()
    with pytest.raises(KeyError, match="no step 'never' ran"):
        run.step("never")


def test_upstream_results_are_what_the_step_sees() -> None:
    run = run_workflow(ReadsUpstream, upstream={"extract_job": {"extract": {"rows": 21}}})
    assert run.results == {"use": 42}


def test_an_installed_workflow_runs_by_name() -> None:
    run = run_workflow("hello", {"name": "Grace"})  # from sample_workflows (scripts/setup.sh)
    assert run.completed, run.log
    assert "Grace" in run.log


def test_an_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(UnknownWorkflowError, match="unknown workflow 'no_such_thing'"):
        run_workflow("no_such_thing")


def test_plugins_given_to_run_workflow_see_its_events() -> None:
    recorder = EventRecorder()
    run_workflow(Greeting, {"name": "x"}, plugins=[recorder])
    run_workflow(BreaksInStepTwo, plugins=[recorder])
    assert recorder.events == [("completed", "greeting", "completed"),
                               ("failed", "breaks_in_step_two", "False")]


def test_config_overrides_the_workflow_as_wfsched_toml_would() -> None:
    recorder = EventRecorder()
    run_workflow(BreaksInStepTwo, plugins=[recorder],
                 config={"workflows": {"breaks_in_step_two": {"retries": 2}}})
    assert recorder.events == [("failed", "breaks_in_step_two", "True")]


def test_the_test_process_keeps_its_signal_handlers() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_workflow(Greeting, {"name": "x"})
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_home_given_keeps_the_database_and_log(tmp_path: Path) -> None:
    run = run_workflow(Greeting, {"name": "kept"}, home=tmp_path)
    assert (tmp_path / "wfsched.db").is_file()
    assert "greeting kept" in (tmp_path / "logs" / f"{run.execution_id}.log").read_text()


def test_default_names_and_collisions() -> None:
    plugins = TestPlugins()
    assert plugins.add_workflow(BreaksInStepTwo) == "breaks_in_step_two"
    assert plugins.add_workflow(Greeting, "other") == "other"
    with pytest.raises(ValueError, match="already registered for Greeting"):
        plugins.add_workflow(ReadsUpstream, "other")


# --- the pytest fixtures -----------------------------------------------------------------


def test_wfsched_home_isolates_the_environment(wfsched_home) -> None:
    assert os.environ["WFSCHED_HOME"] == str(wfsched_home.path)
    assert os.environ["WFSCHED_CONFIG"] == str(wfsched_home.config_path)
    assert "WFSCHED_DATABASE_URL" not in os.environ
    from wfsched_core.base.config import load_settings

    assert load_settings().database_url == wfsched_home.database_url


def test_wfsched_run_runs_a_scheduler_with_the_tests_plugins(wfsched_run, wfsched_plugins,
                                                             wfsched_home) -> None:
    recorder = EventRecorder()
    wfsched_plugins.add_plugin(recorder, "recorder")
    runs = wfsched_run(Greeting, {"name": "Ada"}, count=2, max_concurrent=2)

    assert [r.status for r in runs] == [ExecutionStatus.COMPLETED] * 2
    assert runs[0].results == {"greet": {"text": "hello Ada"}, "shout": "HELLO ADA"}
    assert "greeting Ada" in runs[0].log
    assert sorted(recorder.events) == [("completed", "greeting", "completed")] * 2
    pids = {r.execution.pid for r in runs}
    assert len(pids) == 2 and os.getpid() not in pids  # each in a worker process of its own


def test_wfsched_run_runs_the_retry_a_failure_queues(wfsched_run) -> None:
    runs = wfsched_run(FailsUnlessRetried)
    assert [(r.attempt, r.status) for r in runs] == [
        (1, ExecutionStatus.FAILED), (2, ExecutionStatus.COMPLETED)]
    assert "RuntimeError: first attempt fails" in runs[0].traceback


def test_wfsched_run_with_an_admission_plugin_leaves_the_work_held(wfsched_run,
                                                                  wfsched_plugins) -> None:
    wfsched_plugins.add_plugin(HoldEverything())
    runs = wfsched_run(Greeting, {"name": "x"})
    assert [r.status for r in runs] == [ExecutionStatus.PENDING]
    assert runs[0].execution.wait_reason == "held by the test's admission plugin"


def test_wfsched_run_with_a_spawner_plugin_whose_worker_writes_itself(wfsched_run,
                                                                     wfsched_plugins) -> None:
    """A spawner's worker is ``wfsched execute ID``, a process with plugins of its own:
    it finds the test's workflow class (``WFSCHED_EXTRA_PLUGINS``) and runs it."""
    wfsched_plugins.add_plugin(ChildSpawnerPlugin())
    (run,) = wfsched_run(Greeting, {"name": "Ada"}, spawner="test-child")
    run.assert_completed()
    assert run.execution.spawner == "test-child"
    assert run.results["shout"] == "HELLO ADA"


def test_wfsched_run_refuses_a_class_a_worker_cannot_import(wfsched_run) -> None:
    class Local(Workflow):
        @step
        def only(self, ctx):
            return 1

    with pytest.raises(ValueError, match="defined inside a function or in __main__"):
        wfsched_run(Local)


def test_an_authors_suite_needs_nothing_but_pytest(tmp_path: Path) -> None:
    """A test file as an author writes it, run by pytest in a subprocess: the fixtures
    come from the installed core's ``pytest11`` entry point ``wfsched``, no conftest (the
    other installed pytest plugins are left out: they only cost start-up time)."""
    (tmp_path / "test_author.py").write_text(textwrap.dedent('''
        from wfsched_core import Workflow, step
        from wfsched_core.testing import run_workflow

        class Double(Workflow):
            @step
            def double(self, ctx):
                return int(ctx.params["n"]) * 2

        def test_in_process():
            assert run_workflow(Double, {"n": "4"}).results == {"double": 8}

        def test_with_a_scheduler(wfsched_run):
            (run,) = wfsched_run(Double, {"n": "5"})
            assert run.completed and run.results == {"double": 10}
    '''))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "wfsched", str(tmp_path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_loading_the_pytest_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, pytest, wfsched_core.testing.pytest_plugin\n"
            "heavy = ('sqlalchemy', 'alembic', 'click', 'psutil', 'croniter', "
            "'wfsched_core.store', 'wfsched_core.framework', 'wfsched_core.testing.run')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"

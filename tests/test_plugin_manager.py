"""The plugin manager and the hook facade, in process, with test plugins registered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import click
import pytest

from wfsched_core import hookimpl
from wfsched_core.authoring.catalog import WorkflowRegistrar
from wfsched_core.authoring.workflow import Workflow, step
from wfsched_core.base.config import Settings
from wfsched_core.base.errors import ConfigError
from wfsched_core.base.records import Execution
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.framework.hooks import HANDOFF, PluginHooks
from wfsched_core.framework.plugin_manager import get_plugin_manager


def settings(tmp_path: Path, **kwargs) -> Settings:
    data = kwargs.pop("data", {"scheduler": {"notify_budget": 0.5}})
    return Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/db", data=data, **kwargs)


class Misspelled:
    @hookimpl
    def wfsched_execution_complete(self, execution):  # missing "d"
        pass


class Raiser:
    @hookimpl
    def wfsched_execution_completed(self, execution):
        raise RuntimeError("notifier down")


class Sleeper:
    def __init__(self) -> None:
        self.release = threading.Event()

    @hookimpl
    def wfsched_execution_completed(self, execution):
        self.release.wait(30)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[int] = []

    @hookimpl
    def wfsched_execution_completed(self, execution):
        self.seen.append(execution.id)


def execution() -> Execution:
    return Execution(id=7, workflow="w", status=ExecutionStatus.COMPLETED)


def test_builtins_are_registered_as_plugins(tmp_path: Path) -> None:
    pm = get_plugin_manager(settings(tmp_path), load_entrypoints=False)
    infos = {i.name: i for i in pm.plugin_infos()}
    assert {"core.workflows", "core.store", "core.local-spawner", "core.admission",
            "core.log-notifier"} <= set(infos)
    assert infos["core.store"].hooks == ["wfsched_store"]


def test_a_misspelled_hook_is_an_error_not_silence(tmp_path: Path) -> None:
    pm = get_plugin_manager(settings(tmp_path), load_entrypoints=False,
                            extra_plugins=(("typo", Misspelled()),))
    info = {i.name: i for i in pm.plugin_infos()}["typo"]
    assert "unknown hook wfsched_execution_complete" in info.error
    assert pm.get_plugin("typo") is None


def test_strict_mode_raises_on_a_broken_plugin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plugin typo failed to load"):
        get_plugin_manager(settings(tmp_path, strict_plugins=True), load_entrypoints=False,
                           extra_plugins=(("typo", Misspelled()),))


def test_a_name_registered_twice_keeps_the_first(tmp_path: Path) -> None:
    first, second = Recorder(), Recorder()
    pm = get_plugin_manager(settings(tmp_path), load_entrypoints=False,
                            extra_plugins=(("rec", first), ("rec", second)))
    assert pm.get_plugin("rec") is first
    assert any("already registered" in (i.error or "") for i in pm.plugin_infos())


def test_an_event_hook_that_raises_or_hangs_does_not_stop_the_others(tmp_path: Path) -> None:
    recorder, sleeper = Recorder(), Sleeper()
    pm = get_plugin_manager(settings(tmp_path), load_entrypoints=False, extra_plugins=(
        ("raiser", Raiser()), ("sleeper", sleeper), ("recorder", recorder)))
    hooks = PluginHooks(pm, settings(tmp_path))
    started = time.monotonic()
    hooks.execution_completed(execution())
    # queued: the caller waits for the hand-over at most, not for the sleeping plugin
    assert time.monotonic() - started < HANDOFF + 0.3
    assert hooks.flush(5) == 0
    elapsed = time.monotonic() - started
    sleeper.release.set()
    assert recorder.seen == [7]
    assert elapsed < 0.5 + 0.5 + 1.0  # one budget for the sleeper, a margin for the rest


def test_blocked_plugins_do_not_run(tmp_path: Path) -> None:
    recorder = Recorder()
    s = settings(tmp_path, disabled_plugins=("recorder",))
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(("recorder", recorder),))
    hooks = PluginHooks(pm, s)
    hooks.execution_completed(execution())
    assert hooks.flush(5) == 0
    assert recorder.seen == []
    assert {i.name: i for i in pm.plugin_infos()}["recorder"].blocked


class Flow(Workflow):
    @step
    def only(self, ctx):
        return 1


class TwoPlugins:
    @hookimpl
    def wfsched_workflows(self, registry: WorkflowRegistrar) -> None:
        registry.add("flow", Flow, source="test")

    @hookimpl
    def wfsched_cli_commands(self, cli: click.Group) -> None:
        @click.command("hello-plugin")
        def hello() -> None:
            click.echo("hi")

        cli.add_command(hello)
        cli.add_command(click.Command("trigger"))  # a name that is taken: refused


def test_discovery_and_cli_hooks(tmp_path: Path) -> None:
    s = settings(tmp_path)
    hooks = PluginHooks(get_plugin_manager(s, load_entrypoints=False,
                                           extra_plugins=(("two", TwoPlugins()),)), s)
    assert hooks.catalog().get("flow").step_names == ["only"]
    group = click.Group("wfsched", commands={"trigger": click.Command("trigger")})
    original = group.commands["trigger"]
    hooks.add_cli_commands(group)
    assert "hello-plugin" in group.commands
    assert group.commands["trigger"] is original


def test_plugin_configuration_errors_name_the_key(tmp_path: Path) -> None:
    s = settings(tmp_path, data={"admission": {"min_available_memory_mb": "lots"}})
    hooks = PluginHooks(get_plugin_manager(s, load_entrypoints=False), s)
    with pytest.raises(ConfigError, match=r"\[admission\] min_available_memory_mb"):
        hooks.configure()

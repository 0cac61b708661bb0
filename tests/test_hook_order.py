"""Hooks are called through pluggy (its order, tryfirst/trylast, new-style wrappers around)
with wfsched's guard inside, around each plugin's implementation (issue 15)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from wfsched_core import hookimpl
from wfsched_core.base.config import Settings
from wfsched_core.base.records import Execution
from wfsched_core.base.status import ExecutionStatus
from wfsched_core.framework import hookspecs
from wfsched_core.framework.hooks import PluginHooks
from wfsched_core.framework.plugin_manager import get_plugin_manager

BUDGET = 0.5


def settings(tmp_path: Path, backoff: float = 60.0) -> Settings:
    return Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/db",
                    data={"scheduler": {"notify_budget": BUDGET, "notify_backoff": backoff}})


def execution() -> Execution:
    return Execution(id=7, workflow="w", status=ExecutionStatus.COMPLETED)


def make_plugin(name: str, calls: list[str], *, tryfirst: bool = False,
                trylast: bool = False, reason: str | None = None) -> object:
    class Plugin:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def wfsched_execution_completed(self, execution: Execution) -> None:
            calls.append(name)

        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def wfsched_admit(self, execution: Execution, spec: Any) -> str | None:
            calls.append(name)
            return reason

    return Plugin()


def orders(tmp_path: Path) -> tuple[list[str], list[str]]:
    """The call order under wfsched and under a plain pluggy manager, same registrations."""
    specs = [("plain-1", {}), ("first", {"tryfirst": True}), ("plain-2", {}),
             ("last", {"trylast": True}), ("plain-3", {})]
    ours: list[str] = []
    s = settings(tmp_path)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=tuple(
        (name, make_plugin(name, ours, **opts)) for name, opts in specs))
    hooks = PluginHooks(pm, s)
    hooks.execution_completed(execution())
    assert hooks.flush(5) == 0
    plain: list[str] = []
    reference = pluggy.PluginManager(hookspecs.PROJECT)
    reference.add_hookspecs(hookspecs)
    for name, opts in specs:
        reference.register(make_plugin(name, plain, **opts), name=name)
    reference.hook.wfsched_execution_completed(execution=execution())
    return ours, plain


def test_lifecycle_hooks_run_in_pluggys_order(tmp_path: Path) -> None:
    ours, plain = orders(tmp_path)
    assert ours == ["first", "plain-3", "plain-2", "plain-1", "last"]
    assert ours == plain


def test_admission_asks_in_pluggys_order_and_the_first_reason_wins(tmp_path: Path) -> None:
    calls: list[str] = []
    s = settings(tmp_path)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(
        ("early", make_plugin("early", calls, reason="early says no")),
        ("late", make_plugin("late", calls, reason="late says no")),
        ("last", make_plugin("last", calls, trylast=True, reason="last says no"))))
    reason = PluginHooks(pm, s).admission_reason(execution(), None)
    assert reason == "late says no"  # registered last: asked first
    assert calls[:3] == ["late", "early", "last"]


class Wrapper:
    """A new-style wrapper: code before and after the other implementations."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.seen: Any = None

    @hookimpl(wrapper=True)
    def wfsched_execution_completed(self, execution: Execution) -> Generator[None, Any, Any]:
        self.calls.append("wrapper before")
        result = yield
        self.calls.append("wrapper after")
        return result

    @hookimpl(wrapper=True)
    def wfsched_admit(self, execution: Execution, spec: Any) -> Generator[None, Any, Any]:
        reasons = yield
        self.seen = list(reasons)
        return [r for r in reasons if r != "overruled"]  # a wrapper may change the result


def test_a_wrapper_wraps_the_other_implementations(tmp_path: Path) -> None:
    calls: list[str] = []
    wrapper = Wrapper(calls)
    s = settings(tmp_path)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(
        ("wrapper", wrapper), ("a", make_plugin("a", calls, reason="overruled")),
        ("b", make_plugin("b", calls, tryfirst=True))))
    hooks = PluginHooks(pm, s)
    hooks.execution_completed(execution())
    assert hooks.flush(5) == 0
    assert calls == ["wrapper before", "b", "a", "wrapper after"]
    calls.clear()
    assert hooks.admission_reason(execution(), None) is None
    assert wrapper.seen == ["overruled"] and calls == ["b", "a"]


class BrokenWrapper:
    @hookimpl(wrapper=True)
    def wfsched_execution_completed(self, execution: Execution) -> Generator[None, Any, Any]:
        raise RuntimeError("wrapper broke before yield")
        yield  # pragma: no cover


class Raiser:
    @hookimpl(tryfirst=True)
    def wfsched_execution_completed(self, execution: Execution) -> None:
        raise RuntimeError("notifier down")


def test_a_raising_plugin_or_wrapper_is_named_and_the_others_still_run(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    s = settings(tmp_path)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(
        ("broken-wrapper", BrokenWrapper()), ("raiser", Raiser()),
        ("plain", make_plugin("plain", calls))))
    hooks = PluginHooks(pm, s)
    with caplog.at_level(logging.ERROR):
        hooks.execution_completed(execution())
        assert hooks.flush(5) == 0
    assert calls == ["plain"]
    text = caplog.text
    assert "plugin raiser:wfsched_execution_completed raised RuntimeError: notifier down" in text
    assert "plugin broken-wrapper:wfsched_execution_completed raised RuntimeError" in text


class Hanger:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    @hookimpl
    def wfsched_execution_completed(self, execution: Execution) -> None:
        self.calls += 1
        self.release.wait(30)


def test_a_hung_plugin_is_skipped_for_its_backoff_and_costs_one_thread(tmp_path: Path) -> None:
    calls: list[str] = []
    hanger = Hanger()
    s = settings(tmp_path, backoff=60)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(
        ("hanger", hanger), ("plain", make_plugin("plain", calls))))
    hooks = PluginHooks(pm, s)
    threads_before = threading.active_count()
    started = time.monotonic()
    try:
        for _ in range(20):
            hooks.execution_completed(execution())
        assert hooks.flush(10) == 0
        elapsed = time.monotonic() - started
        assert calls == ["plain"] * 20  # every event reached the healthy plugin
        assert hanger.calls == 1  # then its breaker skipped it
        assert elapsed < 2 * BUDGET + 1.5, f"20 events took {elapsed:.1f}s"
        # the event thread and the hanger's one lane; the plain plugin's lane
        assert threading.active_count() - threads_before <= 3
        assert pm.guard.board.is_open("hanger")
        info = {i.name: i for i in pm.plugin_infos()}["hanger"]
        assert info.skipped is not None and "did not return within" in info.skipped["reason"]
    finally:
        hanger.release.set()


def test_a_plugin_that_answers_again_after_its_backoff_is_no_longer_skipped(
        tmp_path: Path) -> None:
    hanger = Hanger()
    s = settings(tmp_path, backoff=0.2)
    pm = get_plugin_manager(s, load_entrypoints=False, extra_plugins=(("hanger", hanger),))
    hooks = PluginHooks(pm, s)
    hooks.execution_completed(execution())
    assert hooks.flush(5) == 0
    assert pm.guard.board.is_open("hanger")
    hanger.release.set()  # it answers from now on
    time.sleep(0.3)  # the back-off period itself is what is tested
    hooks.execution_completed(execution())
    assert hooks.flush(5) == 0
    assert hanger.calls == 2 and pm.guard.board.state("hanger") is None


def test_the_breaker_is_shared_by_the_processes_of_one_home(tmp_path: Path) -> None:
    from wfsched_core.framework.plugin_health import BreakerBoard, open_breakers

    first, second = BreakerBoard(tmp_path, 60), BreakerBoard(tmp_path, 60)  # two processes
    state = first.trip("hanger", "wfsched_execution_queued", "did not return within 2s")
    assert second.is_open("hanger") and not second.is_open("other")
    assert open_breakers(tmp_path)["hanger"].opened_at == state.opened_at
    again = second.trip("hanger", "wfsched_execution_queued", "did not return within 2s")
    assert again.trips == 2  # a second overrun in a row: twice as long
    assert again.open_until - again.opened_at == 120
    first.close("hanger")
    assert not second.is_open("hanger") and open_breakers(tmp_path) == {}

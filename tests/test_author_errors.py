"""Errors that point at the author's code, through the real command: a workflow module
that fails to import (file, line, distribution), a hook that raises (the plugin's file
and line; the traceback with ``-v``), a misspelled hook name ("did you mean"), an unknown
or ill-chosen ``[workflows.NAME]`` key (the file, the table, the known keys or values), a
workflow naming an uninstalled spawner, and the dependents of a broken workflow.

The mistakes live in tests/packages/wfsched-authorerrors, installed with ``pip install
--target`` and put on the path of these tests only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import installed_package
from helpers import Wfsched

from wfsched_core.authoring.workflow import workflow_table_keys
from wfsched_core.base.config import load_settings
from wfsched_core.framework.plugin_manager import get_plugin_manager


@pytest.fixture
def authored(wf: Wfsched) -> tuple[Wfsched, Path]:
    """The command with the author's mistakes installed; and where their modules are."""
    target = installed_package("wfsched-authorerrors")
    wf.python_paths.append(target)
    return wf, target / "wfsched_authorerrors"


def test_a_workflow_module_that_fails_to_import_names_its_file_line_and_distribution(
        authored: tuple[Wfsched, Path]) -> None:
    wf, package = authored
    expected = (f"ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed' "
                f"at {package / 'unimportable.py'}:3; announced by wfsched-authorerrors 0.2.0 "
                f"(wfsched_authorerrors.unimportable:Flow)")
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert flows["fails_to_import"]["broken"] == expected
    # the table cuts long cells; the reason is printed in full below it
    assert f"fails_to_import: {expected}" in wf.run("workflows", "list").stdout.splitlines()
    refused = wf.run("trigger", "fails_to_import", check=False)
    assert refused.returncode == 2
    assert f"wfsched: error: workflow 'fails_to_import' is broken: {expected}" in refused.stderr


def test_a_hook_that_raises_is_logged_with_the_plugins_file_and_line(
        authored: tuple[Wfsched, Path]) -> None:
    wf, package = authored
    wf.trigger("noop")
    quiet = wf.run("scheduler", "--once")
    line = (f"plugin wfsched-authorerrors-raiser:wfsched_execution_completed raised "
            f"KeyError: 'rows' at {package / 'raiser.py'}:7")
    assert line in quiet.stderr
    assert "Traceback" not in quiet.stderr
    assert "ran 1 execution(s): 1 completed" in quiet.stdout  # the plugin broke nothing
    wf.trigger("noop")
    verbose = wf.run("-v", "scheduler", "--once")
    assert line in verbose.stderr
    assert "Traceback (most recent call last)" in verbose.stderr
    assert f'File "{package / "raiser.py"}", line 12, in wfsched_execution_completed' \
        in verbose.stderr


def test_a_misspelled_hook_name_says_which_hook_was_meant(
        authored: tuple[Wfsched, Path]) -> None:
    wf, package = authored
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    assert plugins["wfsched-authorerrors-misspelled"]["error"] == (
        f"PluginValidationError: unknown hook wfsched_on_execution_finishd at "
        f"{package / 'misspelled.py'}:6 (did you mean wfsched_execution_completed or "
        f"wfsched_execution_failed or wfsched_execution_cancelled?) "
        f"(the hooks: wfsched_core.framework.hookspecs)")
    # the other plugin of the same distribution loads
    assert plugins["wfsched-authorerrors-raiser"]["error"] is None


def test_a_close_misspelling_gets_the_nearest_hook(wf: Wfsched, tmp_path: Path) -> None:
    """The manager itself, with a plugin module registered for the test."""
    module = tmp_path / "typo_plugin.py"
    module.write_text("from wfsched_core.framework.hookspecs import hookimpl\n\n\n"
                      "@hookimpl\ndef wfsched_execution_complete(execution):\n    pass\n")
    spec = importlib.util.spec_from_file_location("typo_plugin", module)
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    pm = get_plugin_manager(load_settings(config_file=str(wf.config_path)),
                            load_entrypoints=False, extra_plugins=(("typo", plugin),))
    assert pm.infos["typo"].error == (
        f"PluginValidationError: unknown hook wfsched_execution_complete at {module}:4 "
        f"(did you mean wfsched_execution_completed?) "
        f"(the hooks: wfsched_core.framework.hookspecs)")


def test_an_unknown_key_in_a_workflow_table_names_the_file_the_table_and_the_keys(
        wf: Wfsched) -> None:
    wf.write_config("[workflows.noop]\nretrys = 3\n")
    for args in (["trigger", "noop"], ["workflows", "list"]):
        result = wf.run(*args, check=False)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"wfsched: error: {wf.config_path}: unknown key 'retrys' in [workflows.noop] "
            f"(did you mean 'retries'? known keys: {', '.join(workflow_table_keys())})"]


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("catchup", "sometimes", "all, latest, none"),
    ("overlap", "queue", "allow, skip, replace"),
])
def test_a_value_outside_a_fixed_set_lists_the_allowed_ones(
        wf: Wfsched, key: str, value: str, allowed: str) -> None:
    wf.write_config(f'[workflows.noop]\n{key} = "{value}"\n')
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"wfsched: error: {wf.config_path}: [workflows.noop] "
                                     f"{key} must be one of {allowed}, not '{value}'")


def test_a_bad_workflow_value_names_the_config_file(wf: Wfsched) -> None:
    wf.write_config("[workflows.noop]\nretries = 'many'\n")
    result = wf.run("trigger", "noop", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"wfsched: error: {wf.config_path}: [workflows.noop] "
                                    "retries must be a whole number")


def test_a_workflow_naming_an_uninstalled_spawner_is_flagged(
        authored: tuple[Wfsched, Path]) -> None:
    wf, _ = authored
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    problem = flows["wrong_spawner"]["broken"]
    assert problem.startswith("spawner 'no_such_spawner' is not installed (installed: ")
    assert "local" in problem and problem.endswith("its executions could not start")
    assert f"wrong_spawner: {problem}" in wf.run("workflows", "list").stdout.splitlines()
    assert flows["noop"]["broken"] is None


def test_the_dependents_of_a_broken_workflow_say_which_upstream_is_broken(
        authored: tuple[Wfsched, Path]) -> None:
    wf, _ = authored
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert flows["needs_unimportable"]["broken"].startswith(
        "depends_on 'fails_to_import', which is broken (ModuleNotFoundError: No module "
        "named 'a_dependency_that_is_not_installed' at ")
    # and in turn, their own dependents
    assert flows["needs_needs"]["broken"].startswith(
        "depends_on 'needs_unimportable', which is broken (depends_on 'fails_to_import'")
    assert "unknown workflow" not in flows["needs_needs"]["broken"]
    refused = wf.run("trigger", "needs_unimportable", check=False)
    assert refused.returncode == 2
    assert "workflow 'needs_unimportable' is broken: depends_on 'fails_to_import', " \
        "which is broken" in refused.stderr


def test_an_upstream_that_is_not_installed_is_named_as_unknown(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\ndepends_on = ["not_installed_anywhere"]\n')
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert flows["noop"]["broken"] == \
        "depends_on names unknown workflow 'not_installed_anywhere'"

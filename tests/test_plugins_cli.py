"""``wfsched plugins list`` and ``workflows list`` with installed (and broken) packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import Wfsched


def test_plugins_list_shows_builtins_with_their_hooks(wf: Wfsched) -> None:
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    store = plugins["core.store"]
    assert store["distribution"] == "wfsched-core" and store["version"]
    assert store["hooks"] == ["wfsched_store"] and store["source"] == "builtin"
    assert "wfsched_spawners" in plugins["core.local-spawner"]["hooks"]
    assert set(plugins["core.workflows"]) >= {"name", "version", "distribution", "hooks",
                                              "source", "error"}


def test_broken_plugin_is_listed_with_its_error_and_nothing_else_breaks(
        wf: Wfsched, brokenplugin_path: Path) -> None:
    wf.python_paths.append(brokenplugin_path)
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    broken = plugins["wfsched-brokenplugin"]
    assert broken["distribution"] == "wfsched-brokenplugin"
    assert broken["version"] == "0.3.0"
    assert "ModuleNotFoundError" in broken["error"]
    assert "a_module_that_does_not_exist" in broken["error"]
    table = wf.run("plugins", "list").stdout
    assert "wfsched-brokenplugin" in table and "ERROR: ModuleNotFoundError" in table
    # the broken workflow is listed as broken; the others still run
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    assert "RuntimeError: this workflow module is broken on purpose" in flows["broken_flow"]["broken"]
    assert flows["noop"]["broken"] is None
    (execution_id,) = wf.trigger("noop")
    wf.run("scheduler", "--once")
    assert wf.execution(execution_id).status.value == "completed"
    refused = wf.run("trigger", "broken_flow", check=False)
    assert refused.returncode == 2 and "is broken" in refused.stderr


def test_strict_mode_turns_a_broken_plugin_into_a_failure(wf: Wfsched, brokenplugin_path: Path) -> None:
    wf.python_paths.append(brokenplugin_path)
    wf.extra_env["WFSCHED_STRICT_PLUGINS"] = "1"
    result = wf.run("workflows", "list", check=False)
    assert result.returncode == 2
    assert "plugin wfsched-brokenplugin failed to load" in result.stderr


def test_plugins_can_be_blocked_by_environment_and_config(wf: Wfsched, brokenplugin_path: Path) -> None:
    wf.python_paths.append(brokenplugin_path)
    wf.extra_env["WFSCHED_DISABLE_PLUGINS"] = "wfsched-brokenplugin, core.log-notifier"
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    assert plugins["wfsched-brokenplugin"]["blocked"] is True
    assert plugins["wfsched-brokenplugin"]["error"] is None
    assert plugins["core.log-notifier"]["blocked"] is True
    del wf.extra_env["WFSCHED_DISABLE_PLUGINS"]
    wf.write_config('[plugins]\ndisable = ["wfsched-brokenplugin"]\n')
    plugins = {p["name"]: p for p in wf.json("plugins", "list")}
    assert plugins["wfsched-brokenplugin"]["blocked"] is True


def test_essential_plugin_refuses_to_be_blocked(wf: Wfsched) -> None:
    wf.extra_env["WFSCHED_DISABLE_PLUGINS"] = "core.store"
    result = wf.run("plugins", "list", check=False)
    assert result.returncode == 2
    assert "plugin core.store is essential and cannot be disabled" in result.stderr


def test_an_installed_workflow_package_appears_without_touching_the_core(
        wf: Wfsched, tmp_path: Path) -> None:
    source = tmp_path / "myflows"
    (source / "myflows").mkdir(parents=True)
    (source / "myflows" / "__init__.py").write_text("")
    (source / "myflows" / "reports.py").write_text(
        "from wfsched_core import Workflow, step\n\n"
        "class NightlyReport(Workflow):\n"
        '    """Build the nightly report."""\n'
        '    schedule = "0 2 * * *"\n\n'
        "    @step\n"
        "    def build(self, ctx):\n"
        "        return {'pages': 3}\n")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "wfsched-myflows"\nversion = "1.2.3"\n\n'
        '[project.entry-points."wfsched.workflows"]\n'
        'nightly_report = "myflows.reports:NightlyReport"\n')
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True)
    wf.python_paths.append(target)
    flows = {w["name"]: w for w in wf.json("workflows", "list")}
    report = flows["nightly_report"]
    assert report["description"] == "Build the nightly report."
    assert report["schedule_text"] == "every day at 02:00"
    assert report["next_run"] and report["next_run"].endswith("02:00:00.000Z")
    assert "wfsched-myflows 1.2.3" in report["source"]
    (execution_id,) = wf.trigger("nightly_report")
    wf.run("scheduler", "--once")
    assert wf.store.steps(execution_id)[0].result == {"pages": 3}

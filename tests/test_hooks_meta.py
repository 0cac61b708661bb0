"""Meta-tests that keep the hooks honest: each is documented and each has a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from wfsched_core.framework import hookspecs

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("hook", hookspecs.ALL_HOOKS)
def test_every_hook_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 8, f"{hook} needs a docstring saying when, where and what"


@pytest.mark.parametrize("hook", hookspecs.ALL_HOOKS)
def test_every_hook_is_in_the_documentation(hook: str) -> None:
    assert f"`{hook}" in (REPO / "docs" / "hooks.md").read_text(), \
        f"{hook} is missing from docs/hooks.md"


@pytest.mark.parametrize("hook", hookspecs.ALL_HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    """A hook counts as tested when a test (or a test plugin) implements or calls it."""
    texts = [p.read_text(errors="replace") for p in (REPO / "tests").rglob("*.py")
             if p.name != Path(__file__).name]
    # the built-in implementations are exercised by the end-to-end tests named here
    exercised_by_builtins = {
        "wfsched_workflows": "test_plugins_cli.py", "wfsched_store": "test_store.py",
        "wfsched_spawners": "test_daemon.py", "wfsched_admit": "test_policies.py",
    }
    if hook in exercised_by_builtins:
        assert (REPO / "tests" / exercised_by_builtins[hook]).exists()
        return
    assert any(hook in text for text in texts), f"no test implements or names {hook}"


def test_event_names_map_to_lifecycle_hooks() -> None:
    assert set(hookspecs.EVENT_HOOKS.values()) <= set(hookspecs.LIFECYCLE_HOOKS)
    assert set(hookspecs.LIFECYCLE_HOOKS) <= set(hookspecs.ALL_HOOKS)


def test_the_hooks_page_is_up_to_date() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "scripts" / "hooks_doc.py"), "--check"])
    assert result.returncode == 0, "docs/hooks.md is stale: run python scripts/hooks_doc.py"

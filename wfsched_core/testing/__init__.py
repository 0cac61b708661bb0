"""The plugin author's testing kit: run a workflow, or a scheduler, inside a test.

- :func:`run_workflow` runs one execution of a workflow class (or an installed workflow
  by name) in this process, against a throwaway SQLite store, through the worker's own
  step runner, and returns a :class:`WorkflowRun` (status, each step, the log).
- :class:`TestPlugins` registers workflow classes and plugin objects for a test without
  installing them (``pip``, entry points).
- The pytest plugin (:mod:`wfsched_core.testing.pytest_plugin`, loaded through the
  ``pytest11`` entry point) gives the fixtures ``wfsched_home``, ``wfsched_plugins`` and
  ``wfsched_run``. See docs/writing-plugins.md, "Testing".

A top layer, like ``cli``: it may import anything, but at module level only ``base`` and
``authoring`` (pytest loads this package in every test run of an environment where the
core is installed, so loading it must cost nothing).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfsched_core.testing.plugins import TestPlugins
    from wfsched_core.testing.results import StepOutcome, WorkflowRun
    from wfsched_core.testing.run import run_workflow

# imported on first use: the pytest plugin inside this package loads with every test run
_LAZY = {"TestPlugins": "plugins", "StepOutcome": "results", "WorkflowRun": "results",
         "run_workflow": "run"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["StepOutcome", "TestPlugins", "WorkflowRun", "run_workflow"]

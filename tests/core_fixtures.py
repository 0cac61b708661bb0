"""The core's fixtures for a plugin's tests (``plugins/<dist>/tests/conftest.py``).

tests/conftest.py governs only its own folder; a plugin's conftest loads it under a name
of its own and re-exports every name of it: pytest imports the plugin's file as
``conftest`` too, after the core's, and the core's test modules say ``from conftest import
...``; with every name of the core's conftest there, they find what they import either way.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

CORE_CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def export_core_fixtures(namespace: dict[str, Any]) -> None:
    """Put every name of the core's conftest into ``namespace`` (a conftest's globals)."""
    spec = importlib.util.spec_from_file_location("wfsched_core_test_fixtures", CORE_CONFTEST)
    assert spec is not None and spec.loader is not None
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    namespace.update({name: value for name, value in vars(core).items()
                      if not name.startswith("__")})

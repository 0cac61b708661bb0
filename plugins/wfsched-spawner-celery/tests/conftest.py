"""Fixtures of the ``celery`` spawner's tests: the core's fixtures (a home, a database, the
test workflows), a Redis server of the test's own and Celery workers on hosts of their own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CORE_TESTS = REPO / "tests"
if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))

# The core's fixtures (tests/conftest.py governs only its own folder), loaded under a
# name of their own and re-exported whole: pytest imports this file as ``conftest`` too,
# after the core's, and the core's test modules say ``from conftest import ...``; with
# every name of the core's conftest here, they find what they import either way.
_spec = importlib.util.spec_from_file_location("wfsched_core_test_fixtures",
                                               CORE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_core)
globals().update({name: value for name, value in vars(_core).items()
                  if not name.startswith("__")})

from celery_hosts import celery_hosts, redis_server, uts_namespaces  # noqa: E402,F401

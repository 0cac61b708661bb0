"""Fixtures of the ``celery`` spawner's tests: the core's fixtures (a home, a database, the
test workflows), a Redis server of the test's own and Celery workers on hosts of their own.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CORE_TESTS = REPO / "tests"
if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))

from core_fixtures import export_core_fixtures  # noqa: E402

export_core_fixtures(globals())

from celery_hosts import celery_hosts, redis_server, uts_namespaces  # noqa: E402,F401

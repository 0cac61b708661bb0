"""Fixtures of the OpenTelemetry plugin's tests: the core's (a home, a database, the test
workflows)."""

from __future__ import annotations

import sys
from pathlib import Path

CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"
if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))

from core_fixtures import export_core_fixtures  # noqa: E402

export_core_fixtures(globals())

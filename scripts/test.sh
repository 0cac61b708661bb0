#!/usr/bin/env bash
# Quick start, part 2: set up and run the whole test suite (lint, then pytest in parallel).
# Server tests (PostgreSQL, MariaDB) skip with a reason when a server is absent, except
# under CI=true, where a missing server is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n "${WFSCHED_TEST_WORKERS:-4}" "$@"

#!/usr/bin/env bash
# Create .venv (if missing) and install the core, every plugin under plugins/, the sample
# workflows and the test tools into it, editable. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
packages=(-e ".[test,metrics]" -e ./sample_workflows)
for plugin in plugins/*/; do
    [ -f "$plugin/pyproject.toml" ] && packages+=(-e "./$plugin")
done
for requirements in tests/requirements*.txt; do
    [ -f "$requirements" ] && packages+=(-r "$requirements")
done
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${packages[@]}" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

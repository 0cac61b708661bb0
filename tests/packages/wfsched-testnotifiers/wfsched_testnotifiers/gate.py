"""An admission plugin for tests: hold back the workflows named in
``$WFSCHED_TEST_HOLD`` (comma-separated) while the file ``$WFSCHED_TEST_HOLD_FILE``
exists; admit everything else. Inert without both variables."""

import os

from wfsched_core.framework.hookspecs import hookimpl


@hookimpl
def wfsched_admit(execution, spec):
    names = os.environ.get("WFSCHED_TEST_HOLD", "").split(",")
    gate = os.environ.get("WFSCHED_TEST_HOLD_FILE")
    if execution.workflow in names and gate and os.path.exists(gate):
        return f"held by the test gate while {gate} exists"
    return None

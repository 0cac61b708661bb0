"""A workflow module that fails to import (line 3: a missing dependency's import)."""

import a_dependency_that_is_not_installed  # noqa: F401

from wfsched_core import Workflow, step


class Flow(Workflow):
    @step
    def run(self, ctx):
        return None

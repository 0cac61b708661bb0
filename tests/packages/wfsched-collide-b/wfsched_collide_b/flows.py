"""A workflow named 'twin' that says which distribution it comes from."""

from wfsched_core import Workflow, step


class Twin(Workflow):
    """Return which distribution's twin ran."""

    @step
    def which(self, ctx):
        return {"from": "wfsched-collide-b"}

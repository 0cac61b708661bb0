"""The smallest useful workflow: one step, done in a moment."""

from wfsched_core import Workflow, step


class Hello(Workflow):
    """Say hello and return who was greeted."""

    @step
    def greet(self, ctx):
        name = ctx.params.get("name", "world")
        ctx.log.info("hello, %s (execution %s)", name, ctx.execution_id)
        return {"greeted": name}

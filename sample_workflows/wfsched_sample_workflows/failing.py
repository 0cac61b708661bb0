"""Workflows that fail: to see what a failure looks like, and retries at work."""

from wfsched_core import Workflow, step


class AlwaysFail(Workflow):
    """Fail in its second step, every time."""

    @step
    def prepare(self, ctx):
        return {"ready": True}

    @step
    def explode(self, ctx):
        raise RuntimeError(f"this workflow always fails (execution {ctx.execution_id})")


class Flaky(Workflow):
    """Fail on the first attempt and succeed on the retry."""

    retries = 2

    @step
    def attempt(self, ctx):
        if ctx.attempt < int(ctx.params.get("succeed_on", 2)):
            raise ConnectionError(f"attempt {ctx.attempt} failed; will be retried")
        return {"succeeded_on": ctx.attempt}

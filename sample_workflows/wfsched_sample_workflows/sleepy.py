"""A workflow that waits: stands in for I/O-bound work (a report, a download)."""

import time

from wfsched_core import Workflow, step


class Sleep(Workflow):
    """Sleep for the `seconds` parameter (default 1)."""

    @step
    def wait(self, ctx):
        seconds = float(ctx.params.get("seconds", 1))
        ctx.log.info("sleeping %.2fs", seconds)
        time.sleep(seconds)
        return {"slept": seconds}

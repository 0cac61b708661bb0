"""Benchmark workflows: as little work as possible besides what is measured."""

import os
import time

from wfsched_core import Workflow, step


class BenchNoop(Workflow):
    """Nothing at all: the whole cost is wfsched's per-execution overhead."""

    retries = 0

    @step
    def nothing(self, ctx):
        return None


class BenchSleep(Workflow):
    """Sleep ``seconds`` (default 1): parallel efficiency."""

    retries = 0

    @step
    def sleep(self, ctx):
        time.sleep(float(ctx.params.get("seconds", 1)))


class BenchStamp(Workflow):
    """Write the wall-clock time of its first line to ``dir/stamp-ID.txt`` (latency)."""

    retries = 0

    @step
    def stamp(self, ctx):
        now = time.time()
        path = os.path.join(ctx.params["dir"], f"stamp-{ctx.execution_id}.txt")
        with open(path + ".tmp", "w") as handle:
            handle.write(repr(now))
        os.replace(path + ".tmp", path)

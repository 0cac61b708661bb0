"""Fault workflows. Each writes a record file ``<kind>-<id>-<attempt>-<pid>.json`` under
``params["dir"]`` when it starts (``ran``), so that a test can count from outside how many
processes ran an execution: more than one process for one execution id is a double run."""

import time
from pathlib import Path

# the test workflows are always installed beside these (tests/faults/conftest.py)
from wfsched_testworkflows.flows import write_record as _record

from wfsched_core import Workflow, step


class Segfault(Workflow):
    """Die of a real SIGSEGV in the middle of a step (a crashing C extension)."""

    retries = 0

    @step
    def crash(self, ctx):
        _record(ctx, "ran")
        import faulthandler

        faulthandler.disable()  # die of the signal itself, without a dump in the way
        faulthandler._sigsegv()


class Balloon(Workflow):
    """Hold some memory and wait to be killed: the OOM killer's victim (it sends SIGKILL)."""

    retries = 0

    @step
    def grow(self, ctx):
        ballast = bytearray(int(ctx.params.get("megabytes", 64)) * 1024 * 1024)
        _record(ctx, "ran", bytes=len(ballast))
        time.sleep(float(ctx.params.get("seconds", 300)))


class Gate(Workflow):
    """Start, then finish only when the file ``params["gate"]`` appears.

    Lets a test decide the moment a worker finishes (during an outage, all at once).
    """

    retries = 0

    @step
    def wait_for_gate(self, ctx):
        _record(ctx, "ran")
        gate = Path(ctx.params["gate"])
        deadline = time.monotonic() + float(ctx.params.get("patience", 120))
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} never opened")
            time.sleep(0.05)
        _record(ctx, "passed")


class HangFirst(Workflow):
    """Hang on the first attempt (to be killed), complete on the next: a retry that heals."""

    retries = 2
    retry_delay = 0.2

    @step
    def work(self, ctx):
        _record(ctx, "ran")
        if ctx.attempt == 1:
            time.sleep(float(ctx.params.get("seconds", 300)))

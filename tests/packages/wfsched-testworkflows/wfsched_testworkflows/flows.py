"""Test workflows. Each writes what it did to files under ``params["dir"]`` so that a
test can check from outside what ran, where and when (the workflow's own record)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wfsched_core import Workflow, step


def write_record(ctx, kind, **data):
    """Write ``<kind>-<id>-<attempt>-<pid>.json`` under ``params["dir"]`` (the format
    ``helpers.Wfsched.records`` reads; the fault workflows write theirs with it too)."""
    directory = ctx.params.get("dir")
    if not directory:
        return
    path = Path(directory) / f"{kind}-{ctx.execution_id}-{ctx.attempt}-{os.getpid()}.json"
    # Written aside and renamed into place: a test polling the directory never reads a
    # half-written record (it once read an empty file mid-write).
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(dict(data, execution_id=ctx.execution_id,
                                       attempt=ctx.attempt, pid=os.getpid())))
    partial.replace(path)


class Noop(Workflow):
    """Do nothing (overhead measurements)."""

    @step
    def nothing(self, ctx):
        return None


class Mark(Workflow):
    """Write a marker file: counts how many times an execution really ran. With
    ``gate``, it then runs until that file exists (a test decides when it ends)."""

    @step
    def mark(self, ctx):
        write_record(ctx, "ran", host=os.uname().nodename)
        time.sleep(float(ctx.params.get("seconds", 0)))
        gate = ctx.params.get("gate")
        deadline = time.monotonic() + 120
        while gate and not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.02)


class RecordInterval(Workflow):
    """Record its own start and end (wall clock) around a sleep."""

    @step
    def run(self, ctx):
        start = time.time()
        time.sleep(float(ctx.params.get("seconds", 1)))
        write_record(ctx, "interval", start=start, end=time.time())


class Crash(Workflow):
    """Kill itself with SIGKILL (or exit hard) in the middle of a step."""

    retries = 0

    @step
    def die(self, ctx):
        write_record(ctx, "ran")
        how = ctx.params.get("how", "sigkill")
        if how == "exit":
            os._exit(int(ctx.params.get("code", 3)))
        os.kill(os.getpid(), signal.SIGKILL)


class Hang(Workflow):
    """Sleep a long time (to be killed, cancelled or timed out)."""

    @step
    def hang(self, ctx):
        write_record(ctx, "started")
        time.sleep(float(ctx.params.get("seconds", 300)))


class WithChild(Workflow):
    """Start a child process of its own, record both PIDs, then wait."""

    @step
    def spawn(self, ctx):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        write_record(ctx, "child", child_pid=child.pid)
        time.sleep(float(ctx.params.get("seconds", 300)))


class FailThenPass(Workflow):
    """Fail until attempt `succeed_on` (default 3)."""

    retries = 5
    retry_delay = 0.2
    retry_backoff = 2.0

    @step
    def attempt(self, ctx):
        write_record(ctx, "attempt", time=time.time())
        if ctx.attempt < int(ctx.params.get("succeed_on", 3)):
            raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")


class Chatty(Workflow):
    """Print, log and raise text that must be shown verbatim (and escaped in HTML)."""

    @step
    def talk(self, ctx):
        print("stdout line: <script>alert(1)</script>")
        print("stderr line", file=sys.stderr)
        ctx.log.info("log record from step talk")
        if ctx.params.get("fail"):
            raise ValueError("<b>bad</b> input")


class Modules(Workflow):
    """Record which heavy modules the worker process has loaded (a lean worker: none)."""

    @step
    def look(self, ctx):
        heavy = ("sqlalchemy", "click", "psycopg", "pymysql", "wfsched_core.store",
                 "wfsched_core.framework.plugin_manager", "wfsched_core.cli", "wfsched_core.framework.hooks")
        write_record(ctx, "modules", loaded=[name for name in heavy if name in sys.modules],
                     parent=os.getppid())


class MarkTwice(Workflow):
    """Write a record at the start of its step and another at its very end."""

    @step
    def mark(self, ctx):
        write_record(ctx, "ran")
        time.sleep(float(ctx.params.get("seconds", 0)))
        write_record(ctx, "ending")


class Flood(Workflow):
    """Write `megabytes` of log records (or printed lines, with `how=print`)."""

    @step
    def flood(self, ctx):
        line = "x" * 1023
        for _ in range(int(float(ctx.params.get("megabytes", 5)) * 1024)):
            if ctx.params.get("how") == "print":
                print(line)
            else:
                ctx.log.info(line)


class Produce(Workflow):
    """Two steps with results, for a dependent run to read through ``ctx.upstream``."""

    @step
    def count(self, ctx):
        return int(ctx.params.get("n", 3))

    @step
    def label(self, ctx):
        return {"name": "report", "count": ctx.results["count"]}


class ReadUpstream(Workflow):
    """Record what ``ctx.upstream`` holds, and whether writing to it is refused (then
    fail the first attempt with ``fail_first``)."""

    @step
    def read(self, ctx):
        try:
            ctx.upstream["x"] = None
            read_only = False
        except TypeError:
            read_only = True
        upstream = {name: {"execution_id": u.execution_id, "workflow": u.workflow,
                           "status": u.status, "results": dict(u.results)}
                    for name, u in ctx.upstream.items()}
        write_record(ctx, "upstream", upstream=upstream, read_only=read_only)
        if ctx.params.get("fail_first") and ctx.attempt == 1:
            raise RuntimeError("first attempt fails (fail_first)")


class PerCustomer(RecordInterval):
    """RecordInterval, at most two at once per ``customer`` parameter (issue 17)."""

    concurrency_key = "customer"
    concurrency_per_key = 2


class PerRegion(RecordInterval):
    """RecordInterval keyed by a callable: one at a time per region, case-insensitive."""

    concurrency_key = staticmethod(lambda params: str(params["region"]).lower())


class Rated(RecordInterval):
    """RecordInterval started at most 5 times in any 2 seconds (issue 17)."""

    rate_limit = "5/2s"


class ApproveDeploy(Workflow):
    """Prepare, then wait for a person's approval before deploying (issue 20)."""

    approval_timeout = "24h"

    @step
    def prepare(self, ctx):
        write_record(ctx, "prepare")
        return {"version": ctx.params.get("version", "1.0")}

    @step(approval=True)
    def deploy(self, ctx):
        write_record(ctx, "deploy", results=ctx.results)
        return {"deployed": ctx.results["prepare"]["version"]}


class ApproveByGroup(Workflow):
    """A first step only members of a named group may approve."""

    @step(approval="wfsched-test-nobody")
    def release(self, ctx):
        write_record(ctx, "release")


class ThreeSteps(Workflow):
    """Three steps; the first appends a line to ``params["file"]`` (its side effect, to
    count), the second fails while ``params["fail_while"]`` exists (re-run tests)."""

    @step
    def extract(self, ctx):
        with open(ctx.params["file"], "a") as handle:
            handle.write(f"extract {ctx.execution_id}\n")
        return {"rows": 41}

    @step
    def transform(self, ctx):
        if os.path.exists(ctx.params.get("fail_while", "")):
            raise RuntimeError("transform is not ready")
        write_record(ctx, "transform", results=ctx.results)
        return {"rows": ctx.results["extract"]["rows"] + 1}

    @step
    def load(self, ctx):
        write_record(ctx, "load", results=ctx.results)


class NotJsonFirst(Workflow):
    """A first step whose result is not JSON (only its repr is kept), then a failure."""

    @step
    def connect(self, ctx):
        return object()

    @step
    def use(self, ctx):
        raise RuntimeError("fails once connected")

"""``python -m bench.soak [--minutes 5]``: run wfsched under chaos, then check invariants.

For N minutes a scheduler runs over a mix of quick, slow, failing and crashing workflows
(the test suite's workflow packages) on a SQLite database, while this script keeps
queueing work, SIGKILLs random workers (what the OOM killer does), and restarts the
scheduler at random: SIGKILL, SIGTERM (graceful) or SIGTERM twice (stop the workers).
Then it lets the last scheduler drain the queue and checks what must always hold:

- every execution ended (nothing ``pending`` or ``running`` is left);
- no execution ran in more than one process (the workflows' record files, one per
  process that ran an execution, are the ground truth: not the database);
- no ``database is locked`` and no traceback in any scheduler output.

With ``--plugins hung-and-raising`` the round also installs the test notifiers: one
that hangs in every hook, one that raises in every hook, and one that records each event
it is given; a share of the work is queued through ``wfsched trigger``. It then also
checks that the scheduler's thread count stays bounded, reports how long ``trigger``
took, and counts lifecycle events delivered twice (never allowed) or not at all.

With ``--database postgresql [--schedulers 3]`` several schedulers share a fresh
PostgreSQL database, reached through a cuttable proxy, and the chaos adds database
outages (2-5 s) and terminated backends (``bench/soak_database.py``).

It prints the figures (and ``--json`` writes them); the exit status is 1 when an
invariant broke. docs/reliability.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
PACKAGES = REPO / "tests" / "packages"
PYTHON = sys.executable

CONFIG = """\
[scheduler]
poll_interval = 0.2
heartbeat_interval = 0.5
heartbeat_timeout = 5
grace_period = 2
kill_grace = 2

[workflows.mark]
retries = 2
retry_delay = 0.2

[workflows.crash]
retries = 1
retry_delay = 0.2
"""

# (workflow, params, weight): the mix of work queued during the soak
MIX: list[tuple[str, dict[str, Any], int]] = [
    ("mark", {"seconds": 0}, 6),                       # quick
    ("mark", {"seconds": 3}, 3),                       # slow
    ("hang_first", {"seconds": 2}, 2),                 # slow first attempt, quick retry
    ("fail_then_pass", {"succeed_on": 2}, 2),          # fails once, then passes
    ("crash", {"how": "sigkill"}, 1),                  # kills itself
    ("crash", {"how": "exit", "code": 3}, 1),          # exits hard
    ("segfault", {}, 1),                               # segfaults
]
# the hung-and-raising round: a scheduler's own threads (main, wake-up listener, reaper,
# event delivery...) plus one per plugin lane, whatever the plugins do
THREADS_BOUND = 24
# a record file: <kind>-<execution id>-<attempt>-<pid>.json
RECORD_NAME = re.compile(r"^[a-z_]+-(\d+)-(\d+)-(\d+)\.json$")


@dataclass
class Figures:
    """What happened during one soak."""

    minutes: float = 0.0
    queued: int = 0
    workers_killed: int = 0
    restarts: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    failure_reasons: Counter[str] = field(default_factory=Counter)
    executions_that_ran: int = 0
    ran_more_than_once: int = 0
    left_running: int = 0
    left_pending: int = 0
    database_locked_lines: int = 0
    traceback_lines: int = 0
    drain_seconds: float = 0.0
    # the hung-and-raising plugins round
    plugins: str = "none"
    triggers: int = 0
    trigger_seconds_max: float = 0.0
    scheduler_threads_max: int = 0
    events_duplicated: int = 0
    final_events_missing: int = 0
    # the shared-database round (--database postgresql --schedulers N)
    database: str = "sqlite"
    schedulers: int = 1
    outages: int = 0
    outage_seconds: float = 0.0
    backends_terminated: int = 0

    @property
    def invariants_hold(self) -> bool:
        return not (self.ran_more_than_once or self.left_running or self.left_pending
                    or self.database_locked_lines or self.traceback_lines
                    or self.events_duplicated or self.scheduler_threads_max > THREADS_BOUND)


def install_packages(target: Path, plugins: str = "none") -> None:
    """``pip install --target`` the suite's workflow packages for the soak's processes."""
    names = ["wfsched-testworkflows", "wfsched-faultworkflows"]
    if plugins != "none":
        names.append("wfsched-testnotifiers")
    for name in names:
        build = target.parent / f"src-{name}"
        shutil.copytree(PACKAGES / name, build, ignore=shutil.ignore_patterns(
            "*.egg-info", "__pycache__", "build"))
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--disable-pip-version-check", "--target",
                        str(target), str(build)], check=True, capture_output=True)


class Soak:
    """One soak run in its own temporary home."""

    def __init__(self, home: Path, max_concurrent: int, seed: int,
                 start_mode: str | None = None, plugins: str = "none",
                 database: str = "sqlite", schedulers: int = 1) -> None:
        self.home = home
        self.records = home / "records"
        self.records.mkdir()
        self.events = home / "events"
        self.events.mkdir()
        self.plugins = plugins
        self.packages = home / "packages"
        config = CONFIG
        if start_mode:
            config = config.replace("[scheduler]\n", f"[scheduler]\nstart_mode = \"{start_mode}\"\n")
        (home / "wfsched.toml").write_text(config)
        self.max_concurrent = max_concurrent
        self.random = random.Random(seed)
        self.chaos = None
        from wfsched_core.store import SqlStore

        if database == "postgresql":  # several schedulers share it, through a proxy
            from bench.soak_database import DatabaseChaos

            self.chaos = DatabaseChaos(self.random)
            self.database_url = self.chaos.url
            self.store = SqlStore(self.chaos.direct_url)
            self.store.upgrade()
        else:  # SQLite: one scheduler per database
            schedulers = 1
            self.database_url = f"sqlite:///{home / 'wfsched.db'}"
            self.store = SqlStore(self.database_url)
            self.store.ensure_schema(auto_create=True)
        self.figures = Figures(plugins=plugins, database=database, schedulers=schedulers)
        self.schedulers: list[subprocess.Popen[bytes] | None] = [None] * schedulers
        self.generation = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WFSCHED_")}
        env.update(WFSCHED_HOME=str(self.home), WFSCHED_DATABASE_URL=self.database_url,
                   PYTHONPATH=str(self.packages))
        if self.plugins != "none":  # the test notifiers: every hook hangs or raises
            env.update(WFSCHED_TEST_MISBEHAVE="1", WFSCHED_TEST_EVENTS_DIR=str(self.events))
        return env

    # --- the scheduler -------------------------------------------------------------

    def start_scheduler(self, index: int = 0) -> None:
        self.generation += 1
        out = open(self.home / f"scheduler-{self.generation}.out", "wb")  # noqa: SIM115
        self.schedulers[index] = subprocess.Popen(
            [PYTHON, "-m", "wfsched_core", "scheduler", "--max-concurrent",
             str(self.max_concurrent)], env=self.env, cwd=self.home, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)

    def restart_scheduler(self) -> None:
        """Stop one scheduler one of three ways, then start a new one at once."""
        index = self.random.randrange(len(self.schedulers))
        scheduler = self.schedulers[index]
        assert scheduler is not None
        how = self.random.choices(["SIGKILL", "SIGTERM", "SIGTERM twice"], [4, 4, 2])[0]
        self.figures.restarts[how] += 1
        if how == "SIGKILL":
            scheduler.kill()  # the scheduler alone: its workers live on
            scheduler.wait(30)
        else:
            scheduler.send_signal(signal.SIGTERM)
            if how == "SIGTERM twice":
                time.sleep(self.random.uniform(0.1, 1.0))  # chaos timing, not a wait
                scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(60)  # grace 2 s + kill grace 2 s, plus a loaded host
            except subprocess.TimeoutExpired:
                self.figures.restarts["did not stop in 60 s (killed)"] += 1
                scheduler.kill()
                scheduler.wait(30)
        self.start_scheduler(index)

    # --- chaos ---------------------------------------------------------------------

    def queue_some(self) -> None:
        # keep a backlog, not a flood: a slow host must still drain it at the end
        if self.store.count_by_status().get("pending", 0) >= 3 * self.max_concurrent:
            return
        workflow, params, _ = self.random.choices(MIX, [w for *_, w in MIX])[0]
        count = self.random.randint(1, 3)
        params = {**params, "dir": str(self.records)}
        if self.plugins != "none" and self.random.random() < 0.3:
            self.trigger(workflow, params, count)  # a command that fires execution_queued
        else:
            self.store.enqueue(workflow, params=params, count=count)
        self.figures.queued += count

    def trigger(self, workflow: str, params: dict[str, Any], count: int) -> None:
        argv = [PYTHON, "-m", "wfsched_core", "trigger", workflow, "--count", str(count)]
        for key, value in params.items():
            argv += ["--param", f"{key}={value}"]
        started = time.monotonic()
        subprocess.run(argv, env=self.env, cwd=self.home, capture_output=True, check=True)
        self.figures.triggers += 1
        self.figures.trigger_seconds_max = max(self.figures.trigger_seconds_max,
                                               time.monotonic() - started)

    def sample_threads(self) -> None:
        for scheduler in self.schedulers:
            try:
                threads = psutil.Process(scheduler.pid).num_threads() if scheduler else 0
            except psutil.Error:
                continue
            self.figures.scheduler_threads_max = max(self.figures.scheduler_threads_max,
                                                     threads)

    def kill_a_worker(self) -> None:
        """SIGKILL one running worker, checked by PID and create time (never a stranger)."""
        running = [e for e in self.store.running_executions() if e.pid]
        if not running:
            return
        execution = self.random.choice(running)
        created = (execution.worker_handle or {}).get("create_time")
        try:
            process = psutil.Process(execution.pid)
            if created is None or abs(process.create_time() - created) > 0.05:
                return
            process.kill()
            self.figures.workers_killed += 1
        except psutil.Error:
            pass

    def run(self, minutes: float) -> Figures:
        started = time.monotonic()
        end = started + minutes * 60
        for index in range(len(self.schedulers)):
            self.start_scheduler(index)
        next_kill = started + self.random.uniform(1, 4)
        next_restart = started + self.random.uniform(10, 25)
        while time.monotonic() < end:
            self.queue_some()
            self.sample_threads()
            now = time.monotonic()
            if now >= next_kill:
                self.kill_a_worker()
                next_kill = now + self.random.uniform(1, 4)
            if now >= next_restart:
                self.restart_scheduler()
                next_restart = time.monotonic() + self.random.uniform(10, 25)
            if self.chaos is not None:
                self.chaos.step()
            time.sleep(self.random.uniform(0.2, 0.8))  # the pace of arriving work
        self.figures.minutes = (time.monotonic() - started) / 60
        if self.chaos is not None:
            self.chaos.settle()
        self.drain()
        self.check()
        return self.figures

    def drain(self, timeout: float = 300.0) -> None:
        """Let the last schedulers finish everything (retries included), then stop them."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            counts = self.store.count_by_status()
            if not counts.get("pending") and not counts.get("running"):
                break
            for index, scheduler in enumerate(self.schedulers):
                if scheduler is None or scheduler.poll() is not None:
                    self.start_scheduler(index)  # it should not die; if it did, it is logged
            self.sample_threads()
            time.sleep(0.5)  # polling the database with a deadline
        self.figures.drain_seconds = time.monotonic() - started
        for scheduler in self.schedulers:
            if scheduler is not None:
                scheduler.send_signal(signal.SIGTERM)
        for scheduler in self.schedulers:
            if scheduler is not None:
                scheduler.wait(60)

    # --- the invariants ------------------------------------------------------------

    def check(self) -> None:
        figures = self.figures
        executions = self.store.list_executions(limit=10_000_000)
        figures.statuses = Counter(e.status.value for e in executions)
        figures.left_running = figures.statuses["running"]
        figures.left_pending = figures.statuses["pending"]
        figures.retries = sum(1 for e in executions if e.retry_of is not None)
        for execution in executions:
            if execution.status.value == "failed":
                figures.failure_reasons[_reason_kind(execution.error or "")] += 1
        processes: dict[int, set[int]] = defaultdict(set)
        for path in self.records.iterdir():
            match = RECORD_NAME.match(path.name)
            if match:
                processes[int(match.group(1))].add(int(match.group(3)))
        figures.executions_that_ran = len(processes)
        figures.ran_more_than_once = sum(1 for p in processes.values() if len(p) > 1)
        if self.chaos is not None:
            figures.outages = self.chaos.outages
            figures.outage_seconds = self.chaos.outage_seconds
            figures.backends_terminated = self.chaos.backends_terminated
        if self.plugins != "none":
            self.check_events(executions)
        for path in [*self.home.glob("scheduler-*.out"), *(self.home / "logs").glob("*.log")]:
            text = path.read_text(errors="replace")
            figures.database_locked_lines += text.count("database is locked")
            if path.suffix == ".out":  # worker logs hold the workflows' own tracebacks
                figures.traceback_lines += text.count("Traceback")

    def check_events(self, executions: list[Any]) -> None:
        """Each event of an execution at most once; the final one of each ended run seen."""
        seen: Counter[tuple[str, str]] = Counter()
        for path in self.events.glob("*.json"):
            event, execution_id = path.name.split("-")[:2]
            seen[(event, execution_id)] += 1
        # per execution (a scheduler's own events, "none", come once per scheduler run)
        self.figures.events_duplicated = sum(
            n - 1 for (event, execution_id), n in seen.items()
            if n > 1 and event != "step_finished" and execution_id != "none")
        final = {"completed": "completed", "failed": "failed", "cancelled": "cancelled"}
        self.figures.final_events_missing = sum(
            1 for e in executions if e.status.value in final and e.started_at is not None
            and not seen[(final[e.status.value], str(e.id))])

    def cleanup(self) -> None:
        """Kill whatever this soak left running (a scheduler, orphaned workers)."""
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and \
                        process.environ().get("WFSCHED_HOME") == str(self.home):
                    process.kill()
            except psutil.Error:
                pass
        self.store.dispose()
        if self.chaos is not None:
            self.chaos.close()


def _reason_kind(error: str) -> str:
    """Group failure reasons: the signal or exit code, worker lost, stopped, raised."""
    for pattern in ("killed by signal SIG[A-Z]+", "exited with code \\d+", "worker lost",
                    "scheduler stopped", "timeout"):
        found = re.search(pattern, error)
        if found:
            return found.group(0)
    return error.split(":")[0][:40] or "(no reason)"


def report(figures: Figures) -> str:
    lines = [
        f"soak: {figures.minutes:.1f} min of chaos, drained in {figures.drain_seconds:.0f} s",
        f"  queued {figures.queued}, retries {figures.retries}, "
        f"executions that ran {figures.executions_that_ran}",
        f"  chaos: {figures.workers_killed} workers SIGKILLed, scheduler restarts "
        + ", ".join(f"{how} {n}" for how, n in sorted(figures.restarts.items())),
        "  statuses: " + ", ".join(f"{s} {n}" for s, n in sorted(figures.statuses.items())),
        "  failures: " + ", ".join(f"{r} {n}" for r, n in figures.failure_reasons.most_common()),
        f"  ran more than once {figures.ran_more_than_once}, left running "
        f"{figures.left_running}, left pending {figures.left_pending}, "
        f"'database is locked' {figures.database_locked_lines}, "
        f"scheduler tracebacks {figures.traceback_lines}",
        "  invariants: " + ("hold" if figures.invariants_hold else "BROKEN"),
    ]
    if figures.database != "sqlite":
        lines.insert(-1, f"  {figures.database} shared by {figures.schedulers} schedulers: "
                     f"{figures.outages} outages ({figures.outage_seconds:.0f} s in all), "
                     f"{figures.backends_terminated} backends terminated")
    if figures.plugins != "none":
        lines.insert(-1, f"  plugins {figures.plugins}: {figures.triggers} triggers, the "
                     f"slowest {figures.trigger_seconds_max:.1f} s; scheduler threads at "
                     f"most {figures.scheduler_threads_max} (bound {THREADS_BOUND}); events "
                     f"delivered twice {figures.events_duplicated}, final events missing "
                     f"{figures.final_events_missing}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--max-concurrent", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--start-mode", choices=["fork", "exec"], default=None,
                        help="the local spawner's start mode (default: wfsched's own)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--plugins", choices=["none", "hung-and-raising"], default="none",
                        help="also install notifiers that hang and raise in every hook")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: a fresh database on 127.0.0.1:5432, shared by "
                             "--schedulers, with outages and backend terminations")
    parser.add_argument("--schedulers", type=int, default=3,
                        help="with --database postgresql: how many schedulers (3)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    home = Path(tempfile.mkdtemp(prefix="wfsched-soak-"))
    print(f"soak: seed {seed}, start mode {args.start_mode or 'default'}, plugins "
          f"{args.plugins}, database {args.database}, home {home}", flush=True)
    soak = None
    try:
        install_packages(home / "packages", args.plugins)
        soak = Soak(home, args.max_concurrent, seed, args.start_mode, args.plugins,
                    args.database, args.schedulers)
        figures = soak.run(args.minutes)
    finally:
        if soak is not None:
            soak.cleanup()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(report(figures))
    if args.json:
        data = {k: (dict(v) if isinstance(v, Counter) else v)
                for k, v in figures.__dict__.items()}
        data.update(seed=seed, invariants_hold=figures.invariants_hold)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0 if figures.invariants_hold else 1


if __name__ == "__main__":
    sys.exit(main())

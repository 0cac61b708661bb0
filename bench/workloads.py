"""The workloads W1-W5 of issue 8. Each function does one run and returns its figures.

wfsched is driven through the real ``wfsched`` command against a fresh home and SQLite
database; the baselines of W1-W3 run in the same invocation (see ``baselines.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.baselines import run_baseline
from bench.harness import (
    PYTHON,
    REPO,
    BenchHome,
    bench_home,
    children_cpu,
    median,
    parse_time,
    reap_orphans,
)

MAX_CONCURRENT = 5


def _span(rows: list[dict[str, Any]]) -> float:
    """From the first claim to the last finish: the scheduler's own start excluded, as
    the baselines' parent imports are."""
    first = min(parse_time(r["claimed_at"] or r["started_at"]) for r in rows)
    last = max(parse_time(r["finished_at"]) for r in rows)
    return last - first


def _run_once(bench: BenchHome) -> tuple[float, float]:
    """``scheduler --once``: its wall time and the CPU of it and every descendant."""
    cpu, start = children_cpu(), time.perf_counter()
    bench.run("scheduler", "--once", "--max-concurrent", str(MAX_CONCURRENT))
    wall = time.perf_counter() - start
    reap_orphans()
    return wall, children_cpu() - cpu


def _completed(rows: list[dict[str, Any]], expected: int) -> None:
    done = sum(1 for r in rows if r["status"] == "completed")
    if done != expected:
        raise RuntimeError(f"{done} of {expected} executions completed")


def w1_overhead(count: int, mode: str, fresh_sample: int) -> dict[str, Any]:
    """W1: ``count`` no-op executions at ``--max-concurrent 5``."""
    with bench_home(mode) as bench:
        _, startup_cpu = _run_once(bench)  # nothing to do: the fixed cost of one run
        bench.run("trigger", "bench_noop", "--count", str(count))
        wall, cpu = _run_once(bench)
        rows = bench.executions()
    _completed(rows, count)
    span = _span(rows)
    fork = run_baseline("fork", "noop", count, MAX_CONCURRENT)
    fresh = run_baseline("fresh", "noop", fresh_sample)
    bare = run_baseline("bare", "noop", max(fresh_sample, 20))
    result = {
        "executions": count,
        "wfsched_per_second": count / span,
        "wfsched_per_second_whole_command": count / wall,
        "wfsched_command_seconds": wall,
        "wfsched_cpu_per_execution": (cpu - startup_cpu) / count,
        "wfsched_cpu_total": cpu,
        "wfsched_startup_cpu": startup_cpu,
        "fork_per_second": count / fork["wall"],
        "fork_cpu_per_execution": fork["cpu"] / count,
        "fresh_per_second": fresh_sample / fresh["wall"],
        "fresh_cpu_per_execution": fresh["cpu"] / fresh_sample,
        "fresh_sample": fresh_sample,
        "bare_per_second": bare["jobs"] / bare["wall"],
        "bare_cpu_per_execution": bare["cpu"] / bare["jobs"],
    }
    result["ratio_to_fork"] = result["wfsched_per_second"] / result["fork_per_second"]
    result["ratio_to_fresh"] = result["wfsched_per_second"] / result["fresh_per_second"]
    result["ratio_to_bare"] = result["wfsched_per_second"] / result["bare_per_second"]
    return result


def w2_parallel(count: int, seconds: float, mode: str, fresh_sample: int) -> dict[str, Any]:
    """W2: ``count`` executions sleeping ``seconds`` at ``--max-concurrent 5``."""
    ideal = count * seconds / MAX_CONCURRENT
    with bench_home(mode) as bench:
        bench.run("trigger", "bench_sleep", "--count", str(count), "--param",
                  f"seconds={seconds}")
        wall, _ = _run_once(bench)
        rows = bench.executions()
    _completed(rows, count)
    makespan = _span(rows)
    fork = run_baseline("fork", "sleep", count, MAX_CONCURRENT, seconds)
    fresh = run_baseline("fresh", "sleep", fresh_sample, seconds=seconds)
    fresh_makespan = fresh["wall"] / fresh_sample * count  # one after another: linear
    bare = run_baseline("bare", "sleep", fresh_sample, seconds=seconds)
    bare_makespan = bare["wall"] / fresh_sample * count
    return {
        "executions": count, "seconds": seconds, "ideal_seconds": ideal,
        "wfsched_makespan": makespan, "wfsched_command_seconds": wall,
        "wfsched_efficiency": ideal / makespan,
        "fork_makespan": fork["wall"], "fork_efficiency": ideal / fork["wall"],
        "fresh_makespan": fresh_makespan, "fresh_efficiency": ideal / fresh_makespan,
        "fresh_sample": fresh_sample,
        "bare_makespan": bare_makespan, "bare_efficiency": ideal / bare_makespan,
        "ratio_to_fork": fork["wall"] / makespan,
        "ratio_to_fresh": fresh_makespan / makespan,
    }


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _wait_for(path: Path, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {path.name}")
        time.sleep(0.001)  # polling a file the workflow writes, with a deadline
    return float(path.read_text())


def _stamp(bench: BenchHome, stamps: Path) -> tuple[float, float, int]:
    """Trigger one stamp execution; return (trigger return time, first line time, id)."""
    result = bench.run("trigger", "bench_stamp", "--param", f"dir={stamps}")
    returned = time.time()
    execution_id = int(result.stdout.split()[0])
    first_line = _wait_for(stamps / f"stamp-{execution_id}.txt")
    return returned, first_line, execution_id


def w3_latency(samples: int, mode: str, fresh_sample: int, poll_interval: float | None,
               database_url: str | None = None) -> dict[str, Any]:
    """W3: from ``trigger`` returning to the workflow's first line, on an idle scheduler."""
    latencies, starts, commits = [], [], []
    with bench_home(mode, poll_interval, database_url) as bench:
        stamps = bench.home / "stamps"
        stamps.mkdir()
        scheduler = bench.popen("scheduler", "--max-concurrent", str(MAX_CONCURRENT))
        try:
            _stamp(bench, stamps)  # warm: the scheduler and its fork server are up
            for _ in range(samples):
                returned, first_line, execution_id = _stamp(bench, stamps)
                latencies.append(first_line - returned)
                row = next(r for r in bench.executions() if r["id"] == execution_id)
                starts.append(first_line - parse_time(row["claimed_at"]))
                commits.append(first_line - parse_time(row["created_at"]))
        finally:
            _stop(scheduler)
            reap_orphans()
    fork = run_baseline("fork", "stamp", samples, 1)
    fresh = run_baseline("fresh", "stamp", fresh_sample)
    bare = run_baseline("bare", "stamp", max(fresh_sample, 10))
    return {
        "samples": samples, "database": "postgresql" if database_url else "sqlite",
        "poll_interval": poll_interval,
        "wfsched_latency_ms": median(latencies) * 1000,
        "wfsched_latency_max_ms": max(latencies) * 1000,
        "wfsched_claim_to_first_line_ms": median(starts) * 1000,
        # the trigger's insert to the first line: the trigger command's own exit (tens of
        # ms) is not in it, so it is the figure when the worker ran before trigger returned
        "wfsched_created_to_first_line_ms": median(commits) * 1000,
        "fork_latency_ms": median(fork["latencies"]) * 1000,
        "fresh_latency_ms": median(fresh["latencies"]) * 1000,
        "bare_latency_ms": median(bare["latencies"]) * 1000,
    }


def w4_idle(seconds: float, mode: str) -> dict[str, Any]:
    """W4: CPU of an idle scheduler (and its fork server) over ``seconds``."""
    import psutil

    with bench_home(mode) as bench:
        scheduler = bench.popen("scheduler", "--max-concurrent", str(MAX_CONCURRENT))
        try:
            stamps = bench.home / "stamps"
            stamps.mkdir()
            _, _, warm_up = _stamp(bench, stamps)  # up, warm, and idle from here on
            worker = _execution_pid(bench, warm_up)
            process = psutil.Process(scheduler.pid)
            # fork mode keeps two: the fork server and its spare
            family = _settled_family(process, 2 if mode == "fork" else 0, worker)
            before = {p.pid: _cpu_of(p) for p in family}
            time.sleep(seconds)  # the measurement itself: an idle interval
            after = {p.pid: _cpu_of(p) for p in family}
            rss = process.memory_info().rss
            server_rss = sum(_rss_of(p) for p in family[1:])
        finally:
            _stop(scheduler)
            reap_orphans()
    cpu = sum(after[pid] - before[pid] for pid in before
              if before[pid] is not None and after[pid] is not None)
    return {"seconds": seconds, "cpu_seconds": cpu, "percent_of_one_core": cpu / seconds * 100,
            "scheduler_rss_mb": rss / 2**20, "fork_server_rss_mb": server_rss / 2**20,
            "processes": len(family)}


def _execution_pid(bench: BenchHome, execution_id: int) -> int | None:
    def finished() -> dict[str, Any] | None:
        row = next(r for r in bench.executions() if r["id"] == execution_id)
        return row if row["status"] == "completed" else None

    deadline = time.monotonic() + 30
    while (row := finished()) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the database, with a deadline
    return row["pid"] if row else None


def _settled_family(process: Any, long_lived: int, worker: int | None) -> list[Any]:
    """The scheduler and its ``long_lived`` descendants (the fork server and its spare),
    once the warm-up's ``worker`` has gone and the spare is in place."""
    deadline = time.monotonic() + 30
    while True:
        children = process.children(recursive=True)
        settled = len(children) == long_lived and all(c.pid != worker for c in children)
        if settled or time.monotonic() > deadline:
            return [process, *children]
        time.sleep(0.05)  # polling the process table, with a deadline


def _rss_of(process: Any) -> int:
    import psutil

    try:
        return process.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def _cpu_of(process: Any) -> float | None:
    import psutil

    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return None
    return times.user + times.system


def _scale_phase(bench: BenchHome, *args: str) -> dict[str, Any]:
    env = bench.env | {"PYTHONPATH": os.pathsep.join([str(REPO), str(bench.packages)])}
    result = subprocess.run([PYTHON, "-m", "bench.scale", *args], env=env, cwd=bench.home,
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"bench.scale {args[0]} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def w5_scale(small: int, large: int, workflows: int) -> dict[str, Any]:
    """W5: one scheduler loop with ``large`` finished executions against ``small``."""
    figures = {}
    for rows in (small, large):
        with bench_home("fork") as bench:
            _scale_phase(bench, "fill", "--executions", str(rows), "--workflows",
                         str(workflows))
            figures[rows] = _scale_phase(bench, "tick", "--workflows", str(workflows))
            reap_orphans()
    low, high = figures[small], figures[large]
    return {
        "workflows": high["workflows"], "small_executions": small, "large_executions": large,
        "tick_ms_small": low["tick_ms"], "tick_ms_large": high["tick_ms"],
        "tick_ratio": high["tick_ms"] / low["tick_ms"],
        "rss_mb_small": low["rss_mb"], "rss_mb_large": high["rss_mb"],
    }


def python_info() -> dict[str, str]:
    return {"python": sys.version.split()[0], "platform": sys.platform}

"""``python -m bench [--quick] [--only W1,W2] [--runs N]``: wfsched's benchmarks.

Runs each workload of issue 8 several times, prints the medians and writes them, with
every run's figures, to ``bench/results/latest.json``. ``python -m bench.chart`` turns
that file into ``docs/performance.png`` and the README's table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench import workloads
from bench.harness import REPO, RESULTS, become_subreaper, create_postgresql_database

WORKLOADS = ("W1", "W2", "W3", "W4", "W5")


@contextmanager
def postgresql_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database on 127.0.0.1:5432, or None when there is no server."""
    try:
        url, drop = create_postgresql_database("wfsched_bench")
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        yield None
        return
    try:
        yield url
    finally:
        drop()


def plan(args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    """One callable per workload: a single run with this invocation's sizes."""
    quick = args.quick
    mode = args.start_mode

    def w3() -> dict[str, Any]:
        samples = 5 if quick else 20
        result = {"sqlite": workloads.w3_latency(samples, mode, 2 if quick else 5,
                                                 args.w3_poll_interval)}
        with postgresql_database() as url:
            if url is not None:
                result["postgresql"] = workloads.w3_latency(samples, mode, 2, None, url)
        return result

    return {
        "W1": lambda: workloads.w1_overhead(50 if quick else 200, mode, 3 if quick else 10),
        "W2": lambda: workloads.w2_parallel(10 if quick else 20, 0.5 if quick else 1.0,
                                            mode, 2 if quick else 4),
        "W3": w3,
        "W4": lambda: workloads.w4_idle(args.idle_seconds or (5.0 if quick else 60.0), mode),
        "W5": lambda: workloads.w5_scale(1000, 10_000 if quick else 100_000, 1000),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every numeric figure over the runs (nested dicts too)."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        values = [run[key] for run in runs if key in run]
        if isinstance(value, dict):
            out[key] = medians(values)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(values)
        else:
            out[key] = value
    return out


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "wfsched_core", "bench")
    return head + ("+dirty" if dirty else "")


def show(name: str, figures: dict[str, Any], indent: str = "  ") -> None:
    print(f"{name}:" if indent == "  " else f"{indent[:-2]}{name}:")
    for key, value in figures.items():
        if isinstance(value, dict):
            show(key, value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:34} {value:10.3f}")
        else:
            print(f"{indent}{key:34} {value!s:>10}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke run")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="e.g. W1,W3")
    parser.add_argument("--runs", type=int, default=None, help="runs per workload (default 3)")
    parser.add_argument("--start-mode", choices=("fork", "exec"), default="fork")
    parser.add_argument("--idle-seconds", type=float, default=None, help="W4 length (60)")
    parser.add_argument("--w3-poll-interval", type=float, default=None,
                        help="the SQLite scheduler's poll interval in W3 (default: 2 s)")
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)
    selected = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(selected) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)} (known: {', '.join(WORKLOADS)})")
    runs = args.runs or (1 if args.quick else 3)
    become_subreaper()
    workload_plan = plan(args)
    results: dict[str, Any] = {
        "commit": commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs, "quick": args.quick, "start_mode": args.start_mode,
        **workloads.python_info(), "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0], "workloads": {},
    }
    for name in selected:
        all_runs = []
        for run in range(runs):
            print(f"{name} run {run + 1}/{runs} ...", file=sys.stderr, flush=True)
            all_runs.append(workload_plan[name]())
        results["workloads"][name] = {"median": medians(all_runs), "runs": all_runs}
        show(name, results["workloads"][name]["median"])
    results["load_average_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=2, default=str)
    print(f"results written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of the commands a person types, beside a bare interpreter (issue 13).

``python bench/cli_startup.py [--runs 15] [--executions 200] [--json]`` makes a
temporary ``WFSCHED_HOME`` with a SQLite database holding ``--executions`` executions
(a few of them run, so that ``executions show`` has steps), then starts each command
``--runs`` times, interleaved (one round of every command, then the next round), and
prints each one's median wall time (and min, max) with its ratio to the median of a bare
``python -c pass`` measured in the same rounds: the ratio is what to compare between
machines and runs. ``python -c "import sqlalchemy"`` is printed as a yardstick.

Each command is the installed ``wfsched`` script next to this interpreter, so run this
with the project's virtualenv. Bytecode is written (``PYTHONDONTWRITEBYTECODE`` is
dropped) and every command runs once before the rounds, as in an installation where the
modules are compiled. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WORKFLOW = "hello"  # sample_workflows, installed in the project's virtualenv


def wfsched_argv() -> list[str]:
    script = Path(sys.executable).with_name("wfsched")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wfsched_core"]


def prepare(executions: int, env: dict[str, str]) -> tuple[int, list[int]]:
    """Queue the executions, run three of them; (one that ran, the pending ids)."""
    def run(*args: str) -> str:
        return subprocess.run([*wfsched_argv(), *args], env=env, check=True, text=True,
                              capture_output=True).stdout

    ids = [int(line) for line in run("trigger", WORKFLOW, "--count", str(executions)).split()]
    for execution_id in ids[:3]:
        run("execute", str(execution_id))
    return ids[0], ids[3:]


def commands(shown: int, pending: list[int]) -> dict[str, Callable[[int], list[str]]]:
    """Name -> the argv of round ``n`` (the same each round but for cancel: a new id)."""
    wfsched = wfsched_argv()

    def fixed(*argv: str) -> Callable[[int], list[str]]:
        return lambda _n: list(argv)

    return {
        "python -c pass": fixed(sys.executable, "-c", "pass"),
        "python -c 'import sqlalchemy'": fixed(sys.executable, "-c", "import sqlalchemy"),
        "wfsched --help": fixed(*wfsched, "--help"),
        f"wfsched trigger {WORKFLOW}": fixed(*wfsched, "trigger", WORKFLOW),
        "wfsched executions list": fixed(*wfsched, "executions", "list"),
        "wfsched executions show ID": fixed(*wfsched, "executions", "show", str(shown)),
        "wfsched cancel ID (pending)": lambda n: [*wfsched, "cancel", str(pending[n])],
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int, executions: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="wfsched-cli-bench-") as tmp:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("WFSCHED_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["WFSCHED_HOME"] = tmp
        shown, pending = prepare(max(executions, runs + 10), env)
        table = commands(shown, pending)
        times: dict[str, list[float]] = {name: [] for name in table}
        for n in range(-1, runs):  # round -1 warms up (compiles) and is not counted
            for name, argv in table.items():
                elapsed = timed(argv(n + 1), env)
                if n >= 0:
                    times[name].append(elapsed)
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="Print JSON.")
    args = parser.parse_args()
    times = measure(args.runs, args.executions)
    bare = statistics.median(times["python -c pass"])
    rows = [{"command": name, "median_ms": round(statistics.median(values) * 1000, 1),
             "min_ms": round(min(values) * 1000, 1), "max_ms": round(max(values) * 1000, 1),
             "ratio": round(statistics.median(values) / bare, 2)}
            for name, values in times.items()]
    if args.json:
        print(json.dumps({"runs": args.runs, "rows": rows}, indent=2))
        return
    print(f"{args.runs} runs each, interleaved; ratio = median / median of python -c pass")
    print(f"{'command':<32}{'median ms':>10}{'min':>8}{'max':>8}{'ratio':>8}")
    for row in rows:
        print(f"{row['command']:<32}{row['median_ms']:>10}{row['min_ms']:>8}"
              f"{row['max_ms']:>8}{row['ratio']:>8}")


if __name__ == "__main__":
    main()

"""Wake-up latency of an idle scheduler: PostgreSQL LISTEN/NOTIFY against polling.

``python bench/wakeup.py [--runs 20] [--poll-interval 2]`` starts one idle
``wfsched scheduler`` per server (PostgreSQL 127.0.0.1:5432 user postgres; MariaDB
127.0.0.1:3306 user root), each on a fresh database with the same poll interval and a
heartbeat far longer than it, then queues one execution at a time and measures, from
the rows, how long it waited: ``started_at - created_at`` (so it includes the start
of the worker, which records ``started_at``). PostgreSQL wakes the
scheduler through NOTIFY; MariaDB has no LISTEN, so it waits for the next poll (half the
interval on average). Prints the median of ``--runs`` and the spread; asserts nothing.
A server that is not reachable is reported and skipped.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # tests/throwaway.py: throwaway databases
from throwaway import create_mariadb_database, create_postgresql_database  # noqa: E402

WORKFLOW = "hello"  # sample_workflows, installed in the project's virtualenv


@contextmanager
def postgresql_database() -> Iterator[str]:
    url, drop = create_postgresql_database("wfsched_bench")
    try:
        yield url
    finally:
        drop()


@contextmanager
def mariadb_database() -> Iterator[str]:
    url, drop = create_mariadb_database("wfsched_bench")
    try:
        yield url
    finally:
        drop()


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.005)


def measure(url: str, runs: int, poll_interval: float) -> list[float]:
    """Seconds each of ``runs`` executions waited before an idle scheduler started it."""
    from wfsched_core.store import SqlStore

    with tempfile.TemporaryDirectory(prefix="wfsched-wakeup-") as home:
        Path(home, "wfsched.toml").write_text(
            f"[scheduler]\npoll_interval = {poll_interval}\n"
            f"heartbeat_interval = {max(60.0, 10 * poll_interval)}\n"
            f"heartbeat_timeout = {max(180.0, 30 * poll_interval)}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WFSCHED_")}
        env.update(WFSCHED_HOME=home, WFSCHED_DATABASE_URL=url)
        wfsched = [sys.executable, "-m", "wfsched_core"]
        subprocess.run([*wfsched, "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        store = SqlStore(url)
        log = open(Path(home, "scheduler.out"), "w")  # noqa: SIM115 - closed below
        scheduler = subprocess.Popen([*wfsched, "scheduler", "--max-concurrent", "2"],
                                     env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            _wait(lambda: any(r.pid == scheduler.pid for r in store.list_schedulers()),
                  60, "the scheduler to register")
            time.sleep(2.0)  # warm-up: the fork server and (PostgreSQL) the LISTEN
            return [_one_round(store, poll_interval) for _ in range(runs)]
        finally:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait(10)
            log.close()
            store.dispose()


def _one_round(store: object, poll_interval: float) -> float:
    # a random phase against the poll timer, as a real trigger would have
    time.sleep(random.uniform(0.2, 0.2 + poll_interval))
    (execution,) = store.enqueue(WORKFLOW)  # type: ignore[attr-defined]
    _wait(lambda: store.get_execution(execution.id).status.is_final,  # type: ignore[attr-defined]
          30 + 3 * poll_interval, f"execution {execution.id} to finish")
    row = store.get_execution(execution.id)  # type: ignore[attr-defined]
    if row.status.value != "completed":
        raise RuntimeError(f"execution {row.id} {row.status.value}: {row.error}")
    return (row.started_at - row.created_at).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    servers = (("postgresql", "LISTEN/NOTIFY", postgresql_database),
               ("mariadb", "poll only", mariadb_database))
    print(f"wake-up latency of an idle scheduler, {args.runs} runs, poll interval "
          f"{args.poll_interval:g} s (started_at - created_at)")
    print(f"{'server':<12}{'wake-up':<16}{'median':>10}{'min':>10}{'max':>10}")
    for kind, how, database in servers:
        try:
            with database() as url:
                waits = measure(url, args.runs, args.poll_interval)
        except Exception as exc:  # noqa: BLE001 - a missing server is reported, not fatal
            print(f"{kind:<12}{how:<16}  not measured: {str(exc).splitlines()[0]}")
            continue
        print(f"{kind:<12}{how:<16}{statistics.median(waits) * 1000:>8.0f}ms"
              f"{min(waits) * 1000:>8.0f}ms{max(waits) * 1000:>8.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

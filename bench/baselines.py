"""The two baselines, which need nothing of wfsched.

- ``fresh``: the jobs one after another, each in a fresh interpreter that imports what a
  worker needed before issue 13 (``python -c "import sqlalchemy.orm; JOB"``): the
  original "before".
- ``bare``: the jobs one after another, each in a bare fresh interpreter (``python -c
  JOB``): the floor of the ``exec`` start mode.
- ``fork``: a bare fork-per-job loop with the same concurrency limit, whose parent has
  SQLAlchemy's ORM imported: the practical floor for process-per-execution isolation.

Run as ``python -m bench.baselines fresh|bare|fork --job noop|sleep|stamp --jobs N [--limit
5]``; prints one JSON object: ``wall`` (seconds, imports of the parent excluded), ``cpu``
(seconds of the loop and its children) and, for ``stamp``, ``latencies`` (seconds from
the request to the job's first line).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

JOBS = {
    "noop": "pass",
    "sleep": "import time; time.sleep({seconds})",
    "stamp": "import os, time; os.write({fd}, repr(time.time()).encode())",
}


def _cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def fork_loop(job: str, jobs: int, limit: int, seconds: float) -> dict[str, object]:
    """Fork one child per job, never more than ``limit`` at once."""
    import sqlalchemy.orm  # noqa: F401 - the warm parent

    latencies: list[float] = []
    start_cpu, start = _cpu(), time.perf_counter()
    running = 0
    remaining = jobs
    while remaining or running:
        while remaining and running < limit:
            read_fd, write_fd = os.pipe()
            requested = time.time()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                try:
                    exec(JOBS[job].format(seconds=seconds, fd=write_fd))  # noqa: S102
                finally:
                    os._exit(0)
            os.close(write_fd)
            if job == "stamp":  # one at a time: the latency of an idle loop
                latencies.append(float(os.read(read_fd, 100)) - requested)
            os.close(read_fd)
            running += 1
            remaining -= 1
        os.wait()
        running -= 1
    return {"wall": time.perf_counter() - start, "cpu": _cpu() - start_cpu,
            "latencies": latencies, "jobs": jobs}


def fresh_interpreters(job: str, jobs: int, seconds: float,
                       prelude: str = "import sqlalchemy.orm; ") -> dict[str, object]:
    """One fresh interpreter per job, one after another."""
    latencies: list[float] = []
    start_cpu, start = _cpu(), time.perf_counter()
    for _ in range(jobs):
        code = prelude + JOBS[job].format(seconds=seconds, fd=1)
        requested = time.time()
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        if job == "stamp":
            latencies.append(float(result.stdout) - requested)
    return {"wall": time.perf_counter() - start, "cpu": _cpu() - start_cpu,
            "latencies": latencies, "jobs": jobs}


def run_baseline(kind: str, job: str, jobs: int, limit: int = 5,
                 seconds: float = 1.0) -> dict[str, float]:
    """Run a baseline in its own process (so its imports are its own); return its figures."""
    argv = [sys.executable, "-m", "bench.baselines", kind, "--job", job, "--jobs", str(jobs),
            "--limit", str(limit), "--seconds", str(seconds)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}  # as wfsched is run
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=root,
                            env=env, timeout=1800)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("fresh", "bare", "fork"))
    parser.add_argument("--job", choices=sorted(JOBS), default="noop")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    if args.kind == "fork":
        figures = fork_loop(args.job, args.jobs, args.limit, args.seconds)
    elif args.kind == "bare":
        figures = fresh_interpreters(args.job, args.jobs, args.seconds, prelude="")
    else:
        figures = fresh_interpreters(args.job, args.jobs, args.seconds)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

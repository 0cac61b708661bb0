"""W5's two halves, each in its own process (so the memory figure is the scheduler's):

- ``python -m bench.scale fill --executions N --workflows W``: W workflows (announced by
  a generated distribution with W entry points) and N finished executions inserted
  straight through SQLAlchemy into the migrated database of ``WFSCHED_HOME``;
- ``python -m bench.scale tick --workflows W``: an in-process ``Scheduler`` on that
  database; prints the median time of one loop (``Scheduler._tick()``, with heartbeat
  and recovery due on every loop: the worst case) and the process's resident memory.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

WORKFLOW_CLASS = "wfsched_benchworkflows.flows:BenchNoop"


def announce_workflows(count: int) -> None:
    """A distribution on sys.path whose entry points announce ``count`` workflows."""
    root = Path(os.environ["WFSCHED_HOME"]) / "scaleflows"
    dist = root / "wfsched_scaleflows-1.0.dist-info"
    if not dist.exists():
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wfsched-scaleflows\n"
                                       "Version: 1.0\n")
        lines = ["[wfsched.workflows]"]
        lines += [f"scale_{i:04d} = {WORKFLOW_CLASS}" for i in range(count)]
        (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    sys.path.insert(0, str(root))


def fill(executions: int, workflows: int) -> None:
    from wfsched_core.app import App
    from wfsched_core.store.db import schema

    announce_workflows(workflows)
    store = App().store
    start = datetime(2026, 1, 1)
    batch = []
    with store.engine.begin() as connection:
        for i in range(executions):
            created = start + timedelta(seconds=i)
            batch.append({
                "workflow": f"scale_{i % workflows:04d}",
                "status": "completed" if i % 10 else "failed",
                "priority": 0, "attempt": 1, "params": "{}", "trigger": "manual",
                "created_at": created, "claimed_at": created, "started_at": created,
                "finished_at": created + timedelta(seconds=1), "heartbeat_at": created,
                "claimed_by": "bench", "pid": 1, "host": "bench", "spawner": "local",
                "exit_code": 0 if i % 10 else 1, "cancel_requested": False,
            })
            if len(batch) == 5000:
                connection.execute(schema.workflow_executions.insert(), batch)
                batch = []
        if batch:
            connection.execute(schema.workflow_executions.insert(), batch)
    store.dispose()


def tick(workflows: int, loops: int) -> dict[str, float]:
    import psutil

    from wfsched_core.app import App
    from wfsched_core.scheduler import Scheduler, SchedulerOptions

    announce_workflows(workflows)
    app = App()
    options = SchedulerOptions.from_settings(app.settings, heartbeat_interval=0.001,
                                             spawner="local")
    scheduler = Scheduler(app.store, app.hooks, app.settings, options)
    scheduler.prepare()
    scheduler._register()
    try:
        for _ in range(3):
            scheduler._tick()
        timings = []
        for _ in range(loops):
            scheduler._next_heartbeat = scheduler._next_recovery = 0.0  # all work due
            start = time.perf_counter()
            scheduler._tick()
            timings.append(time.perf_counter() - start)
        gc.collect()
        rss = psutil.Process().memory_info().rss
    finally:
        ticks = getattr(scheduler, "ticks", None)
        if ticks is not None and hasattr(ticks, "stop"):
            ticks.stop()
        scheduler._unregister()
        for spawner in scheduler._spawners.values():
            close = getattr(spawner, "close", None)
            if close is not None:
                close()
    timings.sort()
    return {"tick_ms": timings[len(timings) // 2] * 1000, "tick_ms_max": timings[-1] * 1000,
            "rss_mb": rss / 2**20, "workflows": len(scheduler.specs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("phase", choices=("fill", "tick"))
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--loops", type=int, default=30)
    args = parser.parse_args()
    if args.phase == "fill":
        fill(args.executions, args.workflows)
        print("{}")
    else:
        print(json.dumps(tick(args.workflows, args.loops)))


if __name__ == "__main__":
    main()

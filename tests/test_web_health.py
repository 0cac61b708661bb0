"""``/healthz`` and ``/readyz`` of ``wfsched web``: the verdict of ``status --check``."""

from __future__ import annotations

import json

import test_web_support as support
from helpers import Wfsched, wait_until
from test_web_support import start_web, stop

scheduler = support.scheduler


def test_health_routes_answer_the_verdict_of_status_check(wf: Wfsched, scheduler) -> None:
    server = start_web(wf, "--host", "0.0.0.0")  # a public address: reading needs the token
    try:
        healthy = wait_until(lambda: (lambda r: r if r.status_code == 200 else None)(
            server.get("/healthz")), 60, "/healthz to say healthy", interval=0.2).json()
        assert healthy["healthy"] is True and healthy["problems"] == []
        (row,) = healthy["schedulers"]
        assert row["pid"] == scheduler.pid and row["state"] == "live"
        assert row["max_concurrent"] == 3 and row["running"] == 0
        # without the token: the verdict, not the hosts and pids behind it
        anonymous = server.get("/healthz", token=None)
        assert anonymous.status_code == 200
        assert anonymous.json() == {"healthy": True, "problems": []}

        stop(scheduler)  # it signs off: none is live
        verdict = json.loads(wf.run("status", "--check", "--json", check=False).stdout)
        assert [p["check"] for p in verdict["problems"]] == ["no_live_scheduler"]
        answer = server.get("/healthz")
        assert answer.status_code == 503
        assert answer.json()["problems"] == verdict["problems"]
        assert server.get("/healthz", token=None).json() == {
            "healthy": False, "problems": [{"check": "no_live_scheduler"}]}
        ready = server.get("/readyz", token=None)  # the database answers: ready
        assert ready.status_code == 200 and ready.json()["healthy"] is False
    finally:
        server.client.close()
        stop(server.process)
    assert "Traceback" not in wf.output_of("web")

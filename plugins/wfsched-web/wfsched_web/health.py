"""``/healthz`` and ``/readyz``: the verdict of ``wfsched status --check``, as JSON.

The same function (:func:`wfsched_core.ops.health.check_health`) answers here, on the
scheduler's metrics port and on the command line. ``/healthz`` is 200 when healthy, 503
otherwise; ``/readyz`` is 200 whenever the database can be read. Both answer without the
token, for probes and load balancers; the details (hosts, pids, workflow names, the
messages) only to a reader who may read the rest of the dashboard, the others get
``healthy`` and the names of the failed checks.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wfsched_core.ops.health import check_health


async def _verdict(request: Request, *, readiness: bool) -> JSONResponse:
    dashboard = request.app.state.dashboard
    health = await run_in_threadpool(check_health, dashboard.store, dashboard.settings)
    ok = health.database_reachable if readiness else health.healthy
    if request.app.state.guard.can_read(request):
        body = health.to_json()
    else:
        body = {"healthy": health.healthy,
                "problems": [{"check": p.check} for p in health.problems]}
    return JSONResponse(body, status_code=200 if ok else 503)


async def healthz(request: Request) -> JSONResponse:
    return await _verdict(request, readiness=False)


async def readyz(request: Request) -> JSONResponse:
    return await _verdict(request, readiness=True)


def health_routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"])]

"""The routes of the triage views (issue 19): re-run and retry, the runs × steps grid and
the schedulers panel, as JSON under ``/api/`` and as pages.

Kept apart from ``api.py`` and ``pages.py`` (which they reuse: the same token checks, the
same CSRF forms, the same confirmation step) so that each view can be read in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wfsched_core.base.errors import WfschedError
from wfsched_web import inputs, triage
from wfsched_web.api import api_endpoint, path_id, require_act, require_read
from wfsched_web.inputs import InputError
from wfsched_web.pages import error_page, execution_action, login_redirect, render

if TYPE_CHECKING:
    from wfsched_web.dashboard import Dashboard

MAX_GRID_RUNS = 100


def _dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


def grid_limit(request: Request) -> int:
    value = request.query_params.get("limit")
    if value in (None, ""):
        return triage.GRID_RUNS
    return inputs.parse_int("limit", value, 1, MAX_GRID_RUNS)


# --- JSON ------------------------------------------------------------------------------


@api_endpoint
async def rerun_api(request: Request) -> JSONResponse:
    require_act(request)
    execution_id = path_id(request)
    created = await run_in_threadpool(triage.rerun, _dashboard(request), execution_id)
    return JSONResponse(created, status_code=201)


@api_endpoint
async def grid_api(request: Request) -> JSONResponse:
    require_read(request)
    name = inputs.plain_text("workflow", request.path_params["name"])
    limit = grid_limit(request)
    return JSONResponse(await run_in_threadpool(triage.grid, _dashboard(request), name, limit))


@api_endpoint
async def schedulers_api(request: Request) -> JSONResponse:
    require_read(request)
    return JSONResponse(await run_in_threadpool(triage.schedulers, _dashboard(request)))


# --- pages -----------------------------------------------------------------------------


async def rerun_form(request: Request) -> Response:
    def done(execution_id: int, created: dict) -> tuple[str, str]:
        verb = "Retrying" if created["retry_of"] else "Re-running"
        return f"/executions/{created['id']}", f"{verb} #{execution_id} as #{created['id']}."

    dashboard = _dashboard(request)
    return await execution_action(request, "rerun", lambda i: triage.rerun(dashboard, i), done,
                                  back_default=f"/executions/{request.path_params['id']}")


async def grid_page(request: Request) -> Response:
    if not request.app.state.guard.can_read(request):
        return login_redirect(request)
    name = request.path_params["name"]
    try:
        limit = grid_limit(request)
        view = await run_in_threadpool(triage.grid, _dashboard(request),
                                       inputs.plain_text("workflow", name), limit)
    except InputError as exc:
        return error_page(request, 422, str(exc))
    except WfschedError as exc:
        return error_page(request, 404, str(exc))
    return render(request, "grid.html", {"page": "workflows", "grid": view, "limit": limit})


async def schedulers_page(request: Request) -> Response:
    if not request.app.state.guard.can_read(request):
        return login_redirect(request)
    rows = await run_in_threadpool(triage.schedulers, _dashboard(request))
    return render(request, "schedulers.html", {"page": "schedulers", "schedulers": rows})


def triage_routes() -> list[Route]:
    return [
        Route("/api/executions/{id:int}/rerun", rerun_api, methods=["POST"]),
        Route("/api/workflows/{name}/grid", grid_api, methods=["GET"]),
        Route("/api/schedulers", schedulers_api, methods=["GET"]),
        Route("/executions/{id:int}/rerun", rerun_form, methods=["POST"]),
        Route("/workflows/{name}/grid", grid_page, methods=["GET"]),
        Route("/schedulers", schedulers_page, methods=["GET"]),
    ]

"""The JSON API under ``/api/``: the routes of issue 10, with JSON errors only.

Store calls block, so each runs in Starlette's thread pool. Every failure a client can
cause answers JSON ``{"error": "..."}`` with its status code: 401/403 for the token, 404
for an unknown id or workflow, 409 for a finished execution, 422 for malformed input.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wfsched_core.base.errors import (
    DatabaseError,
    ExecutionStateError,
    UnknownExecutionError,
    UnknownWorkflowError,
    WfschedError,
)
from wfsched_web import inputs
from wfsched_web.dashboard import Dashboard
from wfsched_web.inputs import InputError
from wfsched_web.openapi import openapi_document
from wfsched_web.security import Guard

log = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[JSONResponse]]


class ApiError(Exception):
    """An answer other than 200, with its status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def status_for(exc: WfschedError) -> int:
    """The HTTP status of an error the core raised."""
    if isinstance(exc, (UnknownExecutionError, UnknownWorkflowError)):
        return 404
    if isinstance(exc, ExecutionStateError):
        return 409
    if isinstance(exc, DatabaseError):
        return 503
    return 422


def api_endpoint(handler: Endpoint) -> Endpoint:
    """Turn our exceptions into JSON answers; anything else is logged, answered 500."""

    @wraps(handler)
    async def endpoint(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, str(exc), exc.headers)
        except InputError as exc:
            return error_response(422, str(exc))
        except WfschedError as exc:  # messages from the store mask the password already
            return error_response(status_for(exc), str(exc))
        except Exception:
            log.exception("error answering %s %s", request.method, request.url.path)
            return error_response(500, "internal error; see the dashboard's log")

    return endpoint


def _dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


def _guard(request: Request) -> Guard:
    return request.app.state.guard


def check_bearer(request: Request) -> str | None:
    """The bearer token sent, if any: refused (429) while this address is limited for
    failed logins, counted as one when it does not match."""
    guard = _guard(request)
    sent = guard.bearer(request)
    if sent is None:
        return None
    client = guard.client(request)
    wait = guard.failed_logins.retry_after(client)
    if wait:
        raise ApiError(429, f"too many failed logins from {client}: try again in {wait} s",
                       {"Retry-After": str(wait)})
    if guard.acting_enabled and not guard.token_matches(sent):
        guard.failed_logins.failed(client, f"a wrong bearer token ({request.url.path})")
    return sent


def require_read(request: Request) -> None:
    """Parameters and logs: the token (or a browser session) unless reading is open."""
    guard = _guard(request)
    sent = check_bearer(request)
    if guard.read_open or guard.session_valid(request) or guard.token_matches(sent):
        return
    raise ApiError(401, "reading needs the token: send Authorization: Bearer <token>",
                   {"WWW-Authenticate": "Bearer"})


def require_act(request: Request) -> None:
    """Trigger, cancel, pause and resume: the bearer token, always.

    A browser session is not enough here: the API has no CSRF token, and a page on another
    port of the same host is "same-site" for a SameSite cookie. Pages act through their
    own forms, which carry one.
    """
    guard = _guard(request)
    if not guard.acting_enabled:
        raise ApiError(403, "trigger and cancel are disabled: the dashboard was started "
                            "without a token in its environment")
    sent = check_bearer(request)
    if sent is None:
        raise ApiError(401, "this needs the token: send Authorization: Bearer <token>",
                       {"WWW-Authenticate": "Bearer"})
    if not guard.token_matches(sent):
        raise ApiError(403, "wrong token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def path_id(request: Request) -> int:
    value = request.path_params["id"]
    if not 1 <= value <= inputs.MAX_ID:
        raise ApiError(404, f"no execution with id {value}")
    return value


@api_endpoint
async def list_workflows(request: Request) -> JSONResponse:
    require_read(request)
    return JSONResponse(await run_in_threadpool(_dashboard(request).workflows))


@api_endpoint
async def list_executions(request: Request) -> JSONResponse:
    require_read(request)
    where = inputs.execution_filter(request.query_params)
    page = await run_in_threadpool(_dashboard(request).executions, where)
    # the answer stays a list (as before); how many match in all is a header
    return JSONResponse(page["executions"], headers={"X-Total-Count": str(page["total"])})


@api_endpoint
async def get_execution(request: Request) -> JSONResponse:
    require_read(request)
    execution_id = path_id(request)
    return JSONResponse(await run_in_threadpool(_dashboard(request).execution, execution_id))


@api_endpoint
async def get_log(request: Request) -> JSONResponse:
    require_read(request)
    execution_id = path_id(request)
    offset = inputs.log_offset(request.query_params)
    return JSONResponse(await run_in_threadpool(_dashboard(request).read_log, execution_id,
                                                offset))


@api_endpoint
async def trigger(request: Request) -> JSONResponse:
    require_act(request)
    body = inputs.trigger_from_json(await request.body())
    ids = await run_in_threadpool(_dashboard(request).trigger, request.path_params["name"],
                                  body)
    return JSONResponse({"ids": ids}, status_code=201)


@api_endpoint
async def cancel(request: Request) -> JSONResponse:
    require_act(request)
    execution_id = path_id(request)
    return JSONResponse(await run_in_threadpool(_dashboard(request).cancel, execution_id))


@api_endpoint
async def pause(request: Request) -> JSONResponse:
    require_act(request)
    reason = inputs.pause_reason_from_json(await request.body())
    return JSONResponse(await run_in_threadpool(
        _dashboard(request).pause, request.path_params["name"], reason,
        _guard(request).client(request)))


@api_endpoint
async def resume(request: Request) -> JSONResponse:
    require_act(request)
    return JSONResponse(await run_in_threadpool(_dashboard(request).resume,
                                                request.path_params["name"]))


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


def api_routes() -> list[Route]:
    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/workflows", list_workflows, methods=["GET"]),
        Route("/api/executions", list_executions, methods=["GET"]),
        Route("/api/executions/{id:int}", get_execution, methods=["GET"]),
        Route("/api/executions/{id:int}/log", get_log, methods=["GET"]),
        Route("/api/workflows/{name}/trigger", trigger, methods=["POST"]),
        Route("/api/executions/{id:int}/cancel", cancel, methods=["POST"]),
        Route("/api/workflows/{name}/pause", pause, methods=["POST"]),
        Route("/api/workflows/{name}/resume", resume, methods=["POST"]),
    ]

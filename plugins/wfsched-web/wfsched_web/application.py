"""The ASGI application: routes, static files, security headers and error answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wfsched_core.base.errors import WfschedError
from wfsched_web.api import api_routes, error_response, status_for
from wfsched_web.dashboard import Dashboard
from wfsched_web.health import health_routes
from wfsched_web.pages import error_page, make_environment, page_routes
from wfsched_web.security import Guard
from wfsched_web.triage_routes import triage_routes

if TYPE_CHECKING:
    from wfsched_core.app import App

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]

# No inline script or style anywhere: even a bug in escaping could not run a script.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


@dataclass
class WebConfig:
    """How ``wfsched web`` was started."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    token_env: str = "WFSCHED_WEB_TOKEN"
    read_open: bool = False  # parameters and logs without the token (see command.py)


class SecurityHeaders:
    """Add the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code,
                                                               str(exc.detail))
    if _wants_json(request):
        return error_response(exc.status_code, f"{message}: {request.method} {request.url.path}",
                              dict(exc.headers or {}))
    try:
        return error_page(request, exc.status_code, message.capitalize() + ".")
    except Exception:  # the error page itself must not fail
        return HTMLResponse(message, status_code=exc.status_code)


async def wfsched_error(request: Request, exc: Exception) -> Response:
    """An error of ours outside the API (the database went away): its message, no trace."""
    assert isinstance(exc, WfschedError)
    status = status_for(exc)
    if _wants_json(request):
        return error_response(status, str(exc))
    return error_page(request, status, str(exc))


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("error answering %s %s", request.method, request.url.path, exc_info=exc)
    if _wants_json(request):
        return JSONResponse({"error": "internal error; see the dashboard's log"}, 500)
    return HTMLResponse("<h1>Internal error</h1><p>See the dashboard's log.</p>", 500)


def create_app(app: App, config: WebConfig) -> Starlette:
    """The dashboard for ``app``'s store; nothing global, everything hangs off ``state``."""
    from wfsched_web.command import is_loopback

    allowed_hosts = [*LOOPBACK_NAMES, config.host] if is_loopback(config.host) else ["*"]
    web = Starlette(
        routes=[*api_routes(), *page_routes(), *triage_routes(), *health_routes(),
                Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(SecurityHeaders),
                    # A page on another site must not reach a loopback dashboard through
                    # a DNS name rebound to 127.0.0.1: only loopback Host headers pass.
                    Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)],
        exception_handlers={HTTPException: http_error, WfschedError: wfsched_error,
                            Exception: server_error},
    )
    web.state.config = config
    web.state.dashboard = Dashboard(app)
    web.state.guard = Guard(token=config.token, read_open=config.read_open)
    web.state.templates = make_environment()
    return web

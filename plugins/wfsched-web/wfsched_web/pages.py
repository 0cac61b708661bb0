"""The HTML pages: workflows, executions, one execution, the timeline, and the login form.

Rendered on the server with Jinja2 (autoescaping on: whatever a workflow printed or raised
is shown as text); a small script (``static/dashboard.js``) keeps them live by polling the
JSON API. Acting from a page takes a login session and a CSRF token in the form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from wfsched_core.base.errors import WfschedError
from wfsched_web import inputs
from wfsched_web.api import status_for
from wfsched_web.dashboard import Dashboard
from wfsched_web.formatting import register_filters
from wfsched_web.inputs import InputError
from wfsched_web.security import Guard
from wfsched_web.timeline import render_svg

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "wfsched_flash"


def make_environment() -> Environment:
    """Jinja2 with autoescaping for every template (they are all HTML)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    register_filters(env)
    return env


def _dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


def _guard(request: Request) -> Guard:
    return request.app.state.guard


def safe_next(value: str | None, default: str = "/executions") -> str:
    """A local path to go back to; anything that could leave the site is replaced."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def render(request: Request, template: str, context: dict[str, Any],
           status: int = 200) -> HTMLResponse:
    guard = _guard(request)
    flash = request.cookies.get(FLASH_COOKIE)
    page = dict(
        context,
        request=request,
        can_act=guard.session_valid(request),
        acting_enabled=guard.acting_enabled,
        token_env=request.app.state.config.token_env,
        csrf=guard.csrf_token(request),
        database=_dashboard(request).database,
        flash=unquote(flash) if flash else None,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )
    html = request.app.state.templates.get_template(template).render(page)
    response = HTMLResponse(html, status_code=status)
    guard.remember_csrf(request, response)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(location: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash[:300]), httponly=True,
                            samesite="strict", path="/")
    return response


def login_redirect(request: Request, next_path: str | None = None) -> RedirectResponse:
    target = next_path or request.url.path
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "message": message}, status)


def _field(form: Any, name: str) -> str | None:
    """A posted text field (None when absent, or when a file was posted in its place)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


async def _acting_form(request: Request) -> tuple[Any, Response | None]:
    """The posted form, or the answer to give when it may not act."""
    form = await request.form()
    guard = _guard(request)
    if not guard.csrf_valid(request, _field(form, "csrf")):
        return form, error_page(request, 403, "This form has expired or did not come from "
                                              "this dashboard. Reload the page and try again.")
    if not guard.session_valid(request):
        return form, login_redirect(request, safe_next(_field(form, "next")))
    return form, None


# --- reading ---------------------------------------------------------------------------


async def home(request: Request) -> Response:
    return RedirectResponse("/executions", status_code=307)


async def workflows_page(request: Request, *, error: str | None = None,
                         failed: str | None = None, form: Any = None,
                         status: int = 200) -> Response:
    if not _guard(request).can_read(request):
        return login_redirect(request)
    rows = await run_in_threadpool(_dashboard(request).workflows)
    return render(request, "workflows.html", {
        "page": "workflows", "workflows": rows, "error": error, "failed": failed,
        "form": form or {}}, status)


async def executions_page(request: Request) -> Response:
    if not _guard(request).can_read(request):
        return login_redirect(request)
    dashboard = _dashboard(request)
    error = None
    try:
        where = inputs.execution_filter(request.query_params)
    except InputError as exc:
        where, error = inputs.ExecutionFilter(), str(exc)
    found = await run_in_threadpool(dashboard.executions, where)
    return render(request, "executions.html", {
        "page": "executions", "executions": found["executions"], "total": found["total"],
        "where": where, "error": error, "statuses": inputs.STATUSES,
        "workflow_names": dashboard.workflow_names(), "pages": paging(where, found["total"])},
        422 if error else 200)


def paging(where: inputs.ExecutionFilter, total: int) -> dict[str, Any]:
    """"N–M of T" and the links to the previous and next pages of the list."""
    shown_to = min(where.offset + where.limit, total)
    previous = (f"/executions?{urlencode(where.query(offset=max(where.offset - where.limit, 0) or None))}"
                if where.offset > 0 else None)
    following = (f"/executions?{urlencode(where.query(offset=where.offset + where.limit))}"
                 if where.offset + where.limit < total else None)
    return {"first": where.offset + 1 if shown_to else 0, "last": shown_to, "total": total,
            "previous": previous, "next": following}


async def execution_page(request: Request) -> Response:
    if not _guard(request).can_read(request):
        return login_redirect(request)
    execution_id = request.path_params["id"]
    dashboard = _dashboard(request)
    try:
        if execution_id > inputs.MAX_ID:
            raise InputError("no such execution")
        execution = await run_in_threadpool(dashboard.execution, execution_id)
        log_chunk = await run_in_threadpool(dashboard.read_log, execution_id, None)
    except (WfschedError, InputError):
        return error_page(request, 404, f"There is no execution #{execution_id}.")
    return render(request, "execution.html", {
        "page": "executions", "execution": execution, "log": log_chunk})


async def timeline_page(request: Request) -> Response:
    if not _guard(request).can_read(request):
        return login_redirect(request)
    return render(request, "timeline.html", {
        "page": "timeline", "svg": await run_in_threadpool(_timeline_svg, request)})


async def timeline_svg(request: Request) -> Response:
    if not _guard(request).can_read(request):
        return Response("reading needs the token", status_code=401, media_type="text/plain")
    svg = await run_in_threadpool(_timeline_svg, request)
    return Response(svg, media_type="image/svg+xml")


def _timeline_svg(request: Request) -> str:
    dashboard = _dashboard(request)
    return render_svg(dashboard.timeline_rows(), dashboard.scheduler_labels())


# --- acting ----------------------------------------------------------------------------


async def trigger_form(request: Request) -> Response:
    form, refusal = await _acting_form(request)
    if refusal is not None:
        return refusal
    name = request.path_params["name"]
    try:
        wanted = inputs.trigger_from_form(form)
        ids = await run_in_threadpool(_dashboard(request).trigger, name, wanted)
    except (InputError, WfschedError) as exc:
        status = 422 if isinstance(exc, InputError) else status_for(exc)
        return await workflows_page(request, error=str(exc), failed=name, form=form,
                                    status=status)
    shown = ", ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "")
    noun = "execution" if len(ids) == 1 else "executions"
    return redirect("/executions", f"Queued {len(ids)} {noun} of {name}: {shown}")


async def confirmation(request: Request, form: Any, action: str) -> Response | None:
    """The page that asks "really?" before ``action`` (cancel, rerun) on an execution, or
    None when the form already carries the answer (``confirm=yes``).

    A server-side step rather than a script's ``confirm()``: it works without JavaScript,
    and the API (bearer token only) is for callers that already decided.
    """
    if form.get("confirm") == "yes":
        return None
    execution_id = request.path_params["id"]
    try:
        if execution_id > inputs.MAX_ID:
            raise InputError("no such execution")
        execution = await run_in_threadpool(_dashboard(request).execution, execution_id)
    except (InputError, WfschedError):
        return error_page(request, 404, f"There is no execution #{execution_id}.")
    return render(request, "confirm.html", {
        "page": "executions", "action": action, "execution": execution,
        "next": safe_next(_field(form, "next"), f"/executions/{execution_id}")})


async def execution_action(request: Request, action: str, act: Callable[[int], Any],
                           done: Callable[[int, Any], tuple[str | None, str]],
                           back_default: str | None = None) -> Response:
    """An acting form on one execution (cancel, rerun): the CSRF token and the session,
    the confirmation step, ``act(id)`` in the thread pool, then a redirect with the
    message ``done(id, result)`` gives (to its location, or back where the form was)."""
    form, refusal = await _acting_form(request)
    if refusal is not None:
        return refusal
    asked = await confirmation(request, form, action)
    if asked is not None:
        return asked
    execution_id = request.path_params["id"]
    back = safe_next(_field(form, "next"), back_default or "/executions")
    if execution_id > inputs.MAX_ID:
        return error_page(request, 404, f"There is no execution #{execution_id}.")
    try:
        result = await run_in_threadpool(act, execution_id)
    except WfschedError as exc:
        verb = "re-run" if action == "rerun" else action
        return redirect(back, f"Could not {verb} #{execution_id}: {exc}")
    location, message = done(execution_id, result)
    return redirect(location or back, message)


async def cancel_form(request: Request) -> Response:
    return await execution_action(
        request, "cancel", _dashboard(request).cancel,
        lambda execution_id, result: (None, f"Execution #{execution_id} is {result['status']}."))


async def pause_form(request: Request) -> Response:
    """The Pause and Resume buttons of the workflows page (token session and CSRF)."""
    form, refusal = await _acting_form(request)
    if refusal is not None:
        return refusal
    name = request.path_params["name"]
    dashboard = _dashboard(request)
    try:
        if request.url.path.endswith("/resume"):
            await run_in_threadpool(dashboard.resume, name)
            return redirect("/workflows", f"Resumed {name}.")
        reason = inputs.pause_reason(form.get("reason"))
        await run_in_threadpool(dashboard.pause, name, reason,
                                _guard(request).client(request))
    except (InputError, WfschedError) as exc:
        status = 422 if isinstance(exc, InputError) else status_for(exc)
        return await workflows_page(request, error=str(exc), failed=name, status=status)
    return redirect("/workflows", f"Paused {name}: its pending executions wait.")


# --- logging in ------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {
        "page": "login", "next": safe_next(request.query_params.get("next")), "error": None})


async def login_submit(request: Request) -> Response:
    form = await request.form()
    guard = _guard(request)
    next_path = safe_next(_field(form, "next"))
    if not guard.csrf_valid(request, _field(form, "csrf")):
        return error_page(request, 403, "This form has expired. Reload the page and try again.")
    client = guard.client(request)
    wait = guard.failed_logins.retry_after(client)
    if wait:
        answer = render(request, "login.html", {
            "page": "login", "next": next_path,
            "error": f"Too many failed logins from {client}: try again in {wait} s."}, 429)
        answer.headers["Retry-After"] = str(wait)
        return answer
    if not guard.token_matches(_field(form, "token")):
        if guard.acting_enabled:
            guard.failed_logins.failed(client, "a wrong token on the login form")
        message = ("wrong token" if guard.acting_enabled else
                   "this dashboard was started without a token: acting is disabled")
        return render(request, "login.html", {"page": "login", "next": next_path,
                                              "error": message}, 403)
    response = redirect(next_path, "Logged in: you can read, trigger and cancel.")
    guard.log_in(response)
    return response


async def logout_submit(request: Request) -> Response:
    form = await request.form()
    if not _guard(request).csrf_valid(request, _field(form, "csrf")):
        return error_page(request, 403, "This form has expired. Reload the page and try again.")
    response = redirect("/executions", "Logged out.")
    Guard.log_out(response)
    return response


def page_routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/workflows", workflows_page, methods=["GET"]),
        Route("/workflows/{name}/trigger", trigger_form, methods=["POST"]),
        Route("/executions", executions_page, methods=["GET"]),
        Route("/executions/{id:int}", execution_page, methods=["GET"]),
        Route("/executions/{id:int}/cancel", cancel_form, methods=["POST"]),
        Route("/workflows/{name}/pause", pause_form, methods=["POST"]),
        Route("/workflows/{name}/resume", pause_form, methods=["POST"]),
        Route("/timeline", timeline_page, methods=["GET"]),
        Route("/timeline.svg", timeline_svg, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout_submit, methods=["POST"]),
    ]

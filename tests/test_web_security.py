"""The dashboard's doors (issue 14): reading needs the token, secrets are masked, bad
bodies are 422, failed logins are logged and limited, ``Origin: null`` is foreign."""

from __future__ import annotations

import re
from typing import Any

import pytest
import test_web_support as support
from helpers import Wfsched
from test_web_support import TOKEN, WebServer, start_web, stop

from wfsched_core.authoring.secrets import MASK

web = support.web

SECRET = "sk-live-5ecr3t-value"
READ_API = ["/api/workflows", "/api/executions", "/api/executions/{id}",
            "/api/executions/{id}/log", "/api/workflows/noop/grid", "/api/schedulers"]
READ_PAGES = ["/workflows", "/executions", "/executions/{id}", "/timeline", "/timeline.svg",
              "/workflows/noop/grid", "/schedulers"]


def _login_csrf(server: WebServer) -> str:
    """The CSRF value of the login form (the client keeps the CSRF cookie)."""
    page = server.get("/login", token=None)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _log_in(server: WebServer, token: str, **headers: str) -> Any:
    csrf = _login_csrf(server)
    return server.client.post("/login", data={"csrf": csrf, "token": token,
                                              "next": "/executions"},
                              headers=headers, follow_redirects=False)


@pytest.fixture
def secret_execution(wf: Wfsched) -> int:
    wf.write_config('[workflows.noop]\nsecret_params = ["api_key"]\n')
    (execution_id,) = wf.trigger("noop", api_key=SECRET, region="eu")
    return execution_id


def test_reading_needs_the_token_on_loopback_too(wf: Wfsched, secret_execution: int) -> None:
    server = start_web(wf)  # a token configured, the default 127.0.0.1 bind
    try:
        for path in READ_API:
            path = path.format(id=secret_execution)
            for token in (None, "wrong-token"):
                answer = server.get(path, token=token)
                assert answer.status_code == 401, (path, token, answer.status_code)
                assert SECRET not in answer.text and "region" not in answer.text
        for path in READ_PAGES:
            path = path.format(id=secret_execution)
            answer = server.get(path, token=None, follow_redirects=False)
            assert answer.status_code in (303, 401), (path, answer.status_code)
            assert SECRET not in answer.text
        # with the token: everything, secrets masked
        detail = server.get(f"/api/executions/{secret_execution}").json()
        assert detail["params"] == {"api_key": MASK, "region": "eu"}
        listed = server.get("/api/executions").json()
        assert listed[0]["params"] == {"api_key": MASK, "region": "eu"}
        # a browser session from the login form reads the pages, masked
        assert _log_in(server, TOKEN).status_code == 303
        for path in ("/executions", f"/executions/{secret_execution}"):
            page = server.get(path, token=None)
            assert page.status_code == 200, path
            assert SECRET not in page.text and MASK in page.text
    finally:
        server.client.close()
        stop(server.process)


def test_read_open_restores_open_reading_on_loopback(wf: Wfsched,
                                                     secret_execution: int) -> None:
    wf.write_config('[workflows.noop]\nsecret_params = ["api_key"]\n[web]\nread_open = true\n')
    server = start_web(wf)
    try:
        answer = server.get(f"/api/executions/{secret_execution}", token=None)
        assert answer.status_code == 200
        assert answer.json()["params"]["api_key"] == MASK
        assert server.post("/api/workflows/noop/trigger", token=None, json={}).status_code == 401
    finally:
        server.client.close()
        stop(server.process)
    public = wf.run("web", "--host", "0.0.0.0", "--port", "1", check=False)
    assert public.returncode == 2 and "read_open" in public.stderr
    wf.write_config("[web]\nread_open = 'yes'\n")
    wrong = wf.run("web", "--port", "1", check=False)
    assert wrong.returncode == 2 and "[web] read_open must be true or false" in wrong.stderr


def test_malformed_bodies_and_non_string_params_are_422(web: WebServer) -> None:
    trigger = "/api/workflows/noop/trigger"
    deep = b"[" * 100_000
    bodies = {
        deep: "nested too deeply",
        b'{"params": ' + b"[" * 100_000 + b"}": "nested too deeply",
        b'{"params": {"k": [1]}}': "params.k must be a string",
        b'{"params": {"k": 1}}': "params.k must be a string",
        b'{"params": {"k": null}}': "params.k must be a string",
        b'{"params": {"bad key": "v"}}': "not a valid parameter name",
        b'{"params": {"k": "a\\u0000b"}}': "NUL",
        b"\xff\xfe": "not valid JSON",
    }
    for body, message in bodies.items():
        answer = web.post(trigger, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (body[:40], answer.status_code, answer.text[:200])
        assert message in answer.json()["error"], (body[:40], answer.text[:200])
    assert web.get("/api/executions").json() == []
    assert "RecursionError" not in web.wf.output_of("web")


def test_failed_logins_are_logged_and_limited(web: WebServer) -> None:
    statuses = [_log_in(web, f"guess-{n}").status_code for n in range(12)]
    assert statuses[:support_limit()] == [403] * support_limit()
    assert statuses[-1] == 429, statuses
    # while limited, even the right token waits: a guesser learns nothing
    limited = _log_in(web, TOKEN)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # wrong bearer tokens count as failed logins too
    assert web.get("/api/executions", token="wrong").status_code == 429
    output = web.wf.output_of("web")
    assert output.count("failed login from 127.0.0.1") >= support_limit()
    assert "guess-" not in output and TOKEN not in output


def support_limit() -> int:
    from wfsched_web.security import FAILED_LOGIN_LIMIT

    return FAILED_LOGIN_LIMIT


def test_origin_null_is_foreign(web: WebServer) -> None:
    refused = _log_in(web, TOKEN, Origin="null")
    assert refused.status_code == 403
    assert "wfsched_session" not in refused.cookies
    other = _log_in(web, TOKEN, Origin="http://evil.example")
    assert other.status_code == 403
    ok = _log_in(web, TOKEN, Origin=web.url)
    assert ok.status_code == 303 and "wfsched_session" in ok.cookies

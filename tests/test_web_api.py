"""The dashboard's JSON API through real HTTP against ``wfsched web`` and a scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_web_support as support
from helpers import Wfsched, wait_until
from test_web_support import TOKEN, WebServer, start_web, stop

web = support.web  # fixtures shared by the test_web_* modules
scheduler = support.scheduler

CONTRACT_FIELDS = {"id", "workflow", "status", "priority", "attempt", "params", "created_at",
                   "started_at", "finished_at", "pid", "host", "spawner", "exit_code", "error"}


def test_trigger_watch_cancel_and_read_logs(web: WebServer, scheduler, work_dir: Path) -> None:
    answer = web.post("/api/workflows/noop/trigger", json={"count": 3, "priority": 4})
    assert answer.status_code == 201, answer.text
    ids = answer.json()["ids"]
    assert len(ids) == 3
    for execution_id in ids:
        done = web.wait_for_status(execution_id, "completed")
        assert set(done) >= CONTRACT_FIELDS
        assert done["priority"] == 4 and done["pid"] and done["host"]
        assert [s["name"] for s in done["steps"]] == ["nothing"]
    listed = web.get("/api/executions", params={"workflow": "noop", "status": "completed"})
    assert {e["id"] for e in listed.json()} == set(ids)
    assert all(set(e) >= CONTRACT_FIELDS for e in listed.json())

    # cancel a running one; its log can be read while it runs and after
    (hang_id,) = web.post("/api/workflows/hang/trigger",
                          json={"params": {"dir": str(work_dir)}}).json()["ids"]
    web.wait_for_status(hang_id, "running")
    wait_until(lambda: list(work_dir.glob("started-*.json")), 30, "the hang step to start")
    cancelled = web.post(f"/api/executions/{hang_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    again = web.post(f"/api/executions/{hang_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]

    (chatty_id,) = web.post("/api/workflows/chatty/trigger",
                            json={"params": {"fail": "1"}}).json()["ids"]
    failed = web.wait_for_status(chatty_id, "failed")
    assert failed["error"] and "<b>bad</b> input" in failed["error"]
    assert "Traceback" in failed["error_detail"]
    log = web.get(f"/api/executions/{chatty_id}/log").json()
    assert "stdout line: <script>alert(1)</script>" in log["text"]
    assert log["next_offset"] == log["size"] > 0
    rest = web.get(f"/api/executions/{chatty_id}/log", params={"offset": log["next_offset"]})
    assert rest.json()["text"] == ""
    part = web.get(f"/api/executions/{chatty_id}/log", params={"offset": 5}).json()
    assert part["offset"] == 5 and log["text"].endswith(part["text"])


def test_errors_for_bad_input_and_tokens(web: WebServer, wf: Wfsched) -> None:
    trigger = "/api/workflows/noop/trigger"
    missing = web.post(trigger, token=None, json={})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert web.post(trigger, token="wrong", json={}).status_code == 403
    assert web.post("/api/executions/1/cancel", token=None).status_code == 401
    assert web.post("/api/executions/1/cancel", token="wrong").status_code == 403
    bad_bodies = {
        b"{not json": "not valid JSON",
        b"[1, 2]": "must be a JSON object",
        b'{"count": 0}': "count must be between 1",
        b'{"count": "many"}': "count must be an integer",
        b'{"count": true}': "not a boolean",
        b'{"priority": 1e99}': "priority must be an integer",
        b'{"params": [1]}': "params must be a JSON object",
        b'{"colour": "red"}': "unknown field(s): colour",
    }
    for body, message in bad_bodies.items():
        answer = web.post(trigger, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (body, answer.text)
        assert message in answer.json()["error"], (body, answer.text)
    unknown = web.post("/api/workflows/no_such_flow/trigger", json={})
    assert unknown.status_code == 404 and "unknown workflow 'no_such_flow'" in unknown.text
    for path in ("/api/executions/424242", "/api/executions/424242/log",
                 "/api/executions/99999999999999999999999", "/api/nothing/here"):
        answer = web.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"
    assert web.post("/api/executions/424242/cancel").status_code == 404
    for query in ({"limit": "abc"}, {"limit": "0"}, {"status": "sleeping"},
                  {"workflow": "a\x00b"}):
        answer = web.get("/api/executions", params=query)
        assert answer.status_code == 422, query
        assert answer.json()["error"]
    assert web.get("/api/executions/1/log", params={"offset": "-1"}).status_code == 422
    assert web.get("/api/workflows/noop/trigger").status_code == 405
    # nothing was queued by any of that
    assert web.get("/api/executions").json() == []
    assert wf.store.list_executions() == []


def test_reading_is_open_on_loopback_and_acting_needs_a_token(wf: Wfsched) -> None:
    server = start_web(wf, token=None)
    try:
        assert server.get("/api/workflows").status_code == 200
        refused = server.post("/api/workflows/noop/trigger", token="anything", json={})
        assert refused.status_code == 403 and "disabled" in refused.json()["error"]
        # a page that a rebound DNS name would load is refused by the Host check
        assert server.get("/api/workflows", headers={"Host": "evil.example"}).status_code == 400
    finally:
        server.client.close()
        stop(server.process)


def test_refuses_a_public_address_without_a_token(wf: Wfsched) -> None:
    result = wf.run("web", "--host", "0.0.0.0", "--port", "1", check=False)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr
    assert "WFSCHED_WEB_TOKEN" in result.stderr and "Traceback" not in result.stderr
    wf.extra_env["OTHER_TOKEN"] = ""
    other = wf.run("web", "--host", "192.0.2.1", "--token-env", "OTHER_TOKEN", check=False)
    assert other.returncode == 2 and "OTHER_TOKEN" in other.stderr


def test_public_address_with_a_token_needs_it_for_reading(wf: Wfsched) -> None:
    server = start_web(wf, "--host", "0.0.0.0")
    try:
        assert server.get("/api/executions", token=None).status_code == 401
        ok = server.get("/api/executions", token=None,
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        page = server.get("/executions", token=None, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    finally:
        server.client.close()
        stop(server.process)


@pytest.mark.servers
@pytest.mark.parametrize("db_kind", ["postgresql"])  # trust auth: any password is accepted
def test_the_database_password_never_shows(wf: Wfsched, db_kind: str) -> None:
    secret = "Pw-0f-the-DB"
    wf.database_url = wf.database_url.replace("postgres@", f"postgres:{secret}@")
    wf.run("db", "upgrade")
    server = start_web(wf)
    try:
        (execution_id,) = server.post("/api/workflows/noop/trigger", json={}).json()["ids"]
        seen = [server.get(path).text for path in (
            "/workflows", "/executions", f"/executions/{execution_id}", "/timeline",
            "/api/workflows", "/api/executions", f"/api/executions/{execution_id}",
            "/openapi.json", "/login", "/nothing")]
        assert "postgresql+psycopg://postgres:***@" in seen[0]
        assert not any(secret in text for text in seen)
    finally:
        server.client.close()
        stop(server.process)
    assert secret not in wf.output_of("web")
    assert "***" in wf.output_of("web")


def test_timeline_query_on_every_database(wf: Wfsched, db_kind: str) -> None:
    """The timeline's read query (the store's recent_started) and the lanes, on each kind
    of database."""
    from wfsched_web.timeline import render_svg

    if db_kind != "sqlite":
        wf.run("db", "upgrade")
    ids = wf.trigger("noop", count=3)
    wf.run("scheduler", "--once", "--max-concurrent", "3")
    rows = wf.store.recent_started(200)
    assert sorted(row["id"] for row in rows) == sorted(ids)
    assert [row["started_at"] for row in rows] == sorted(row["started_at"] for row in rows)
    assert all(row["claimed_by"] and row["finished_at"] for row in rows)
    svg = render_svg(rows, {})
    for execution_id in ids:
        assert f'href="/executions/{execution_id}"' in svg
    assert wf.store.recent_started(2) == rows[1:]


def test_an_unreachable_database_is_one_line_without_the_password(wf: Wfsched) -> None:
    result = wf.run("--database-url", "postgresql://someone:Hunter2pw@127.0.0.1:1/nothing",
                    "web", "--port", "1", check=False, timeout=60)
    assert result.returncode == 1
    assert "cannot use the database postgresql+psycopg://someone:***@127.0.0.1:1/nothing" \
        in result.stderr
    assert "Hunter2pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_dependent_run_names_the_run_that_queued_it(web: WebServer, wf: Wfsched) -> None:
    wf.write_config('[workflows.read_upstream]\ndepends_on = ["produce"]\n')
    (produce_id,) = wf.trigger("produce")
    wf.run("scheduler", "--once")
    (dependent,) = wf.json("executions", "list", "--workflow", "read_upstream")
    detail = web.get(f"/api/executions/{dependent['id']}").json()
    assert detail["triggered_by"] == produce_id
    page = web.get(f"/executions/{dependent['id']}")
    assert page.status_code == 200, page.text
    assert f'Triggered by</dt><dd><a href="/executions/{produce_id}">#{produce_id}</a>' \
        in page.text


def test_the_execution_page_shows_the_version_that_ran(web: WebServer, wf: Wfsched) -> None:
    import wfsched_core

    (execution_id,) = wf.trigger("noop")
    wf.run("scheduler", "--once")
    detail = web.get(f"/api/executions/{execution_id}").json()
    assert (detail["workflow_package"], detail["workflow_version"]) == \
        ("wfsched-testworkflows", "0.1.0")
    page = web.get(f"/executions/{execution_id}")
    assert page.status_code == 200, page.text
    assert ('<dd id="version">wfsched-testworkflows==0.1.0 '
            f'(wfsched-core {wfsched_core.__version__})</dd>') in page.text

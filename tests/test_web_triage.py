"""The dashboard's triage views over real HTTP (issue 19): search and paging with a total,
the error's first line, every step from the start, re-run and retry, the confirmation
step before cancelling or re-running from a page, the runs × steps grid and the
schedulers panel."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import test_web_support as support
from helpers import Wfsched, wait_until
from test_web_support import TOKEN, WebServer, start_web, stop

from wfsched_core.base.records import utcnow

web = support.web
scheduler = support.scheduler


def _total(answer: Any) -> int:
    assert answer.status_code == 200, answer.text
    return int(answer.headers["x-total-count"])


def _ids(answer: Any) -> list[int]:
    return [row["id"] for row in answer.json()]


def _browser_session(server: WebServer) -> str:
    """Log the client in through the form, as a browser does; return the CSRF value."""
    login = server.get("/login", token=None)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    answer = server.client.post("/login", data={"csrf": csrf, "token": TOKEN,
                                                "next": "/executions"},
                                follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf


def test_search_and_paging_with_a_total(web: WebServer, wf: Wfsched) -> None:
    days = [wf.trigger("noop", day=f"2026-11-0{n}")[0] for n in range(1, 8)]
    marks = wf.trigger("mark", count=3, dir="/tmp/x")
    (percent,) = wf.trigger("noop", rate="50%_off")
    everything = sorted([*days, *marks, percent], reverse=True)

    # pages of 4, newest first, "N of M" in the header; together they are the whole list
    seen: list[int] = []
    for offset in (0, 4, 8):
        answer = web.get("/api/executions", params={"limit": 4, "offset": offset})
        assert _total(answer) == 11
        seen += _ids(answer)
    assert seen == everything
    assert _ids(web.get("/api/executions", params={"offset": 11})) == []

    def found(**query: Any) -> tuple[list[int], int]:
        answer = web.get("/api/executions", params=query)
        return _ids(answer), _total(answer)

    assert found(workflow="noop") == (sorted([*days, percent], reverse=True), 8)
    assert found(q="2026-11-03") == ([days[2]], 1)
    assert found(q="DAY", workflow="noop", limit=2) == (sorted(days, reverse=True)[:2], 7)
    # LIKE's wildcards are plain text in a search
    assert found(q="50%_") == ([percent], 1)
    assert found(q="%") == ([percent], 1)
    assert found(q="_")[1] == 1
    assert found(status="running") == ([], 0)
    # a time range on the creation time (UTC)
    today = utcnow().date()
    assert found(since=today.isoformat(), until=today.isoformat())[1] == 11
    assert found(until=today.isoformat(), since=(today - timedelta(days=3)).isoformat())[1] == 11
    assert found(since=(today + timedelta(days=1)).isoformat()) == ([], 0)
    assert found(until="2001-01-01T00:00") == ([], 0)
    later = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    assert found(until=later)[1] == 11
    for query, message in [({"since": "yesterday"}, "since must be a UTC time"),
                           ({"since": "2026-02-30"}, "since: day is out of range"),
                           ({"since": "2026-11-02", "until": "2026-11-01"}, "until must be later"),
                           ({"offset": "-1"}, "offset must be between"),
                           ({"q": "x" * 201}, "q must be at most 200")]:
        answer = web.get("/api/executions", params=query)
        assert answer.status_code == 422 and message in answer.json()["error"], query

    # the page says which part of how many it shows and links to the pages around it
    page = web.get("/executions", params={"limit": 4, "offset": 4, "workflow": "noop"})
    assert page.status_code == 200
    assert re.search(r'id="shown"[^>]*>5–8 of 8<', page.text), page.text
    assert 'rel="prev" href="/executions?workflow=noop&amp;limit=4"' in page.text
    assert 'rel="next"' not in page.text
    searched = web.get("/executions", params={"q": "2026-11-05"})
    assert f'data-id="{days[4]}"' in searched.text and 'id="shown"' in searched.text
    assert f'data-id="{days[3]}"' not in searched.text
    assert re.search(r'id="shown"[^>]*>1–1 of 1<', searched.text)
    bad = web.get("/executions", params={"since": "soon"})
    assert bad.status_code == 422 and "since must be a UTC time" in bad.text


def test_a_text_search_does_not_look_into_secret_parameters(wf: Wfsched) -> None:
    wf.write_config('[workflows.noop]\nsecret_params = ["api_key"]\n')
    (hidden,) = wf.trigger("noop", api_key="sk-live-4242", region="eu")
    (plain,) = wf.trigger("mark", note="sk-live-4242")
    server = start_web(wf)
    try:
        answer = server.get("/api/executions", params={"q": "sk-live"})
        assert _ids(answer) == [plain] and _total(answer) == 1
        assert server.get("/api/executions", params={"q": "4242"}).json()[0]["id"] == plain
        # the workflow filter still finds it, masked
        (row,) = server.get("/api/executions", params={"workflow": "noop"}).json()
        assert row["id"] == hidden and row["params"]["api_key"] == "***"
    finally:
        server.client.close()
        stop(server.process)


def test_failed_rows_carry_the_errors_first_line_and_steps_are_listed_from_the_start(
        web: WebServer, wf: Wfsched) -> None:
    (pending,) = wf.trigger("produce")
    detail = web.execution(pending)
    assert [(s["name"], s["status"], s["started_at"]) for s in detail["steps"]] == [
        ("count", "pending", None), ("label", "pending", None)]
    page = web.get(f"/executions/{pending}").text
    assert page.count('class="not-started"') == 2

    (broken,) = wf.trigger("produce", n="not-a-number")
    (chatty,) = wf.trigger("chatty", fail="1")
    wf.run("scheduler", "--once", check=False)
    wf.wait_for_status(broken, "failed")
    steps = web.execution(broken)["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [("count", "failed"),
                                                         ("label", "not run")]
    assert steps[1]["started_at"] is None and steps[0]["started_at"] is not None
    assert [(s["name"], s["status"]) for s in web.execution(pending)["steps"]] == [
        ("count", "completed"), ("label", "completed")]

    failed = {row["id"]: row for row in web.get("/api/executions",
                                                params={"status": "failed"}).json()}
    assert set(failed) == {broken, chatty}
    error = web.execution(chatty)["error"]
    assert failed[chatty]["error_line"] == error.strip().splitlines()[0]
    assert "ValueError" in failed[chatty]["error_line"] or "bad" in failed[chatty]["error_line"]
    assert "\n" not in failed[broken]["error_line"]
    listing = web.get("/executions", params={"status": "failed"}).text
    assert 'class="error-line small"' in listing
    assert "&lt;b&gt;bad&lt;/b&gt; input" in listing  # escaped, never markup


def test_rerun_and_retry_through_the_api(web: WebServer, wf: Wfsched) -> None:
    (failed,) = wf.trigger("chatty", fail="1", note="again")
    (done,) = wf.trigger("noop", day="2026-11-28")
    wf.run("scheduler", "--once", check=False)
    wf.wait_for_status(failed, "failed")

    retried = web.post(f"/api/executions/{failed}/rerun")
    assert retried.status_code == 201, retried.text
    body = retried.json()
    assert body["source"] == failed and body["retry_of"] == failed and body["attempt"] == 2
    new = web.execution(body["id"])
    assert new["status"] == "pending" and new["params"] == {"fail": "1", "note": "again"}
    assert new["retry_of"] == failed and new["trigger"] == "manual"

    rerun = web.post(f"/api/executions/{done}/rerun").json()
    again = web.execution(rerun["id"])
    assert again["attempt"] == 1 and again["retry_of"] is None
    assert again["params"] == {"day": "2026-11-28"} and again["workflow"] == "noop"

    # not while it may still run; not without the token; not an unknown id
    busy = web.post(f"/api/executions/{rerun['id']}/rerun")
    assert busy.status_code == 409 and "is pending" in busy.json()["error"]
    assert web.post(f"/api/executions/{done}/rerun", token=None).status_code == 401
    assert web.post(f"/api/executions/{done}/rerun", token="wrong").status_code == 403
    assert web.post("/api/executions/424242/rerun").status_code == 404
    assert _total(web.get("/api/executions")) == 4  # nothing else was queued


def test_pages_ask_before_cancelling_or_rerunning(web: WebServer, wf: Wfsched) -> None:
    (pending,) = wf.trigger("noop", day="1")
    csrf = _browser_session(web)

    # the first post only asks: nothing is cancelled yet
    asked = web.client.post(f"/executions/{pending}/cancel",
                            data={"csrf": csrf, "next": "/executions"}, follow_redirects=True)
    assert asked.status_code == 200
    assert f"Cancel #{pending}?" in asked.text and 'name="confirm" value="yes"' in asked.text
    assert "The execution will not start." in asked.text
    assert web.execution(pending)["status"] == "pending"
    # the answer, still with the CSRF token: done
    done = web.client.post(f"/executions/{pending}/cancel",
                           data={"csrf": csrf, "next": "/executions", "confirm": "yes"},
                           follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/executions"
    assert web.execution(pending)["status"] == "cancelled"
    # a confirmed post without the CSRF token is refused as before
    refused = web.client.post(f"/executions/{pending}/rerun", data={"confirm": "yes"})
    assert refused.status_code == 403

    asked = web.client.post(f"/executions/{pending}/rerun", data={"csrf": csrf})
    assert asked.status_code == 200 and f"Retry #{pending}?" in asked.text
    assert "as attempt 2" in asked.text
    assert _total(web.get("/api/executions")) == 1
    retried = web.client.post(f"/executions/{pending}/rerun",
                              data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False)
    assert retried.status_code == 303
    new_id = int(retried.headers["location"].rsplit("/", 1)[1])
    assert web.execution(new_id)["retry_of"] == pending
    # re-running something still pending goes back with the reason
    busy = web.client.post(f"/executions/{new_id}/rerun", data={"csrf": csrf, "confirm": "yes"},
                           follow_redirects=True)
    assert busy.status_code == 200 and f"Could not re-run #{new_id}" in busy.text
    missing = web.client.post("/executions/424242/cancel", data={"csrf": csrf})
    assert missing.status_code == 404


def test_the_grid_of_runs_and_steps(web: WebServer, wf: Wfsched) -> None:
    first = wf.trigger("produce")[0]
    broken = wf.trigger("produce", n="x")[0]
    wf.run("scheduler", "--once", check=False)
    waiting = wf.trigger("produce")[0]
    grid = web.get("/api/workflows/produce/grid").json()
    assert grid["steps"] == ["count", "label"] and grid["total"] == 3
    assert [run["id"] for run in grid["runs"]] == [first, broken, waiting]  # oldest first
    assert [run["steps"] for run in grid["runs"]] == [
        {"count": "completed", "label": "completed"},
        {"count": "failed", "label": "not run"},
        {"count": "pending", "label": "pending"}]
    assert grid["runs"][1]["status"] == "failed" and grid["runs"][1]["error"]
    assert [r["id"] for r in web.get("/api/workflows/produce/grid",
                                     params={"limit": 1}).json()["runs"]] == [waiting]
    assert web.get("/api/workflows/nothing_here/grid").status_code == 404
    assert web.get("/api/workflows/produce/grid", params={"limit": "0"}).status_code == 422

    page = web.get("/workflows/produce/grid")
    assert page.status_code == 200
    assert page.text.count('data-step="') == 2
    assert f'href="/executions/{broken}" data-status="not run"' in page.text
    assert web.get("/workflows/nothing_here/grid").status_code == 404


def test_the_schedulers_panel(web: WebServer, wf: Wfsched, scheduler) -> None:
    def live() -> list[dict[str, Any]]:
        return [row for row in web.get("/api/schedulers").json() if row["state"] == "live"]

    (row,) = wait_until(live, 30, "the scheduler to register")
    assert row["pid"] == scheduler.pid and row["slots"] == 3 and row["running"] == 0
    assert row["host"] and row["version"] and row["heartbeat_age"] < 30
    page = web.get("/schedulers")
    assert page.status_code == 200
    assert f'data-id="{row["id"]}" data-state="live"' in page.text
    assert f'data-label="pid">{scheduler.pid}</td>' in page.text
    assert "0 / 3" in page.text
    stop(scheduler)
    wait_until(lambda: not live(), 30, "the stopped scheduler to leave the panel")
    assert "No scheduler is running" in web.get("/schedulers").text


def test_search_and_steps_of_on_every_database(wf: Wfsched, db_kind: str) -> None:
    """The store's browsing reads (store/browsing.py) on each kind of database."""
    from wfsched_core.store.browsing import ExecutionSearch

    if db_kind != "sqlite":
        wf.run("db", "upgrade")
    ids = wf.trigger("produce", count=3, tag="Nightly_50%")
    other = wf.trigger("noop", tag="nightly")
    wf.run("scheduler", "--once", "--max-concurrent", "3")
    store = wf.store
    page = store.search_executions(ExecutionSearch(text="nightly_50%", limit=2))
    assert [e.id for e in page.executions] == sorted(ids, reverse=True)[:2]
    assert page.total == 3
    assert store.search_executions(ExecutionSearch(text="NIGHTLY")).total == 4
    skipped = store.search_executions(ExecutionSearch(text="nightly",
                                                      text_skips={"produce"}))
    assert [e.id for e in skipped.executions] == other
    ranged = store.search_executions(ExecutionSearch(
        created_from=utcnow() - timedelta(hours=1), created_to=utcnow() + timedelta(hours=1),
        status="completed", offset=1))
    assert ranged.total == 4 and len(ranged.executions) == 3
    steps = store.steps_of([*ids, 424242])
    assert steps[424242] == []
    assert all([s.name for s in steps[i]] == ["count", "label"] for i in ids)
    assert store.running_by_owner() == {}

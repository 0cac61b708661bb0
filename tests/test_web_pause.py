"""Pause and resume from the dashboard (issue 17, item 3): the JSON API with the bearer
token, and the workflows page's buttons behind a login and a CSRF token."""

from __future__ import annotations

import re

import test_web_support as support
from helpers import Wfsched
from test_web_support import TOKEN, WebServer

web = support.web


def test_pause_and_resume_through_the_api_need_the_token(web: WebServer, wf: Wfsched) -> None:
    (waiting,) = wf.trigger("noop")
    for token in (None, "wrong-token"):
        refused = web.post("/api/workflows/noop/pause", token=token, json={"reason": "x"})
        assert refused.status_code in (401, 403), refused.text
    assert wf.store.paused_workflows() == {}

    answer = web.post("/api/workflows/noop/pause", json={"reason": "vendor outage"})
    assert answer.status_code == 200, answer.text
    paused = answer.json()["paused"]
    assert paused["reason"] == "vendor outage" and paused["paused_by"].startswith("web@")
    (entry,) = [e for e in web.get("/api/workflows").json() if e["name"] == "noop"]
    assert entry["paused"] == paused
    assert wf.execution(waiting).wait_reason.startswith("paused: vendor outage (by web@")

    bad = web.post("/api/workflows/noop/pause", json={"reason": 5})
    assert bad.status_code == 422 and "reason must be a string" in bad.json()["error"]
    unknown = web.post("/api/workflows/no_such_flow/pause", json={})
    assert unknown.status_code == 404

    resumed = web.post("/api/workflows/noop/resume")
    assert resumed.status_code == 200 and resumed.json() == {"workflow": "noop",
                                                             "resumed": True}
    assert wf.store.paused_workflows() == {}
    assert wf.execution(waiting).wait_reason is None


def test_the_workflows_page_pauses_and_resumes_with_a_button(web: WebServer,
                                                             wf: Wfsched) -> None:
    login = web.client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    web.client.post("/login", data={"csrf": csrf, "token": TOKEN, "next": "/workflows"})
    page = web.client.get("/workflows").text
    assert 'action="/workflows/noop/pause"' in page

    forged = web.client.post("/workflows/noop/pause", data={"csrf": "forged"})
    assert forged.status_code == 403 and wf.store.paused_workflows() == {}

    done = web.client.post("/workflows/noop/pause",
                           data={"csrf": csrf, "reason": "<b>migration</b>"},
                           follow_redirects=True)
    assert done.status_code == 200 and "Paused noop" in done.text
    assert wf.store.paused_workflows()["noop"].reason == "<b>migration</b>"
    page = web.client.get("/workflows").text
    assert "&lt;b&gt;migration&lt;/b&gt;" in page and "<b>migration</b>" not in page
    assert 'action="/workflows/noop/resume"' in page

    done = web.client.post("/workflows/noop/resume", data={"csrf": csrf},
                           follow_redirects=True)
    assert "Resumed noop" in done.text and wf.store.paused_workflows() == {}

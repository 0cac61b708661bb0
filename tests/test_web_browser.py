"""The dashboard's pages in a real browser: Debian's chromium driven by Playwright.

Logs in, triggers with the form, watches rows turn ``completed`` without a reload, cancels
a running execution, reads a log, and checks that what a workflow printed or raised is
shown as text. Screenshots of every page are saved under the test's tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_web_support as support
from helpers import Wfsched, wait_until
from test_web_support import TOKEN, WebServer

web = support.web
scheduler = support.scheduler

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = Path(os.environ.get("WFSCHED_TEST_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update"]
TIMEOUT_MS = 30_000


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing browser is a failure)")
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _missing(f"playwright is not installed (tests/requirements-web.txt): {exc}")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any, web: WebServer) -> Iterator[Any]:
    context = browser.new_context(base_url=web.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert dialogs == [], f"a script ran in the page: {dialogs}"
    assert errors == [], f"script errors in the page: {errors}"


def _statuses(page: Any, ids: list[int]) -> dict[int, str]:
    found = {}
    for execution_id in ids:
        row = page.locator(f'#executions tr[data-id="{execution_id}"]')
        if row.count():
            found[execution_id] = row.get_attribute("data-status")
    return found


def test_operator_session_in_a_browser(page: Any, web: WebServer, wf: Wfsched, scheduler,
                                       work_dir: Path, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()

    # reading needs the token too: a page sends the browser to the login form first;
    # a wrong token is refused
    page.goto("/workflows")
    page.wait_for_url("**/login?next=*")
    assert page.locator("form.trigger").count() == 0
    page.fill("input[name=token]", "not-the-token")
    page.click("button:has-text('Log in')")
    assert "wrong token" in page.inner_text("[role=alert]")
    page.screenshot(path=shots / "login.png")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Log in')")
    page.wait_for_url("**/workflows")
    page.screenshot(path=shots / "workflows.png", full_page=True)

    # trigger three executions with the form, then watch them finish without a reload
    row = page.locator('tr[data-workflow="mark"]')
    row.locator("input[name=count]").fill("3")
    row.locator("textarea[name=params]").fill(f"seconds=3\ndir={work_dir}")
    row.locator("button:has-text('Trigger')").click()
    page.wait_for_url("**/executions")
    flash = page.inner_text(".flash")
    assert flash.startswith("Queued 3 executions of mark:")
    ids = [int(part.strip(" #…")) for part in flash.split(":", 1)[1].split(",")]
    page.evaluate("window.stillTheSamePage = true")
    first_seen = _statuses(page, ids)
    assert set(first_seen) == set(ids)
    wait_until(lambda: set(_statuses(page, ids).values()) == {"completed"}, 40,
               "the three executions to show completed on the page")
    assert page.evaluate("window.stillTheSamePage") is True  # the page was never reloaded
    assert len(wf.records(work_dir, "ran")) == 3
    if set(first_seen.values()) == {"completed"}:
        pytest.fail("the executions were already completed at the first render: "
                    "nothing proves the page updated itself")

    # cancel a running one from the list
    (hang_id,) = web.post("/api/workflows/hang/trigger",
                          json={"params": {"dir": str(work_dir)}}).json()["ids"]
    wait_until(lambda: _statuses(page, [hang_id]).get(hang_id) == "running", 40,
               "the hang execution to show running")
    page.screenshot(path=shots / "executions.png", full_page=True)
    page.locator(f'#executions tr[data-id="{hang_id}"] button:has-text("Cancel")').click()
    page.wait_for_selector("#confirm")  # the dashboard asks first
    assert web.execution(hang_id)["status"] == "running"
    page.click("button:has-text('Yes, cancel')")
    page.wait_for_selector(f'.flash:has-text("Execution #{hang_id} is cancelled")')
    assert web.execution(hang_id)["status"] == "cancelled"

    # a failing execution: its page shows the log, the error and the traceback as text
    page.goto("/workflows")
    row = page.locator('tr[data-workflow="chatty"]')
    row.locator("textarea[name=params]").fill("fail=1")
    row.locator("button:has-text('Trigger')").click()
    page.wait_for_url("**/executions")
    chatty_id = int(page.inner_text(".flash").rsplit("#", 1)[1])
    web.wait_for_status(chatty_id, "failed")
    page.click(f'#executions a[href="/executions/{chatty_id}"]')
    page.wait_for_url(f"**/executions/{chatty_id}")
    log_text = page.inner_text("#log")
    assert "stdout line: <script>alert(1)</script>" in log_text
    assert "log record from step talk" in log_text
    assert page.locator("#log script, main script").count() == 0
    assert "<b>bad</b> input" in page.inner_text("#error")
    assert page.locator("#error b").count() == 0
    assert "ValueError" in page.inner_text("#traceback")
    assert page.inner_text("#status") == "failed"
    assert "talk" in page.inner_text("#steps")
    page.screenshot(path=shots / "execution.png", full_page=True)

    # the timeline draws a bar for each execution that started
    page.click("nav >> text=Timeline")
    page.wait_for_selector("svg.timeline rect.bar")
    assert page.locator("svg.timeline rect.bar").count() >= 5
    assert page.locator("svg.timeline .lane-label").count() >= 3  # three ran at once
    page.screenshot(path=shots / "timeline.png", full_page=True)
    assert sorted(p.name for p in shots.iterdir()) == [
        "execution.png", "executions.png", "login.png", "timeline.png", "workflows.png"]


def _log_in(page: Any) -> None:
    page.goto("/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button:has-text('Log in')")
    page.wait_for_url("**/executions")


def test_a_running_execution_page_follows_its_log(page: Any, web: WebServer, scheduler,
                                                  work_dir: Path) -> None:
    _log_in(page)
    (execution_id,) = web.post("/api/workflows/hang/trigger",
                               json={"params": {"dir": str(work_dir), "seconds": "4"}}
                               ).json()["ids"]
    page.goto(f"/executions/{execution_id}")
    assert page.inner_text("#status") in ("pending", "running")
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_selector("#status:has-text('completed')", timeout=40_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "hang" in page.inner_text("#steps")
    full_log = web.get(f"/api/executions/{execution_id}/log").json()["text"]
    wait_until(lambda: page.inner_text("#log").strip() == full_log.strip(), 10,
               "the page's log to catch up with the file")


def test_forms_refuse_a_missing_csrf_token(page: Any, web: WebServer) -> None:
    _log_in(page)
    # a form post without the CSRF field, from the logged-in browser itself
    answer = page.request.post("/workflows/noop/trigger", form={"count": "1"},
                               max_redirects=0)
    assert answer.status == 403
    assert "expired" in answer.text()
    # the session cookie alone does not open the API's acting routes (no CSRF there)
    api = page.request.post("/api/workflows/noop/trigger", data="{}",
                            headers={"Content-Type": "text/plain"})
    assert api.status == 401
    assert web.get("/api/executions").json() == []

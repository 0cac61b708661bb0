"""The triage views in a real browser (issue 19): every page at 1400 and 400 px wide with
no horizontal overflow, a working header and no console error (screenshots checked);
a page opened while pending that updates itself; search, confirmation and retry by hand.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import test_web_browser as chromium
import test_web_support as support
from helpers import Wfsched, wait_until
from test_web_support import TOKEN, WebServer, stop

web = support.web
scheduler = support.scheduler
browser = chromium.browser

WIDTHS = (1400, 400)
LONG_VALUE = "a-parameter-value-with-no-space-at-all-" * 6


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def open_page(browser: Any, web: WebServer) -> Iterator[Callable[[int], Any]]:
    """Pages at a given width, logged in; console errors and script errors fail the test."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_at(width: int) -> Any:
        context = browser.new_context(base_url=web.url, viewport={"width": width, "height": 900})
        context.set_default_timeout(chromium.TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and problems.append(
            f"console at {width} px on {page.url}: {message.text}"))
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))
        page.goto("/login")
        page.fill("input[name=token]", TOKEN)
        page.click("button:has-text('Log in')")
        page.wait_for_url("**/executions")
        return page

    yield open_at
    for context in contexts:
        context.close()
    assert problems == []


def _check_fits(page: Any, width: int) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] == width, f"{page.url} is {widths[0]} px wide at {width} px"
    # the header: every link and button inside the window, none hidden under another
    for box in page.evaluate("""[...document.querySelectorAll('header.topbar a, header.topbar button')]
        .map(e => { const r = e.getBoundingClientRect();
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return [e.textContent.trim(), r.left, r.right, r.width, e.contains(hit)]; })"""):
        name, left, right, size, reachable = box
        assert size > 0 and left >= 0 and right <= width, f"header item {name!r}: {box}"
        assert reachable, f"header item {name!r} is covered at {width} px"


def _colours(page: Any, selector: str) -> dict[str, str]:
    """data-status -> the background colour of the elements ``selector`` finds."""
    return dict(page.evaluate(f"""[...document.querySelectorAll({selector!r})]
        .map(e => [e.dataset.status, getComputedStyle(e).backgroundColor])"""))


def test_every_page_fits_at_1400_and_400_px(open_page: Callable[[int], Any], web: WebServer,
                                           wf: Wfsched, scheduler, tmp_path: Path) -> None:
    ids = [web.post(f"/api/workflows/{name}/trigger", json={"params": params}).json()["ids"][0]
           for name, params in [("chatty", {"fail": "1"}), ("produce", {}),
                                ("produce", {"n": "x"}), ("noop", {"note": LONG_VALUE})]]
    for execution_id in ids:
        web.wait_for_status(execution_id, "completed", "failed")
    failed = ids[0]
    pages = {"workflows": "/workflows", "executions": "/executions",
             "failed": "/executions?status=failed", "execution": f"/executions/{failed}",
             "grid": "/workflows/produce/grid", "schedulers": "/schedulers",
             "timeline": "/timeline"}
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for width in WIDTHS:
        page = open_page(width)
        for name, path in pages.items():
            page.goto(path)
            page.wait_for_load_state("load")
            _check_fits(page, width)
            page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)
        # the grid's squares take their status's colour (the badges' colours)
        page.goto("/workflows/produce/grid")
        assert _colours(page, ".run-grid .cell") == {
            "completed": "rgb(31, 157, 85)", "failed": "rgb(214, 69, 69)",
            "not run": "rgb(238, 241, 245)"}
        # the confirmation page, reached as a user does: the Retry button
        page.goto(f"/executions/{failed}")
        page.click("#rerun-form button")
        page.wait_for_selector("#confirm")
        _check_fits(page, width)
        page.screenshot(path=shots / f"confirm-{width}.png", full_page=True)
    # a full-page screenshot is as wide as the page: exactly the window, at both widths
    taken = sorted(shots.iterdir())
    assert len(taken) == (len(pages) + 1) * len(WIDTHS)
    for shot in taken:
        width, height = _png_size(shot)
        assert width == int(shot.stem.rsplit("-", 1)[1]), f"{shot.name} is {width} px wide"
        assert height >= 300, f"{shot.name} is only {height} px high"


def test_a_page_opened_while_pending_updates_itself(open_page: Callable[[int], Any],
                                                    web: WebServer, wf: Wfsched) -> None:
    page = open_page(1400)
    (execution_id,) = web.post("/api/workflows/produce/trigger", json={}).json()["ids"]
    page.goto(f"/executions/{execution_id}")
    assert page.inner_text("#status") == "pending"
    assert page.inner_text("#spawner") == "—"
    # every declared step is listed from the start, greyed
    assert page.locator("#steps tr.not-started").count() == 2
    assert [page.locator("#steps tbody tr").nth(i).get_attribute("data-status")
            for i in range(2)] == ["pending", "pending"]
    assert page.is_visible("#cancel-form") and not page.is_visible("#rerun-form")
    page.evaluate("window.stillTheSamePage = true")
    process = wf.popen("scheduler", name="late-scheduler")
    try:
        page.wait_for_selector("#status:has-text('completed')", timeout=40_000)
    finally:
        stop(process)
    assert page.evaluate("window.stillTheSamePage") is True
    stored = web.execution(execution_id)
    assert stored["spawner"] and page.inner_text("#spawner") == stored["spawner"]
    assert page.inner_text("#claimed-by") == stored["claimed_by"]
    assert page.locator("#steps tr.not-started").count() == 0
    assert page.locator('#steps tr[data-status="completed"]').count() == 2
    assert not page.is_visible("#cancel-form")
    assert page.inner_text("#rerun-form button") == "Re-run"


def test_search_confirm_and_retry_by_hand(open_page: Callable[[int], Any], web: WebServer,
                                          wf: Wfsched) -> None:
    days = [wf.trigger("noop", day=f"2026-11-0{n}")[0] for n in range(1, 6)]
    (failed,) = wf.trigger("chatty", fail="1")
    wf.run("scheduler", "--once", check=False)
    page = open_page(400)

    page.fill("input[name=q]", "2026-11-04")
    page.click("button:has-text('Search')")
    page.wait_for_url(lambda url: "q=2026-11-04" in url)
    assert page.locator("#executions tbody tr").count() == 1
    assert page.get_attribute("#executions tbody tr", "data-id") == str(days[3])
    assert page.inner_text("#shown") == "1–1 of 1"

    # paging: two per page, then the next page
    page.goto("/executions?limit=2&workflow=noop")
    assert page.inner_text("#shown") == "1–2 of 5"
    page.click("a[rel=next]")
    page.wait_for_url(lambda url: "offset=2" in url)
    assert page.inner_text("#shown") == "3–4 of 5"
    assert [int(page.locator("#executions tbody tr").nth(i).get_attribute("data-id"))
            for i in range(2)] == [days[2], days[1]]

    # a failed row shows its error; Retry asks first, then queues the next attempt
    page.goto("/executions?status=failed")
    row = page.locator(f'#executions tr[data-id="{failed}"]')
    assert "bad" in row.locator(".error-line").inner_text()
    row.locator("button:has-text('Retry')").click()
    page.wait_for_selector("#confirm")
    page.click("a:has-text('No, go back')")
    page.wait_for_url(lambda url: url.endswith("/executions?status=failed"))
    assert len(web.get("/api/executions").json()) == 6  # nothing queued
    page.locator(f'#executions tr[data-id="{failed}"] button:has-text("Retry")').click()
    page.click("button:has-text('Yes, retry')")
    page.wait_for_selector(".flash:has-text('Retrying')")
    new_id = int(page.url.rsplit("/", 1)[1])
    assert page.inner_text(".flash") == f"Retrying #{failed} as #{new_id}."
    assert web.execution(new_id)["retry_of"] == failed

    # Cancel asks first too
    page.goto("/executions?status=pending")
    page.locator(f'#executions tr[data-id="{new_id}"] button:has-text("Cancel")').click()
    page.click("button:has-text('Yes, cancel')")
    page.wait_for_selector(f".flash:has-text('Execution #{new_id} is cancelled')")
    wait_until(lambda: web.execution(new_id)["status"] == "cancelled", 10,
               "the retry to be cancelled")

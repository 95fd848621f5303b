"""The rater page's keyboard, saving and "next difference" in a real Chromium against the real app.

Focused form controls keep their own keys (Space presses the focused button or
radio, arrows move between radios) and the page's shortcuts work everywhere
else. An answer given in a second tab that the server did not record is shown
as not saved; an answer waiting for the connection keeps the form locked, its
banner in view, and is sent as soon as the browser is back online. "Next
difference" plays a few seconds around each place where A and B diverge, each
place once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import DESKTOP, fetch_json, listen_through, open_page, wait_until
from conftest import LiveServer, serve_feedback_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The app with pairwise tasks only, new for each test (each test judges what it needs)."""
    from rl_editor.feedback.tasks import TaskConfig

    with serve_feedback_app(tmp_path / "app", TaskConfig(gold_per_rater=0, seed=3)) as live:
        yield live


def open_rater_page(browser, live: LiveServer, errors: list[str], context=None):
    """A new page on the rater's link (in ``context`` when given), once its first task is ready."""
    url = f"{live.base_url}/r/{live.rater_token}"
    if context is None:
        context, page = open_page(browser, url, DESKTOP, errors)
    else:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.goto(url)
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    return context, page


def is_playing(page) -> bool:
    return bool(page.evaluate("raterApp.position().playing"))


def test_focused_controls_keep_their_keys_and_shortcuts_work_elsewhere(chromium_browser, fresh_server):
    errors: list[str] = []
    context, page = open_rater_page(chromium_browser, fresh_server, errors)

    # Space on a focused radio checks it (the page then says to listen first); it does not play
    page.focus('input[name="choice"][value="a"]')
    page.keyboard.press("Space")
    assert not is_playing(page)
    assert page.locator("#form-error").inner_text().startswith("Listen first.")
    # an arrow key on a focused radio moves to the next radio, as radios do
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.name + ':' + document.activeElement.value") == "choice:b"
    assert not is_playing(page)

    # Space on the focused Submit button presses it: nothing plays
    page.evaluate("document.getElementById('form-error').textContent = ''")
    page.focus("#submit")
    page.keyboard.press("Space")
    assert not is_playing(page)
    assert page.locator("#form-error").inner_text().startswith("Listen first.")

    # Space on a focused version button selects that version and does not start playback
    page.focus("#version-b")
    page.keyboard.press("Space")
    assert page.evaluate("raterApp.position().version") == "b" and not is_playing(page)

    # off the controls, Space is play / pause
    page.focus("#task-heading")
    page.keyboard.press("Space")
    wait_until(page, "raterApp.position().playing")
    page.keyboard.press("Space")
    assert not is_playing(page)

    # a mouse click on a transport button does not take the focus, so the shortcuts keep working
    page.click("#forward")
    assert page.evaluate("document.activeElement.id") != "forward"
    page.keyboard.press("Space")
    wait_until(page, "raterApp.position().playing")
    page.keyboard.press("Space")
    context.close()
    assert errors == []


def submit_tie(page) -> None:
    """Hear both edits, answer "equally good" and press S."""
    listen_through(page)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("s")

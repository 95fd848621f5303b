"""The rater page prefetches the next task in a real Chromium against the real app: while a pair is judged, the
audio of the pair after it (reserved by the server) is downloaded, so after submitting the next pair plays
without a new download, and what it counts as heard is only what is played of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import DESKTOP, listen_through, open_page, wait_until

from conftest import LiveServer, serve_feedback_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# every part of the upcoming pair fetched whole (parts are fetched one after another: the original, then A and B)
ALL_HERE = "(p => ['a', 'b', 'o'].every(k => p[k] && p[k][1] > 0 && p[k][0] >= p[k][1]))(raterApp.upcoming().progress)"


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The app with pairwise tasks only (three pairs, no gold), new for the test."""
    from rl_editor.feedback.tasks import TaskConfig

    with serve_feedback_app(tmp_path / "app", TaskConfig(gold_per_rater=0, seed=3)) as live:
        yield live


def test_the_next_pair_is_downloaded_while_one_is_judged_and_shown_without_a_new_download(
    chromium_browser, fresh_server
):
    live = fresh_server
    errors: list[str] = []
    requests: list[tuple[str, str]] = []
    context = chromium_browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda request: requests.append((request.method, request.url)))
    page.goto(f"{live.base_url}/r/{live.rater_token}?head_bytes=16384")  # the original's head is a range
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    first = page.evaluate("raterApp.task().task_id")
    assert not page.evaluate("raterApp.prefetched()")  # the first task had nothing before it

    # once the first pair is all here, the second one's audio comes while the first is judged
    wait_until(page, "raterApp.upcoming() && raterApp.upcoming().fetching")
    second = page.evaluate("raterApp.upcoming().task_id")
    assert second != first
    wait_until(page, ALL_HERE, timeout_s=20)
    assert sorted(page.evaluate("Object.keys(raterApp.upcoming().progress)")) == ["a", "b", "o"]

    listen_through(page)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("z")
    submitted_at = len(requests)
    started = time.monotonic()
    page.keyboard.press("s")
    wait_until(page, f"raterApp.playable() && raterApp.task().task_id === {second!r}")
    shown_s = time.monotonic() - started
    wait_until(page, "raterApp.ready()")

    posts = [i for i, (method, url) in enumerate(requests) if method == "POST" and url.endswith("/api/judgments")]
    second_audio = [i for i, (_, url) in enumerate(requests) if f"/tasks/{second}/audio/" in url]
    assert posts and posts[0] >= submitted_at
    assert second_audio and max(second_audio) < posts[0], "the next pair's audio was fetched after submitting"
    assert sorted(requests[i][1].split("/audio/")[1] for i in second_audio) == [
        "a?format=ogg",
        "b?format=ogg",
        "original?format=ogg",  # its first part (a range)...
        "original?format=ogg",  # ...and the rest
    ]
    assert page.evaluate("raterApp.prefetched()")
    assert shown_s < 5.0

    # the prefetched pair counts as heard only what is played of it
    listening = page.evaluate("raterApp.listening()")
    assert listening["record"] == {"original_s": 0, "a_s": 0, "b_s": 0}
    assert listening["stillToHear"] and not any(listening["met"].values())
    page.keyboard.press("ArrowLeft")
    assert page.locator("#form-error").inner_text().startswith("Listen first.")

    # and the pair after it is on its way in turn (the last one: nothing after it)
    wait_until(page, "raterApp.upcoming() && raterApp.upcoming().fetching")
    third = page.evaluate("raterApp.upcoming().task_id")
    assert third not in (first, second)
    wait_until(page, ALL_HERE, timeout_s=20)
    listen_through(page)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("s")
    wait_until(page, f"raterApp.ready() && raterApp.task().task_id === {third!r}")
    assert page.evaluate("raterApp.prefetched()") and page.evaluate("raterApp.upcoming()") is None
    context.close()
    assert errors == []


def test_reloading_the_page_keeps_the_current_task_and_the_one_reserved_after_it(chromium_browser, fresh_server):
    """A reload shows the current task again (its audio fetched anew) with the same task reserved after it."""
    live = fresh_server
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live.base_url}/r/{live.rater_token}", DESKTOP, errors)
    wait_until(page, "window.raterApp && window.raterApp.ready() && raterApp.upcoming()")
    first, second = page.evaluate("[raterApp.task().task_id, raterApp.upcoming().task_id]")
    page.reload()
    wait_until(page, "window.raterApp && window.raterApp.ready() && raterApp.upcoming()")
    assert page.evaluate("[raterApp.task().task_id, raterApp.upcoming().task_id]") == [first, second]
    assert not page.evaluate("raterApp.prefetched()")
    context.close()
    assert errors == []

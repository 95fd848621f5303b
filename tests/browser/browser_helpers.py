"""What the browser tests share: waiting on the page, opening it, reading the API, listening through."""

from __future__ import annotations

import json
import time
import urllib.request

N_BEATS = 40  # beats of the test song (conftest.write_test_manifest)

# Sections of the test song (beat indices and labels), as the analysis writes them into a manifest.
SONG_STRUCTURE = {
    "version": 1,
    "bar_start_beats": list(range(0, N_BEATS, 4)),
    "phrase_start_beats": [0, 8, 16, 28],
    "section_start_beats": [0, 8, 16, 28],
    "section_labels": ["A", "B", "A", "C"],
}

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def wait_until(page, expression: str, timeout_s: float = 10.0):
    """Poll a JavaScript expression until it is truthy (the pages' CSP forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = page.evaluate(expression)
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {expression!r} (last value {last!r})")


def fetch_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def open_page(browser, url: str, viewport: dict, errors: list[str], **context_options):
    context = browser.new_context(viewport=viewport, **context_options)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.goto(url)
    return context, page


def listen_through(page, rate: float = 16.0) -> None:
    """Play each edit from its start, ``rate`` times faster than real time, until the page counts
    it as heard enough for judging; then pause and play at normal speed again."""
    page.evaluate(f"raterApp.setPlaybackRate({rate})")
    if page.evaluate("raterApp.loopOn()"):
        page.keyboard.press("l")
    for version in page.evaluate("Object.keys(raterApp.listening().met)"):
        if page.evaluate(f"raterApp.listening().met.{version}"):
            continue
        page.keyboard.press(version)
        page.keyboard.press("Home")
        if not page.evaluate("raterApp.position().playing"):
            page.keyboard.press("Space")
        wait_until(page, f"raterApp.listening().met.{version}", timeout_s=15)
    if page.evaluate("raterApp.position().playing"):
        page.keyboard.press("Space")
    page.evaluate("raterApp.setPlaybackRate(1)")

"""Must-listen, the headphone check and song sections on the rater page, in a real Chromium.

A rater who tries to judge before hearing both edits is refused and told what is
still unheard; after hearing A the message names only B's regions; "next
difference" then plays each of B's regions and the judgment goes through with
the seconds played. The headphone check passes when the rater picks the quiet
tone and fails when they pick the antiphase one. Section bands of the original
and of each edit are where the song's structure puts them.
"""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
from browser_helpers import DESKTOP, SONG_STRUCTURE, fetch_json, open_page, wait_until

from rl_editor.edit import beat_sequence

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SECTION_COLORS = {"A": (0x42, 0x63, 0xEB), "B": (0x2F, 0x9E, 0x44), "C": (0xE6, 0x77, 0x00)}


def expected_bands(actions: list[int] | None, bounds_s: list[float]) -> list[tuple[str, float, float]]:
    """(label, start, end) of each run of played beats from one section, in the version's own time."""
    starts = SONG_STRUCTURE["section_start_beats"]
    labels = SONG_STRUCTURE["section_labels"]
    n_beats = len(bounds_s) - 1
    sequence = list(range(n_beats)) if actions is None else beat_sequence(np.asarray(actions)).tolist()
    bands: list[list] = []
    t = 0.0
    previous = None
    for beat in sequence:
        section = int(np.searchsorted(starts, beat, side="right") - 1)
        length = bounds_s[beat + 1] - bounds_s[beat]
        if bands and bands[-1][0] == section and previous is not None and beat >= previous:
            bands[-1][2] = t + length
        else:
            bands.append([section, t, t + length])
        previous = beat
        t += length
    return [(labels[s], round(a, 3), round(b, 3)) for s, a, b in bands]


def bottom_pixel(page, version: str, time_s: float, duration_s: float) -> list[int]:
    """RGBA of the waveform canvas's bottom row at ``time_s`` (where a section's colour strip is)."""
    return page.evaluate(
        """([version, fraction]) => {
      const canvas = document.querySelector(`.version[data-version="${version}"] canvas`);
      const x = Math.round(fraction * canvas.width);
      return Array.from(canvas.getContext("2d").getImageData(x, canvas.height - 1, 1, 1).data);
    }""",
        [version, time_s / duration_s],
    )


def test_judging_waits_until_both_edits_are_heard_and_sections_show(chromium_browser, structured_server, artifacts_dir):
    live = structured_server
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live.base_url}/r/{live.rater_token}", DESKTOP, errors)
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    task = page.evaluate("raterApp.task()")
    a_id, b_id = live.presented_edit_ids(task["task_id"])
    bounds = task["song"]["segment_bounds_s"]

    # sections: the original shows A B A C where the structure puts them; each edit shows
    # where its audio comes from (a cut shortens or removes a band, a repeat adds one)
    bands = page.evaluate("raterApp.sections()")
    shown = {v: [(b["label"], round(b["start"], 3), round(b["end"], 3)) for b in bands[v]] for v in ("o", "a", "b")}
    assert shown["o"] == expected_bands(None, bounds)
    assert [label for label, _, _ in shown["o"]] == ["A", "B", "A", "C"]
    assert shown["a"] == expected_bands(live.candidate_actions[a_id], bounds)
    assert shown["b"] == expected_bands(live.candidate_actions[b_id], bounds)
    assert "sections A B A C" in page.get_attribute('.version[data-version="o"] canvas', "aria-label")
    duration_o = page.evaluate("raterApp.player().duration('o')")
    for label, start, end in shown["o"]:
        r, g, b, alpha = bottom_pixel(page, "o", (start + end) / 2, duration_o)
        assert alpha > 150 and np.allclose((r, g, b), SECTION_COLORS[label], atol=40), (label, r, g, b, alpha)

    # nothing heard yet: choosing and submitting are refused with what is still unheard
    page.keyboard.press("ArrowLeft")
    message = page.locator("#form-error").inner_text()
    assert message.startswith("Listen first. Still to hear: ")
    assert "A's region" in message and "B's region" in message
    assert not page.is_checked('input[name="choice"][value="a"]')
    page.keyboard.press("s")
    assert page.locator("#form-error").inner_text().startswith("Listen first.")
    assert fetch_json(f"{live.base_url}/api/my/judgments?token={live.rater_token}") == []
    assert page.get_attribute("#submit", "aria-disabled") == "true"

    # hear all of A (fast): only B's regions are left, named by their times
    page.evaluate("raterApp.setPlaybackRate(8)")
    page.keyboard.press("a")
    page.keyboard.press("Home")
    page.keyboard.press("Space")
    wait_until(page, "raterApp.listening().met.a", timeout_s=15)
    page.keyboard.press("Space")
    still = page.evaluate("raterApp.listening().stillToHear")
    assert still.startswith("Still to hear: B's region") and "A's" not in still
    assert page.locator("#listen-status").inner_text() == still
    needs_b = task["b"]["must_listen"]["regions_s"]
    assert f"{int(needs_b[0][0]) // 60}:{int(needs_b[0][0]) % 60:02d}-" in still

    # "next difference" plays each differing region in A, then in B: once through them, B is heard
    for _ in range(len(page.evaluate("raterApp.differences()"))):
        page.keyboard.press("n")
        wait_until(page, "raterApp.position().playing")
        wait_until(page, "!raterApp.position().playing", timeout_s=15)
    listening = page.evaluate("raterApp.listening()")
    assert listening["met"] == {"a": True, "b": True} and listening["stillToHear"] == ""
    # B was heard through its regions, not in full
    assert listening["record"]["b_s"] < page.evaluate("raterApp.player().duration('b')") - 1.0
    page.evaluate("raterApp.setPlaybackRate(1)")
    assert page.locator("#listen-status").inner_text() == "You have heard enough of each edit to judge."
    page.screenshot(path=str(artifacts_dir / "rater-must-listen.png"), full_page=True)

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("z")
    assert page.locator("#form-error").inner_text() == ""
    page.keyboard.press("s")
    wait_until(page, f"!raterApp.task() || raterApp.task().task_id !== {json.dumps(task['task_id'])}")
    exported = fetch_json(f"{live.base_url}/api/admin/export.json?token={live.admin_token}")
    pair = next(p for p in exported if p["task_id"] == task["task_id"])
    seconds_of = {
        pair["edit_a"]["edit_id"]: pair["listening"]["a_s"],
        pair["edit_b"]["edit_id"]: pair["listening"]["b_s"],
    }
    assert seconds_of[a_id] == pytest.approx(listening["record"]["a_s"], abs=0.5)
    assert seconds_of[b_id] == pytest.approx(listening["record"]["b_s"], abs=0.5)
    context.close()
    assert errors == []


def _answer_every_trial(page, pick: str) -> None:
    """Play each trial and answer the tone of kind ``pick`` (``quiet`` is right, ``antiphase`` the lure)."""
    wait_until(page, "raterApp.headphoneCheck() !== null")
    trials = page.evaluate("raterApp.headphoneCheck().trials")
    assert len(trials) == 6 and all(sorted(t) == ["antiphase", "quiet", "reference"] for t in trials)
    for index, tones in enumerate(trials):
        wait_until(page, f"raterApp.headphoneCheck() && raterApp.headphoneCheck().index === {index}")
        assert page.locator(".hp-answer").first.is_disabled()  # answers open once the tones were played
        page.click("#hp-play")
        wait_until(page, "!document.querySelector('.hp-answer').disabled", timeout_s=10)
        page.locator(".hp-answer").nth(tones.index(pick)).click()


def test_the_headphone_check_comes_first_and_passes_with_the_quiet_tone(
    chromium_browser, headphone_server, artifacts_dir
):
    live = headphone_server
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live.base_url}/r/{live.rater_token}", DESKTOP, errors)
    wait_until(page, "window.raterApp && !document.getElementById('view-headphones').hidden")
    assert page.locator("#view-task").is_hidden()
    page.evaluate("raterApp.setToneScale(0.05)")
    page.screenshot(path=str(artifacts_dir / "rater-headphone-check.png"), full_page=True)
    _answer_every_trial(page, "quiet")
    wait_until(page, "raterApp.ready()", timeout_s=15)
    assert "passed (6 of 6 right)" in page.locator("#hp-result").inner_text()
    me = fetch_json(f"{live.base_url}/api/me?token={live.rater_token}")
    assert me["headphone_check"]["passed"] is True and me["headphone_check"]["score"] == 6
    context.close()
    assert errors == []


def test_picking_the_antiphase_tone_fails_the_headphone_check_and_keeps_tasks_away(chromium_browser, headphone_server):
    from rl_editor.feedback.storage import FeedbackStore

    live = headphone_server
    with FeedbackStore.open(None, live.manifest_path) as store:
        token = store.add_rater("speakers")
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live.base_url}/r/{token}", DESKTOP, errors)
    wait_until(page, "window.raterApp && !document.getElementById('view-headphones').hidden")
    page.evaluate("raterApp.setToneScale(0.05)")
    _answer_every_trial(page, "antiphase")
    wait_until(page, "document.getElementById('hp-result').textContent.includes('not passed')")
    assert "try again" in page.locator("#hp-result").inner_text()
    page.click("#hp-retry")
    _answer_every_trial(page, "antiphase")
    wait_until(page, "document.getElementById('hp-result').textContent.includes('no attempts are left')")
    assert page.locator("#view-task").is_hidden() and page.locator("#hp-retry").is_hidden()
    request = urllib.request.Request(f"{live.base_url}/api/next", headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    summary = fetch_json(f"{live.base_url}/api/admin/summary?token={live.admin_token}")
    row = next(r for r in summary["raters"] if r["name"] == "speakers")
    assert row["headphone_check"]["passed"] is False and row["headphone_check"]["attempts_used"] == 2
    # the admin page shows the result beside the rater
    admin = context.new_page()
    admin.goto(f"{live.base_url}/admin?token={live.admin_token}")
    wait_until(admin, "document.body.dataset.loaded === 'true'")
    check = admin.locator("#raters-table tbody tr", has_text="speakers").locator("td[data-column=headphone-check]")
    assert check.inner_text().startswith("failed 0 of 6 (2 attempts) on ")
    context.close()
    # the 403 of the refused task request is the only failed load
    assert errors == []

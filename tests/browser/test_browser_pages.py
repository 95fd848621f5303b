"""The rater and admin pages in a real Chromium against the real feedback app.

A rater opens their link, plays, switches versions mid-playback (the musical
position carries over), uses "next difference", judges with the keyboard,
reloads (the typed notes come back), submits, and the judgment shows up in the
export and on the admin page. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from browser_helpers import DESKTOP, PHONE, fetch_json, listen_through, open_page, wait_until

from rl_editor.edit import beat_sequence

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def expected_differences(actions_a: list[int], actions_b: list[int]) -> list[int]:
    """Source beats where a run of beats played a different number of times starts."""
    n_beats = len(actions_a)
    counts_a = np.bincount(beat_sequence(np.asarray(actions_a)), minlength=n_beats)
    counts_b = np.bincount(beat_sequence(np.asarray(actions_b)), minlength=n_beats)
    differ = counts_a != counts_b
    return [s for s in range(n_beats) if differ[s] and (s == 0 or not differ[s - 1])]


# Renders the page's own Player in an OfflineAudioContext over two versions that are
# the same 440 Hz tone in opposite phase: switching between them without a crossfade
# would jump by up to twice the amplitude (a click); with it, the largest
# sample-to-sample step stays near the tone's own. Also reports the longest silence.
RENDER_SWITCHES_JS = """
async (switchTimes) => {
  const { Player } = await import("/static/player.js");
  const { sourceTimeline } = await import("/static/beatmap.js");
  const sr = 22050, seconds = 3;
  const offline = new OfflineAudioContext(1, sr * seconds, sr);
  const tone = (phase) => {
    const buffer = offline.createBuffer(1, sr * seconds, sr);
    const x = buffer.getChannelData(0);
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin(2 * Math.PI * 440 * i / sr + phase);
    return buffer;
  };
  const bounds = Array.from({ length: 2 * seconds + 1 }, (_, i) => i / 2);
  const timeline = sourceTimeline(bounds);
  const player = new Player(offline, { o: { buffer: tone(0), timeline }, a: { buffer: tone(Math.PI), timeline } });
  switchTimes.forEach((t, k) => offline.suspend(t).then(() => { player.switchTo(k % 2 ? "o" : "a"); offline.resume(); }));
  player.play();
  const out = (await offline.startRendering()).getChannelData(0);
  const jump = (x, from, to) => {
    let m = 0;
    for (let i = Math.max(1, from); i < Math.min(x.length, to); i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
    return m;
  };
  let silent = 0, run = 0;
  for (let i = Math.floor(0.05 * sr); i < out.length; i++) { run = Math.abs(out[i]) < 1e-3 ? run + 1 : 0; silent = Math.max(silent, run); }
  return {
    toneStep: 0.5 * 2 * Math.PI * 440 / sr,
    atSwitch: switchTimes.map((t) => jump(out, Math.floor(t * sr), Math.floor((t + 0.1) * sr))),
    longestSilenceMs: 1000 * silent / sr,
  };
}
"""


def test_rater_compares_judges_resumes_and_admin_sees_it(chromium_browser, live_server, artifacts_dir):
    errors: list[str] = []
    actions = live_server.candidate_actions
    rater_url = f"{live_server.base_url}/r/{live_server.rater_token}"
    context, page = open_page(chromium_browser, rater_url, DESKTOP, errors)
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    task = page.evaluate("raterApp.task()")
    assert task["kind"] == "pair"
    # every script and style is fetched at the current asset version (no stale cached module)
    assets = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/static/'))"
    )
    assert len(assets) == 8 and len({a.split("?v=")[1] for a in assets if "?v=" in a}) == 1
    a_id, b_id = live_server.presented_edit_ids(task["task_id"])
    assert {a_id, b_id} <= set(actions)
    # durations shown beside each version
    assert page.locator("#version-a .version-duration").inner_text().startswith("0:")

    # switching versions mid-playback leaves no click and no gap (the page's player, rendered offline)
    rendered = page.evaluate(RENDER_SWITCHES_JS, [0.5, 1.2, 2.1])
    assert max(rendered["atSwitch"]) < 1.2 * rendered["toneStep"]
    assert rendered["longestSilenceMs"] < 1.0

    # click the original's waveform two thirds in (after every edit's first change), then play
    box = page.locator('.version[data-version="o"] canvas').bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.66, box["y"] + box["height"] / 2)
    page.keyboard.press("Space")
    wait_until(page, "raterApp.position().playing && raterApp.position().time > 13.0")
    before = page.evaluate("raterApp.position()")
    page.keyboard.press("a")
    after = page.evaluate("raterApp.position()")
    assert before["version"] == "o" and after["version"] == "a" and after["playing"]
    # the same musical position (allowing for the audio-clock time between the two reads)
    # at a different time of A's audio, which cut (or repeated) beats before this point
    elapsed_s = after["clock_s"] - before["clock_s"]
    assert after["source_beat"] == pytest.approx(before["source_beat"] + elapsed_s / live_server.beat_s, abs=0.1)
    cut_before = sum(1 for s in range(int(before["beat"])) if actions[a_id][s] == 1)
    repeated_before = sum(1 for s in range(int(before["beat"])) if actions[a_id][s] == 2)
    shift_s = (cut_before - repeated_before) * live_server.beat_s
    assert after["time"] == pytest.approx(before["time"] + elapsed_s - shift_s, abs=0.05)
    page.screenshot(path=str(artifacts_dir / "rater-desktop.png"), full_page=True)

    time.sleep(0.3)
    before = page.evaluate("raterApp.position()")
    page.keyboard.press("3")
    after = page.evaluate("raterApp.position()")
    assert after["version"] == "b" and after["playing"]
    elapsed_s = after["clock_s"] - before["clock_s"]
    assert after["source_beat"] == pytest.approx(before["source_beat"] + elapsed_s / live_server.beat_s, abs=0.1)
    assert page.locator("#version-b").get_attribute("aria-pressed") == "true"

    # next difference: plays a few seconds around it in A, then in B
    diffs = page.evaluate("raterApp.differences()")
    assert sorted(beat for d in diffs for beat in d["beats"]) == expected_differences(actions[a_id], actions[b_id])
    page.keyboard.press("Space")  # pause, so the anchor below is where "n" starts from
    anchor = page.evaluate("raterApp.position().beat")
    page.keyboard.press("n")
    excerpts = page.evaluate("raterApp.excerpts()")
    assert excerpts["beat"] == next((d["beat"] for d in diffs if d["beat"] > anchor), diffs[0]["beat"])
    in_a, in_b = excerpts["excerpts"]
    assert (in_a["version"], in_b["version"]) == ("a", "b")
    assert in_a["start"] < in_a["at"] < in_a["end"] and in_b["start"] < in_b["at"] < in_b["end"]
    now = page.evaluate("raterApp.position()")
    assert now["version"] == "a" and in_a["start"] - 0.05 <= now["time"] <= in_a["end"]
    wait_until(page, "raterApp.position().version === 'b'", timeout_s=in_a["end"] - in_a["start"] + 2)
    now = page.evaluate("raterApp.position()")
    assert in_b["start"] - 0.05 <= now["time"] <= in_b["end"]
    page.keyboard.press("Space")
    assert not page.evaluate("raterApp.position().playing")

    # judge with the keyboard, then reload: the unsent answer comes back
    listen_through(page)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("x")
    page.keyboard.press("t")
    page.keyboard.type("A keeps the groove; B's cut lands off the bar")
    page.keyboard.press("Escape")
    client_id = page.evaluate("raterApp.draft().client_id")
    page.reload()
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    assert page.evaluate("raterApp.task().task_id") == task["task_id"]
    assert page.input_value("#notes") == "A keeps the groove; B's cut lands off the bar"
    assert page.is_checked('input[name="choice"][value="a"]') and page.is_checked('input[name="strength"][value="2"]')
    assert page.evaluate("raterApp.draft().client_id") == client_id
    page.keyboard.press("s")
    wait_until(page, f"!window.raterApp.task() || raterApp.task().task_id !== {json.dumps(task['task_id'])}")

    exported = fetch_json(f"{live_server.base_url}/api/admin/export.json?token={live_server.admin_token}")
    mine = [p for p in exported if p.get("task_id") == task["task_id"]]
    assert len(mine) == 1
    pair = mine[0]
    winner = pair["edit_a"] if pair["preference"] == "a" else pair["edit_b"]
    assert winner["edit_id"] == a_id  # the rater preferred what they saw as A
    assert pair["strength"] == 2 and pair["rater"] == "alice" and pair["client_id"] == client_id
    assert pair["notes"] == "A keeps the groove; B's cut lands off the bar"
    assert pair["time_spent_ms"] > 1000

    # the next answer's first response is lost on the way back: the page retries with the
    # same client id, and the server records it once
    wait_until(page, "window.raterApp.ready()")
    second = page.evaluate("raterApp.task().task_id")
    dropped = []

    def drop_first_response(route):
        if not dropped:
            dropped.append(route.fetch().status)  # reaches the server, answer never arrives
            route.abort()
        else:
            route.continue_()

    page.route("**/api/judgments", drop_first_response)
    listen_through(page)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("s")
    wait_until(page, f"!raterApp.task() || raterApp.task().task_id !== {json.dumps(second)}", timeout_s=15)
    page.unroute("**/api/judgments")
    assert dropped == [201]

    # the last pair as equally good, sent while the connection is down: the page says so
    # and delivers it once the connection is back; then the queue is empty
    wait_until(page, "window.raterApp.ready()")
    listen_through(page)
    page.keyboard.press("ArrowUp")
    context.set_offline(True)
    page.keyboard.press("s")
    wait_until(page, "!document.getElementById('connection').hidden")
    assert "Connection lost" in page.locator("#connection").inner_text()
    assert page.evaluate("raterApp.task()") is not None
    context.set_offline(False)
    wait_until(page, "!document.getElementById('view-done').hidden", timeout_s=10)
    assert "nothing left" in page.locator("#done-message").inner_text()
    assert page.locator("#progress-text").inner_text() == "3 of 3 judged"
    exported = fetch_json(f"{live_server.base_url}/api/admin/export.json?token={live_server.admin_token}")
    assert sorted(p.get("tie_kind") or "" for p in exported) == ["", "both_bad", "both_good"]
    assert len({p["client_id"] for p in exported}) == len(exported) == 3

    # phone layout of the rater page
    phone_context, phone = open_page(chromium_browser, rater_url, PHONE, errors, is_mobile=True, has_touch=True)
    wait_until(phone, "!document.getElementById('view-done').hidden")
    phone.screenshot(path=str(artifacts_dir / "rater-phone-done.png"), full_page=True)
    phone_context.close()

    # the admin page shows the judgments and adds a rater whose link works
    admin_url = f"{live_server.base_url}/admin?token={live_server.admin_token}"
    admin_context, admin = open_page(chromium_browser, admin_url, DESKTOP, errors)
    wait_until(admin, "document.body.dataset.loaded === 'true'")
    row = admin.locator("#raters-table tbody tr", has_text="alice")
    assert row.locator("td").nth(1).inner_text() == "3"
    assert admin.locator("#overview div", has_text="Judgments").locator("dd").inner_text().startswith("3 of ")
    assert admin.locator("#screening-table tbody").inner_text().strip() == "No rater is flagged."
    assert admin.get_attribute("#export-json", "href").startswith("/api/admin/export.json?token=")
    admin.fill("#rater-name", "hilda")
    admin.check("#rater-held-out")
    admin.click("#add-rater button[type=submit]")
    wait_until(admin, "document.querySelector('#raters-table tbody').innerText.includes('hilda')")
    assert admin.locator("#raters-table tbody tr", has_text="hilda").locator("td").nth(0).inner_text() == "yes"
    admin.fill("#rater-name", "bob")
    admin.click("#add-rater button[type=submit]")
    wait_until(admin, "document.getElementById('new-link-name').textContent === 'bob'")
    link = admin.input_value("#new-link-url")
    assert link.startswith(live_server.base_url + "/r/")
    wait_until(admin, "document.querySelector('#raters-table tbody').innerText.includes('bob')")
    admin.screenshot(path=str(artifacts_dir / "admin-desktop.png"), full_page=True)
    admin.set_viewport_size(PHONE)
    admin.screenshot(path=str(artifacts_dir / "admin-phone.png"), full_page=True)
    admin_context.close()

    # bob's link opens his first task (the pair that needs a second rater) on a phone
    bob_context, bob = open_page(chromium_browser, link, PHONE, errors, is_mobile=True, has_touch=True)
    wait_until(bob, "window.raterApp && window.raterApp.ready()")
    assert "bob" in bob.locator("#rater-name").inner_text()
    # touch targets are at least 44 px tall
    heights = bob.evaluate("""() => [...document.querySelectorAll('#view-task button, #view-task .choice span')]
        .filter((el) => el.offsetParent !== null).map((el) => el.getBoundingClientRect().height)""")
    assert heights and min(heights) >= 44
    bob.screenshot(path=str(artifacts_dir / "rater-phone.png"), full_page=True)
    bob_context.close()
    context.close()
    # the only failed loads are the response dropped on purpose and the offline attempt
    assert [e for e in errors if "net::ERR_FAILED" not in e and "ERR_INTERNET_DISCONNECTED" not in e] == []
    assert sum("net::ERR_FAILED" in e for e in errors) == 1


def test_unknown_link_says_it_is_not_valid(chromium_browser, live_server):
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live_server.base_url}/r/not-a-real-token", DESKTOP, errors)
    wait_until(page, "!document.getElementById('view-error').hidden")
    assert "not valid" in page.locator("#error-message").inner_text()
    assert page.locator("#retry").is_hidden()
    context.close()


def test_the_page_test_hook_is_absent_without_the_test_setting(chromium_browser, production_server):
    errors: list[str] = []
    url = f"{production_server.base_url}/r/{production_server.rater_token}"
    context, page = open_page(chromium_browser, url, DESKTOP, errors)
    wait_until(page, "!document.getElementById('view-task').hidden")
    assert page.evaluate("typeof window.raterApp") == "undefined"
    context.close()
    assert errors == []


def test_rating_task_is_judged_on_the_poor_to_excellent_scale(chromium_browser, rating_server, artifacts_dir):
    errors: list[str] = []
    url = f"{rating_server.base_url}/r/{rating_server.rater_token}"
    context, page = open_page(chromium_browser, url, DESKTOP, errors)
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    assert page.evaluate("raterApp.task().kind") == "rating"
    assert page.locator("#rating-fields").is_visible() and page.locator("#choice-fields").is_hidden()
    assert page.locator("#version-a .version-name").inner_text() == "Edit"
    assert page.locator("#version-b").count() == 0
    page.keyboard.press("Space")
    wait_until(page, "raterApp.position().time > 0.3")
    page.keyboard.press("2")
    assert page.evaluate("raterApp.position().version") == "a"

    # drag across the edit's waveform: that region loops (and maps onto the original)
    box = page.locator('.version[data-version="a"] canvas').bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.25 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.35 * box["width"], y, steps=5)
    page.mouse.up()
    assert page.evaluate("raterApp.loopOn()")
    start, end = page.evaluate("raterApp.loop().a")
    axis = page.evaluate("raterApp.waveformScales().a")  # seconds across the width, shared with the original
    assert start == pytest.approx(0.25 * axis, abs=0.1) and end == pytest.approx(0.35 * axis, abs=0.1)
    o_start, o_end = page.evaluate("raterApp.loop().o")
    assert o_end - o_start == pytest.approx(
        end - start, abs=1.1
    )  # longer in the original when the edit cut beats there
    # watch playback for longer than the loop: it stays inside and wraps around
    seen = []
    deadline = time.monotonic() + (end - start) + 1.5
    while time.monotonic() < deadline and not (len(seen) > 1 and seen[-1] < seen[-2]):
        now = page.evaluate("raterApp.position()")
        assert now["version"] == "a" and now["playing"]
        seen.append(now["time"])
        time.sleep(0.05)
    assert all(start - 0.01 <= t <= end + 0.01 for t in seen)
    assert len(seen) > 1 and seen[-1] < seen[-2], "playback never wrapped around the loop"
    assert page.locator("#loop").get_attribute("aria-pressed") == "true"
    page.screenshot(path=str(artifacts_dir / "rater-rating-loop.png"), full_page=True)
    page.keyboard.press("l")
    assert not page.evaluate("raterApp.loopOn()")

    # or mark the loop's ends with [ and ] while listening
    t_in = page.evaluate("raterApp.position().time")
    page.keyboard.press("[")
    time.sleep(0.8)
    t_out = page.evaluate("raterApp.position().time")
    page.keyboard.press("]")
    assert page.evaluate("raterApp.loopOn()")
    loop_in, loop_out = page.evaluate("raterApp.loop().a")
    assert t_in <= loop_in <= t_in + 0.5 and t_out <= loop_out <= t_out + 0.5  # set when the keys were pressed
    page.keyboard.press("s")  # not heard enough yet: refused, and the page says what is missing
    assert page.locator("#form-error").inner_text().startswith("Listen first. Still to hear:")
    listen_through(page)
    page.keyboard.press("s")  # nothing chosen yet: a clear message, nothing sent
    assert "Rate the edit first" in page.locator("#form-error").inner_text()
    page.keyboard.press("c")
    page.keyboard.press("t")
    page.keyboard.type("clean cuts")
    page.keyboard.press("Control+Enter")
    wait_until(page, "!document.getElementById('view-done').hidden")
    ratings = fetch_json(f"{rating_server.base_url}/api/admin/ratings.json?token={rating_server.admin_token}")
    assert [(r["rating"], r["notes"]) for r in ratings] == [(3, "clean cuts")]
    context.close()
    assert errors == []


def test_beat_mapping_carries_positions_through_cuts_and_repeats(chromium_browser, live_server):
    """The page's beat maps: a cut beat maps to the splice, a repeat keeps its occurrence."""
    errors: list[str] = []
    context, page = open_page(chromium_browser, f"{live_server.base_url}/admin", DESKTOP, errors)
    result = page.evaluate("""async () => {
      const m = await import("/static/beatmap.js");
      const bounds = [0, 1, 2, 3, 4, 5];
      const o = m.sourceTimeline(bounds);
      const a = m.editTimeline(bounds, [0, 1, 1, 2, 4]);      // repeats beat 1, cuts beat 3
      const b = m.editTimeline(bounds, [0, 1, 1, 2, 3, 4]);   // repeats beat 1
      return {
        totalA: a.total,
        cutBeatInA: m.mapTime(o, a, 3.5),
        secondPlayToOriginal: m.mapTime(a, o, 2.5),
        secondPlayToB: m.mapTime(a, b, 2.5),
        secondPlayToA: m.mapTime(b, a, 2.25),
        pastCutBackToOriginal: m.mapTime(a, o, 4.5),
        differences: m.differences([0, 1, 1, 2, 4], [0, 1, 2, 3, 4], 5),
        located: m.locate(a, 2.5),
      };
    }""")
    context.close()
    assert result["totalA"] == 5
    assert result["cutBeatInA"] == 4.0  # beat 3 is cut in A: continue at its splice
    assert result["secondPlayToOriginal"] == 1.5
    assert result["secondPlayToB"] == 2.5  # both repeat beat 1: stay in the second play
    assert result["secondPlayToA"] == 2.25
    assert result["pastCutBackToOriginal"] == 4.5
    assert result["differences"] == [1, 3]
    assert result["located"] == {"slot": 2, "beat": 1, "fraction": 0.5, "occurrence": 1}

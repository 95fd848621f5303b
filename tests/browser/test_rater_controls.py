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


def post_judgment(live: LiveServer, body: dict) -> tuple[int, dict]:
    """POST a judgment as the rater; (status, JSON body), also for an error status."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{live.base_url}/api/judgments",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {live.rater_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def in_viewport(page, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(selector) => {
      const r = document.querySelector(selector).getBoundingClientRect();
      return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
    }""",
            selector,
        )
    )


def test_an_answer_from_a_second_tab_that_was_not_recorded_is_shown_as_not_saved(chromium_browser, fresh_server):
    live = fresh_server
    errors: list[str] = []
    context, first = open_rater_page(chromium_browser, live, errors)
    _, second = open_rater_page(chromium_browser, live, errors, context)
    task_id = first.evaluate("raterApp.task().task_id")
    assert second.evaluate("raterApp.task().task_id") == task_id
    client_id = first.evaluate("raterApp.draft().client_id")
    assert second.evaluate("raterApp.draft().client_id") == client_id  # one draft per task in the browser

    # the first tab answers "A is better, slightly" and it is saved
    listen_through(first)
    first.keyboard.press("ArrowLeft")
    first.keyboard.press("z")
    first.keyboard.press("s")
    wait_until(first, f"raterApp.task() && raterApp.task().task_id !== {json.dumps(task_id)}")
    assert first.locator("#save-notice").is_hidden()

    # the second tab answers the same song differently: the server keeps the first answer and says so
    submit_tie(second)
    wait_until(second, "!document.getElementById('save-notice').hidden")
    notice = second.locator("#save-notice-text").inner_text()
    assert notice.startswith("Your answer was not saved:") and "already answered differently" in notice
    assert in_viewport(second, "#save-notice")
    exported = fetch_json(f"{live.base_url}/api/admin/export.json?token={live.admin_token}")
    mine = [p for p in exported if p["task_id"] == task_id]
    assert len(mine) == 1 and mine[0]["preference"] != "tie" and mine[0]["strength"] == 1

    # over HTTP: the same answer again is acknowledged as a duplicate, another one is refused with 409
    listening = first.evaluate("raterApp.listening().record")
    shown_a_won = {"client_id": client_id, "task_id": task_id, "preference": "a", "strength": 1, "notes": ""}
    status, body = post_judgment(live, shown_a_won | {"listening": listening})
    assert (status, body["duplicate"]) == (200, True)
    status, body = post_judgment(live, shown_a_won | {"preference": "b", "listening": listening})
    assert status == 409 and "already answered differently" in body["detail"]
    context.close()
    assert errors == [], errors


def test_an_unsaved_answer_locks_the_form_keeps_its_banner_in_view_and_is_sent_when_online(
    chromium_browser, fresh_server
):
    live = fresh_server
    errors: list[str] = []
    context, page = open_rater_page(chromium_browser, live, errors)
    task_id = page.evaluate("raterApp.task().task_id")
    listen_through(page)
    page.keyboard.press("ArrowUp")
    page.evaluate("window.scrollTo(0, 0)")  # the rater is at the top of the page, far from the form
    context.set_offline(True)
    page.keyboard.press("s")
    # retried with a growing wait: once the next try is 4 s away, the connection comes back
    wait_until(page, "document.getElementById('connection').textContent.includes('Retrying in 4 s')", timeout_s=10)
    assert "your answer is NOT saved yet" in page.locator("#connection").inner_text()
    assert in_viewport(page, "#connection")
    # the form shows the answer being sent and cannot be changed meanwhile
    assert page.evaluate("document.getElementById('judgment').inert")
    assert page.locator("#save-state").inner_text().startswith("Saving your answer")
    page.keyboard.press("ArrowLeft")
    assert page.is_checked('input[name="choice"][value="both_good"]')
    assert not page.is_checked('input[name="choice"][value="a"]')
    assert fetch_json(f"{live.base_url}/api/my/judgments?token={live.rater_token}") == []

    context.set_offline(False)  # the browser's "online" event sends it at once, not 4 s later
    wait_until(page, f"raterApp.task() && raterApp.task().task_id !== {json.dumps(task_id)}", timeout_s=2.5)
    assert page.locator("#connection").is_hidden()
    assert not page.evaluate("document.getElementById('judgment').inert")
    judged = fetch_json(f"{live.base_url}/api/my/judgments?token={live.rater_token}")
    assert [j["task_id"] for j in judged] == [task_id]
    context.close()
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


# Four-minute song of 0.5 s beats: the page's own difference finder on edits that differ by long
# stretches (a 40 s cut, a 20 s repeat) and by two cuts one beat apart.
DIFFERENCE_EXCERPTS_JS = """
async () => {
  const m = await import("/static/beatmap.js");
  const bounds = Array.from({ length: 481 }, (_, i) => i / 2);
  const beats = (from, to) => Array.from({ length: to - from }, (_, k) => from + k);
  const whole = beats(0, 480);
  const cut40 = whole.filter((s) => s < 100 || s >= 180);
  const repeat20 = [...beats(0, 340), ...beats(300, 480)];
  const cutA = whole.filter((s) => s < 200 || s >= 208);
  const cutB = whole.filter((s) => s < 201 || s >= 209);
  const excerpts = (x, y) => m.differenceExcerpts(m.editTimeline(bounds, x), m.editTimeline(bounds, y), 3, 3);
  return { long: excerpts(cut40, repeat20), shifted: excerpts(cutA, cutB) };
}
"""


def test_next_difference_plays_a_few_seconds_around_each_difference_once(chromium_browser, fresh_server):
    errors: list[str] = []
    context, page = open_rater_page(chromium_browser, fresh_server, errors)
    found = page.evaluate(DIFFERENCE_EXCERPTS_JS)
    # A cuts 50-90 s of the song, B plays 150-170 s twice: two differences, 3 s either side of
    # where the edits part ways, in each edit's own time, not the whole 40 s or 20 s
    assert [(d["beat"], d["a"], d["b"]) for d in found["long"]] == [
        (100, [47.0, 53.0], [47.0, 53.0]),
        (300, [127.0, 133.0], [167.0, 173.0]),
    ]
    # two cuts one beat apart diverge once: one excerpt, not the same one twice
    assert [(d["beat"], d["a"], d["b"]) for d in found["shifted"]] == [(200, [97.0, 103.0], [97.0, 103.0])]

    # on the page: each press plays the next difference, A then B, each at most 6 s plus what it
    # merged; once through them all, the next press starts again at the first one
    diffs = page.evaluate("raterApp.differences()")
    assert diffs and len({(tuple(d["a"]), tuple(d["b"])) for d in diffs}) == len(diffs)
    page.evaluate("raterApp.setPlaybackRate(4)")
    played = []
    for _ in diffs:
        page.keyboard.press("n")
        excerpt = page.evaluate("raterApp.excerpts()")
        in_a, in_b = excerpt["excerpts"]
        assert in_a["start"] == pytest.approx(max(0.0, in_a["at"] - 3.0), abs=1e-6)
        assert in_b["start"] == pytest.approx(max(0.0, in_b["at"] - 3.0), abs=1e-6)
        merged = len(diffs[excerpt["index"]]["beats"]) - 1
        assert in_a["end"] - in_a["start"] <= 6.0 + 3.0 * merged + 1e-6
        played.append(excerpt["index"])
        wait_until(page, "raterApp.position().version === 'b'", timeout_s=5)
        wait_until(page, "!raterApp.position().playing", timeout_s=5)
    assert played == list(range(len(diffs)))
    page.keyboard.press("n")
    assert page.evaluate("raterApp.excerpts().index") == 0
    page.keyboard.press("Space")
    context.close()
    assert errors == []


def get_audio(live: LiveServer, url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    import urllib.request

    request = urllib.request.Request(
        live.base_url + url, headers={"Authorization": f"Bearer {live.rater_token}", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


def test_audio_comes_compressed_with_progress_and_the_original_plays_before_the_edits_arrive(
    chromium_browser, fresh_server
):
    live = fresh_server
    errors: list[str] = []
    context = chromium_browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    # about 40 kB/s: the compressed original of the test song takes a second or two
    conditions = {"offline": False, "latency": 20, "downloadThroughput": 40_000, "uploadThroughput": 40_000}
    cdp.send("Network.emulateNetworkConditions", conditions)
    page.goto(f"{live.base_url}/r/{live.rater_token}?head_bytes=16384")
    seen_partial = seen_early_task = seen_head = False
    for _ in range(400):
        state = page.evaluate(
            "window.raterApp ? {downloads: raterApp.downloads(), playable: raterApp.playable(),"
            " ready: raterApp.ready(), text: document.getElementById('loading-text').textContent,"
            " original_s: raterApp.playable() ? raterApp.player().duration('o') : null} : null"
        )
        if state:
            seen_partial |= any(0 < got < total for got, total in state["downloads"].values())
            seen_partial |= "%" in state["text"] and "MB" in state["text"]
            seen_early_task |= state["playable"] and not state["ready"]
            # the original's first part (a range request) plays before the rest of it is here
            seen_head |= state["playable"] and 0 < state["original_s"] < 15.0
            if state["ready"]:
                break
        page.wait_for_timeout(25)
    assert seen_partial, "no download progress was shown"
    assert seen_early_task, "the page waited for every version before showing the task"
    assert seen_head, "the page waited for the whole original before it could play"
    cdp.send("Network.emulateNetworkConditions", {**conditions, "downloadThroughput": -1, "uploadThroughput": -1})
    task_id = page.evaluate("raterApp.task().task_id")  # the next task's audio may be on its way already
    audio = page.evaluate(
        "performance.getEntriesByType('resource').map((e) => e.name)"
        f".filter((n) => n.includes('/tasks/{task_id}/audio/'))"
    )
    assert sorted(url.split("/audio/")[1] for url in audio) == [
        "a?format=ogg",
        "b?format=ogg",
        "original?format=ogg",  # its first part...
        "original?format=ogg",  # ...and the rest
    ]

    # over HTTP: the compressed copy is a fraction of the WAV, has as many samples, and takes ranges
    base = f"/api/tasks/{task_id}/audio/original"
    _, wav_headers, wav = get_audio(live, base)
    status, ogg_headers, ogg = get_audio(live, base + "?format=ogg")
    assert status == 200 and ogg_headers["content-type"] == "audio/ogg" and ogg[:4] == b"OggS"
    assert len(ogg) < len(wav) / 4
    status, range_headers, head = get_audio(live, base + "?format=ogg", {"Range": "bytes=0-999"})
    assert status == 206 and len(head) == 1000 and head == ogg[:1000]
    assert range_headers["content-range"] == f"bytes 0-999/{len(ogg)}"
    duration = page.evaluate("raterApp.player().duration('o')")  # all of it, once it is here
    assert duration == pytest.approx(len(wav) / 2 / 22050, abs=0.01)  # 16-bit mono WAV of the test song
    context.close()
    assert errors == []


def top_pixel(page, version: str, time_s: float, scale_s: float) -> list[int]:
    """RGBA of the waveform canvas's top row at ``time_s`` (where heard parts are marked)."""
    return page.evaluate(
        """([version, fraction]) => {
      const canvas = document.querySelector(`.version[data-version="${version}"] canvas`);
      const x = Math.round(fraction * canvas.width);
      return Array.from(canvas.getContext("2d").getImageData(x, 1, 1, 1).data);
    }""",
        [version, time_s / scale_s],
    )


def test_waveforms_share_a_time_axis_mark_what_was_heard_and_paused_switching_does_not_drift(
    chromium_browser, fresh_server
):
    live = fresh_server
    errors: list[str] = []
    context, page = open_rater_page(chromium_browser, live, errors)

    # first visit: the instructions are shown; put away, they stay away; "How it works" brings them back
    assert page.locator("#intro").is_visible()
    page.click("#intro-start")
    assert page.locator("#intro").is_hidden()
    page.reload()
    wait_until(page, "window.raterApp && window.raterApp.ready()")
    assert page.locator("#intro").is_hidden()
    page.click("#show-intro")
    assert page.locator("#intro").is_visible()
    page.click("#intro-start")

    # every element named by aria-label says what it shows (axe's label-content-name-mismatch)
    mismatched = page.evaluate("""() => [...document.querySelectorAll('button[aria-label], a[aria-label], [role=button][aria-label], [role=radio][aria-label]')]
      .filter((el) => el.offsetParent !== null && el.innerText.trim())
      .filter((el) => !el.getAttribute('aria-label').toLowerCase().includes(el.innerText.trim().toLowerCase()))
      .map((el) => el.id || el.outerHTML.slice(0, 60))""")
    assert mismatched == []
    assert page.get_by_role("button", name="Listen to A").count() == 1

    # one time axis for the original, A and B: the longest fills the width
    durations = {v: page.evaluate(f"raterApp.player().duration('{v}')") for v in ("o", "a", "b")}
    scales = page.evaluate("raterApp.waveformScales()")
    assert set(scales) == {"o", "a", "b"}
    assert all(s == pytest.approx(max(durations.values()), abs=0.05) for s in scales.values())

    # paused, switching A -> B -> A through a stretch B does not play comes back to the same point
    task = page.evaluate("raterApp.task()")
    bounds = task["song"]["segment_bounds_s"]
    seq = {v: task[v]["beat_sequence"] for v in ("a", "b")}
    own, other = ("a", "b") if set(seq["a"]) - set(seq["b"]) else ("b", "a")
    slot = next(k for k, beat in enumerate(seq[own]) if beat not in seq[other])
    t = sum(bounds[s + 1] - bounds[s] for s in seq[own][:slot]) + 0.4 * (
        bounds[seq[own][slot] + 1] - bounds[seq[own][slot]]
    )
    page.evaluate(f"raterApp.player().seek('{own}', {t})")
    for _ in range(3):
        page.keyboard.press(other)
        page.keyboard.press(own)
    now = page.evaluate("raterApp.position()")
    assert now["version"] == own and now["time"] == pytest.approx(t, abs=1e-6) and not now["playing"]

    # what was played is marked along the top of its waveform, and nothing else is
    page.evaluate(f"raterApp.player().seek('{own}', 0)")
    page.evaluate("raterApp.setPlaybackRate(4)")
    page.keyboard.press("Space")
    wait_until(page, "raterApp.position().time > 4.0")
    page.keyboard.press("Space")
    page.evaluate("raterApp.setPlaybackRate(1)")
    heard = page.evaluate(f"raterApp.listening().heard.{own}")
    assert heard and heard[0][0] == pytest.approx(0.0, abs=0.05) and heard[0][1] > 4.0
    wait_until(page, "raterApp.listening() && true")
    scale = scales[own]
    r, g, b, alpha = top_pixel(page, own, 2.0, scale)
    assert alpha > 200 and (r, g, b) == pytest.approx((0x2B, 0x7A, 0x0B), abs=30)
    r, g, b, alpha = top_pixel(page, own, heard[0][1] + 3.0, scale)
    assert not (alpha > 200 and (r, g, b) == pytest.approx((0x2B, 0x7A, 0x0B), abs=30))
    context.close()
    assert errors == []


AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"label-content-name-mismatch": {"enabled": True}}}


def test_axe_finds_nothing_serious_on_the_rater_and_admin_pages(chromium_browser, fresh_server):
    """axe-core (with its experimental label-content-name-mismatch rule on) over the rater page with a task
    and the admin page, on a desktop and on a phone."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright", reason="needs axe-playwright-python")
    from browser_helpers import PHONE

    live = fresh_server
    found = []
    for viewport in (DESKTOP, PHONE):
        context = chromium_browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{live.base_url}/r/{live.rater_token}")
        wait_until(page, "window.raterApp && window.raterApp.ready()")
        pages = [("rater", page)]
        admin = context.new_page()
        admin.goto(f"{live.base_url}/admin?token={live.admin_token}")
        wait_until(admin, "document.body.dataset.loaded === 'true'")
        pages.append(("admin", admin))
        for name, shown in pages:
            for violation in axe.Axe().run(shown, options=AXE_OPTIONS).response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]]
                    found.append((name, viewport["width"], violation["id"], targets))
        context.close()
    assert found == []


def test_the_last_answer_can_be_revised(chromium_browser, fresh_server):
    live = fresh_server
    errors: list[str] = []
    context, page = open_rater_page(chromium_browser, live, errors)
    assert page.locator("#revise").is_hidden()  # nothing answered yet
    first = page.evaluate("raterApp.task()")
    a_id, _ = live.presented_edit_ids(first["task_id"])
    submit_tie(page)
    wait_until(page, f"raterApp.task() && raterApp.task().task_id !== {json.dumps(first['task_id'])}")
    wait_until(page, "raterApp.ready()")
    assert page.locator("#revise-summary").inner_text() == "Your last answer (song1): Equally good."

    # revise it: A is better, significantly, with a note
    page.click("#revise-open")
    assert page.locator("#revise-dialog").is_visible()
    page.keyboard.press("Space")  # a key inside the dialog does not reach the player behind it
    assert not is_playing(page)
    page.locator("#revise-choice label", has_text="A is better").click()
    page.locator("#revise-strength label", has_text="Significantly").click()
    page.fill("#revise-notes", "on second thought A's cut is cleaner")
    page.click("#revise-save")
    wait_until(page, "!document.getElementById('revise-dialog').open")
    assert page.locator("#revise-summary").inner_text() == "Your last answer (song1): A is better, significantly."
    exported = fetch_json(f"{live.base_url}/api/admin/export.json?token={live.admin_token}")
    (pair,) = [p for p in exported if p["task_id"] == first["task_id"]]
    winner = pair["edit_a"] if pair["preference"] == "a" else pair["edit_b"]
    assert winner["edit_id"] == a_id and pair["strength"] == 3 and pair["tie_kind"] is None
    assert pair["notes"] == "on second thought A's cut is cleaner"

    # only the last answer: once the next one is saved, the first cannot be changed any more
    second = page.evaluate("raterApp.task().task_id")
    submit_tie(page)
    wait_until(page, f"!raterApp.task() || raterApp.task().task_id !== {json.dumps(second)}")
    status, body = post_revision(live, {"task_id": first["task_id"], "preference": "b", "strength": 1})
    assert status == 409 and "only your last answer" in body["detail"]
    context.close()
    assert errors == []


def post_revision(live: LiveServer, body: dict) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{live.base_url}/api/judgments/last",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {live.rater_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())

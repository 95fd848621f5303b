"""Must-listen and the headphone check through HTTP, listening seconds in export and import, song structure."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rl_editor.audio.song import segment_bounds
from rl_editor.feedback.app import create_app
from rl_editor.feedback.export import export_file, import_file
from rl_editor.feedback.listening import (
    ListeningRequirement,
    differing_regions_s,
    full_listening,
    task_requirements,
)
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.store.headphones import PASS_SCORE, TRIALS
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.generate.manifest import Manifest
from rl_editor.preferences import Listening, load_preferences


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _next(client, token):
    """The rater's next task, every version of it fetched (a listening record may claim only audio that was sent)."""
    task = client.get("/api/next", headers=_auth(token)).json()
    for part in (task.get("song"), task.get("a"), task.get("b")):
        if part:
            client.get(part["audio_url"], headers=_auth(token))
    return task


def _vote(task, listening, **fields):
    body = {
        "client_id": str(uuid.uuid4()),
        "task_id": task["task_id"],
        "preference": "a",
        "strength": 2,
        "notes": "",
        "time_spent_ms": 1000,
        **fields,
    }
    if listening is not None:
        body["listening"] = listening
    return body


@pytest.fixture
def served(manifest_path, db_url):
    """The app over the test manifest with pair tasks, a rater and an admin token."""
    app = create_app(manifest_path, db_url, TaskConfig(gold_per_rater=0, seed=1))
    store = app.state.store
    with TestClient(app) as client:
        yield client, store, store.add_rater("alice"), store.create_admin_token()


# -- the requirement -----------------------------------------------------------------------------


def test_a_cut_section_is_a_region_around_its_splice_in_one_edit_and_its_whole_length_in_the_other():
    bounds = np.arange(17, dtype=float)  # sixteen one-second beats
    whole = list(range(16))
    without_section = [b for b in whole if not 4 <= b < 12]
    regions = differing_regions_s(whole, without_section, bounds)
    assert regions == {"a": [[3.0, 13.0]], "b": [[3.0, 5.0]]}
    needs = task_requirements([whole, without_section], [16.0, 8.0], bounds, min_seconds=20)
    # hearing the regions (90 % of them) is enough, fewer seconds than the 20 s minimum would need
    assert needs["a"].needed_s == pytest.approx(9.0) and needs["b"].needed_s == pytest.approx(1.8)
    assert not needs["a"].is_met(5.0) and needs["a"].is_met(9.0)
    # a long shared stretch does not count as a difference: a short minimum wins over long regions
    assert task_requirements([whole, without_section], [16.0, 8.0], bounds, min_seconds=4)["a"].needed_s == 4.0


def test_a_rating_needs_the_minimum_or_the_whole_edit_when_shorter():
    bounds = np.arange(11, dtype=float)
    needs = task_requirements([list(range(10))], [10.0], bounds, min_seconds=20)
    assert set(needs) == {"a"} and needs["a"] == ListeningRequirement(10.0, [])
    assert task_requirements([list(range(10))], [10.0], bounds, min_seconds=0)["a"].needed_s == 0


# -- the server enforces it ------------------------------------------------------------------------


def test_tasks_say_what_must_be_heard_of_each_edit(served):
    client, store, token, _ = served
    task = _next(client, token)
    bounds = segment_bounds(task["song"]["beats"], task["song"]["duration_seconds"])
    expected = differing_regions_s(task["a"]["beat_sequence"], task["b"]["beat_sequence"], bounds)
    for side in ("a", "b"):
        need = task[side]["must_listen"]
        assert need["regions_s"] == expected[side]
        assert need["min_seconds"] == pytest.approx(min(20.0, task[side]["duration_seconds"]), abs=1e-3)


def test_a_judgment_without_a_listening_record_gets_422_and_is_not_recorded(served):
    client, _, token, _ = served
    task = _next(client, token)
    response = client.post("/api/judgments", json=_vote(task, None), headers=_auth(token))
    assert response.status_code == 422
    assert response.json()["detail"].startswith("listening record missing")
    assert client.get("/api/my/judgments", headers=_auth(token)).json() == []
    assert client.get("/api/next", headers=_auth(token)).json()["task_id"] == task["task_id"]


def test_too_little_listening_gets_422_naming_the_version_still_unheard(served):
    client, _, token, _ = served
    task = _next(client, token)
    need_b = ListeningRequirement(**task["b"]["must_listen"]).needed_s
    assert need_b > 0.5
    short = {"a_s": task["a"]["duration_seconds"], "b_s": 0.1, "original_s": 0.0}
    response = client.post("/api/judgments", json=_vote(task, short), headers=_auth(token))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "not listened enough" in detail and "B (0.1 s of" in detail and "A (" not in detail
    enough = {**short, "b_s": need_b}
    assert client.post("/api/judgments", json=_vote(task, enough), headers=_auth(token)).status_code == 201


def test_listening_seconds_are_stored_in_the_tasks_order_and_exported(served):
    client, store, token, admin = served
    rater_id = store.authenticate_rater(token).id
    sent = []
    while True:  # every task: the order each is shown in is random, and both must come up
        task = _next(client, token)
        if task.get("done"):
            break
        shown = [e.edit_id for e in store.next_task(rater_id).edits]
        listening = {
            "a_s": task["a"]["duration_seconds"] + 0.25,
            "b_s": task["b"]["duration_seconds"] + 0.5,
            "original_s": 1.5,
        }
        assert client.post("/api/judgments", json=_vote(task, listening), headers=_auth(token)).status_code == 201
        sent.append((task["task_id"], dict(zip(shown, (listening["a_s"], listening["b_s"])))))
    exported = {p["task_id"]: p for p in client.get("/api/admin/export.json", headers=_auth(admin)).json()}
    orders = {p["presented_order"] for p in exported.values()}
    assert orders == {"ab", "ba"}, "the test needs both presentation orders"
    for task_id, seconds_by_edit in sent:
        pair = exported[task_id]
        assert pair["listening"] == {
            "a_s": seconds_by_edit[pair["edit_a"]["edit_id"]],
            "b_s": seconds_by_edit[pair["edit_b"]["edit_id"]],
            "original_s": 1.5,
        }
    csv_text = client.get("/api/admin/export.csv", headers=_auth(admin)).text
    assert "listened_a_s,listened_b_s,listened_original_s" in csv_text.splitlines()[0]


def test_must_listen_set_to_zero_accepts_judgments_without_a_record(served):
    client, store, token, _ = served
    store.set_must_listen_seconds(0)
    task = _next(client, token)
    assert task["a"]["must_listen"] == {"min_seconds": 0.0, "regions_s": []}
    assert client.post("/api/judgments", json=_vote(task, None), headers=_auth(token)).status_code == 201


def test_a_campaigns_own_setting_wins_over_the_store_wide_one(served):
    client, store, token, _ = served
    store.set_must_listen_seconds(0)
    store.set_must_listen_seconds(1.0, campaign="collect")
    task = _next(client, token)
    assert task["a"]["must_listen"]["min_seconds"] == 1.0
    refused = client.post("/api/judgments", json=_vote(task, {"a_s": 0.2, "b_s": 0.2}), headers=_auth(token))
    assert refused.status_code == 422


# -- export and import ---------------------------------------------------------------------------


def test_listening_seconds_survive_export_and_import_and_older_files_import_without_them(served, tmp_path):
    client, store, token, _ = served
    for k in range(3):
        task = _next(client, token)
        listening = {**full_listening(task), "original_s": float(k)}
        assert client.post("/api/judgments", json=_vote(task, listening), headers=_auth(token)).status_code == 201
    assert export_file(store, tmp_path / "prefs.json") == 3
    first = load_preferences(tmp_path / "prefs.json")
    assert sorted(p.listening.original_s for p in first) == [0.0, 1.0, 2.0]

    with FeedbackStore.open(f"sqlite:///{tmp_path / 'other.sqlite'}") as other:
        assert import_file(other, tmp_path / "prefs.json") == (3, 0)
        export_file(other, tmp_path / "again.json")
        again = {p.client_id: p.listening for p in load_preferences(tmp_path / "again.json")}
    assert again == {p.client_id: p.listening for p in first}

    older = [
        {key: value for key, value in p.to_json().items() if key != "listening"} | {"client_id": "old-" + p.client_id}
        for p in load_preferences(tmp_path / "prefs.json")
    ]
    (tmp_path / "older.json").write_text(json.dumps(older))
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'third.sqlite'}") as third:
        assert import_file(third, tmp_path / "older.json") == (3, 0)
        exported = third.export_pairs()
    assert all(p.listening == Listening() for p in exported)


# -- headphone check ------------------------------------------------------------------------------


def _answers(trials, pick):
    return [tones.index(pick) for tones in trials]


def test_with_the_headphone_check_on_tasks_wait_until_the_rater_passes(served):
    client, store, token, admin = served
    store.set_headphone_check(True)
    me = client.get("/api/me", headers=_auth(token)).json()["headphone_check"]
    assert me["required"] and me["passed"] is None and me["attempts_left"] == 2
    refused = client.get("/api/next", headers=_auth(token))
    assert refused.status_code == 403 and "headphone check" in refused.json()["detail"]

    drawn = client.post("/api/headphone-check/trials", headers=_auth(token)).json()
    assert len(drawn["trials"]) == TRIALS
    assert all(sorted(t) == ["antiphase", "quiet", "reference"] for t in drawn["trials"])
    # asking again hands out the same open attempt (a reload cannot redraw an easier one)
    assert client.post("/api/headphone-check/trials", headers=_auth(token)).json() == drawn
    answers = _answers(drawn["trials"], "quiet")
    answers[0] = (answers[0] + 1) % 3  # one mistake still passes
    result = client.post(
        "/api/headphone-check", json={"check_id": drawn["check_id"], "answers": answers}, headers=_auth(token)
    ).json()
    assert result["passed"] and result["score"] == TRIALS - 1 >= PASS_SCORE and result["checked_at"]
    assert client.get("/api/next", headers=_auth(token)).status_code == 200
    again = client.post(
        "/api/headphone-check", json={"check_id": drawn["check_id"], "answers": answers}, headers=_auth(token)
    )
    assert again.status_code == 409
    row = next(
        r for r in client.get("/api/admin/summary", headers=_auth(admin)).json()["raters"] if r["name"] == "alice"
    )
    assert row["headphone_check"]["passed"] and row["headphone_check"]["score"] == TRIALS - 1


def test_picking_the_antiphase_tone_fails_and_attempts_run_out(served):
    client, store, token, admin = served
    store.set_headphone_check(True)
    for attempt in range(2):
        drawn = client.post("/api/headphone-check/trials", headers=_auth(token)).json()
        result = client.post(
            "/api/headphone-check",
            headers=_auth(token),
            json={"check_id": drawn["check_id"], "answers": _answers(drawn["trials"], "antiphase")},
        )
        assert result.json()["passed"] is False and result.json()["score"] == 0
        assert result.json()["attempts_left"] == 1 - attempt
    assert client.post("/api/headphone-check/trials", headers=_auth(token)).status_code == 403
    assert client.get("/api/next", headers=_auth(token)).status_code == 403
    row = next(
        r for r in client.get("/api/admin/summary", headers=_auth(admin)).json()["raters"] if r["name"] == "alice"
    )
    assert row["headphone_check"]["passed"] is False and row["headphone_check"]["attempts_used"] == 2


def test_a_client_cannot_answer_anothers_check_or_send_malformed_answers(served):
    client, store, token, _ = served
    store.set_headphone_check(True)
    bob = store.add_rater("bob")
    drawn = client.post("/api/headphone-check/trials", headers=_auth(token)).json()
    stolen = client.post(
        "/api/headphone-check",
        headers=_auth(bob),
        json={"check_id": drawn["check_id"], "answers": _answers(drawn["trials"], "quiet")},
    )
    assert stolen.status_code == 404
    short = client.post(
        "/api/headphone-check", headers=_auth(token), json={"check_id": drawn["check_id"], "answers": [0, 1]}
    )
    assert short.status_code == 422
    assert client.get("/api/me", headers=_auth(bob)).json()["headphone_check"]["passed"] is None


def test_the_check_is_off_by_default(served):
    client, _, token, _ = served
    assert client.get("/api/me", headers=_auth(token)).json()["headphone_check"]["required"] is False
    assert client.get("/api/next", headers=_auth(token)).status_code == 200


# -- structure -----------------------------------------------------------------------------------


def test_the_songs_structure_reaches_the_rater_page_and_older_manifests_send_none(manifest_path, tmp_path):
    manifest = Manifest.load(manifest_path)
    structure = {
        "version": 1,
        "bar_start_beats": [0, 4, 8, 12],
        "phrase_start_beats": [0, 8],
        "section_start_beats": [0, 8],
        "section_labels": ["A", "B"],
    }
    manifest.songs[0].extra["structure"] = structure
    manifest.save()
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0, seed=1))
    token = app.state.store.add_rater("alice")
    seen = {}
    with TestClient(app) as client:
        for _ in range(12):
            task = _next(client, token)
            if task.get("done"):
                break
            seen[task["song"]["song_id"]] = task["song"]["structure"]
            client.post("/api/judgments", json=_vote(task, full_listening(task)), headers=_auth(token))
    assert seen == {"song0": structure, "song1": None}

"""The JSON API through HTTP (FastAPI TestClient): contract shapes, auth, validation, isolation."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from rl_editor.feedback.app import create_app
from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.tasks import TaskConfig


@pytest.fixture
def app(manifest_path, tmp_path):
    return create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _next(client, token):
    """The rater's next task, every version of it fetched (a listening record may claim only audio that was sent)."""
    task = client.get("/api/next", headers=_auth(token)).json()
    for part in (task.get("song"), task.get("a"), task.get("b")):
        if part:
            client.get(part["audio_url"], headers=_auth(token))
    return task


def _vote(task, **fields):
    return {
        "client_id": str(uuid.uuid4()),
        "task_id": task["task_id"],
        "preference": "a",
        "strength": 2,
        "tie_kind": None,
        "notes": "",
        "time_spent_ms": 1234,
        "listening": full_listening(task),
        **fields,
    }


def test_next_follows_the_contract_and_resumes_until_judged(app, client):
    token = app.state.store.add_rater("alice")
    me = client.get("/api/me", headers=_auth(token)).json()
    assert me["rater"] == "alice" and me["done"] == 0 and me["total"] == 12
    task = _next(client, token)
    assert task["kind"] == "pair" and set(task) >= {"task_id", "song", "a", "b", "progress"}
    song = task["song"]
    assert len(song["segment_bounds_s"]) == len(song["beats"]) + 1 and song["audio_url"].endswith("/audio/original")
    for side, label in (("a", "A"), ("b", "B")):
        assert task[side]["label"] == label
        assert set(task[side]) >= {"audio_url", "duration_seconds", "beat_sequence", "splice_times_s"}
        assert client.get(task[side]["audio_url"], headers=_auth(token)).status_code == 200
    assert client.get("/api/next", headers=_auth(token)).json()["task_id"] == task["task_id"]
    response = client.post("/api/judgments", json=_vote(task), headers=_auth(token))
    assert response.status_code == 201 and response.json()["duplicate"] is False
    assert client.get("/api/next", headers=_auth(token)).json()["task_id"] != task["task_id"]
    assert client.get("/api/me", headers=_auth(token)).json()["done"] == 1


def test_queue_end_says_done(app, client):
    token = app.state.store.add_rater("alice")
    for _ in range(12):
        task = _next(client, token)
        assert (
            client.post(
                "/api/judgments", json=_vote(task, preference="tie", tie_kind="both_good"), headers=_auth(token)
            ).status_code
            == 201
        )
    end = client.get("/api/next", headers=_auth(token)).json()
    assert end["done"] is True and end["message"]


def test_duplicate_submission_answers_200_and_is_stored_once(app, client):
    token = app.state.store.add_rater("alice")
    task = _next(client, token)
    vote = _vote(task)
    first = client.post("/api/judgments", json=vote, headers=_auth(token))
    again = client.post("/api/judgments", json=vote, headers=_auth(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"judgment_id": first.json()["judgment_id"], "duplicate": True}
    assert len(app.state.store.export_pairs()) == 1


@pytest.mark.parametrize("token", [None, "forged-token", "x" * 43])
def test_missing_or_forged_tokens_get_401(client, token):
    headers = _auth(token) if token else {}
    for path in ("/api/me", "/api/next", "/api/admin/summary", "/api/admin/export.json"):
        assert client.get(path, headers=headers).status_code == 401
    assert client.post("/api/judgments", json={}, headers=headers).status_code in (401, 422)


def test_expired_tokens_get_401(app, client):
    rater = app.state.store.add_rater("late", expires_in_s=-1)
    admin = app.state.store.create_admin_token(expires_in_s=-1)
    assert client.get("/api/next", headers=_auth(rater)).status_code == 401
    assert client.get("/api/admin/summary", headers=_auth(admin)).status_code == 401


def test_raters_cannot_reach_admin_routes_or_each_others_work(app, client):
    alice, bob = app.state.store.add_rater("alice"), app.state.store.add_rater("bob")
    for path in ("/api/admin/summary", "/api/admin/export.json", "/api/admin/export.csv"):
        assert client.get(path, headers=_auth(alice)).status_code == 403
    assert client.post("/api/admin/raters", json={"name": "eve"}, headers=_auth(alice)).status_code == 403
    task = _next(client, alice)
    response = client.post("/api/judgments", json=_vote(task), headers=_auth(bob))
    assert response.status_code == 403 and "not assigned" in response.json()["detail"]
    client.post("/api/judgments", json=_vote(task, notes="alice's secret"), headers=_auth(alice))
    assert "alice's secret" not in client.get("/api/my/judgments", headers=_auth(bob)).text
    assert "alice's secret" in client.get("/api/my/judgments", headers=_auth(alice)).text
    unknown = client.post("/api/judgments", json={**_vote(task), "task_id": "nope"}, headers=_auth(alice))
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "change, field",
    [
        ({"preference": "c"}, "preference"),
        ({"strength": 4}, "strength"),
        ({"strength": 0}, "strength"),
        ({"strength": "2"}, "strength"),
        ({"notes": "x" * 2001}, "notes"),
        ({"tie_kind": "meh"}, "tie_kind"),
        ({"time_spent_ms": -5}, "time_spent_ms"),
        ({"client_id": ""}, "client_id"),
    ],
)
def test_bad_fields_get_a_clear_422(app, client, change, field):
    token = app.state.store.add_rater("alice")
    task = _next(client, token)
    response = client.post("/api/judgments", json=_vote(task, **change), headers=_auth(token))
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str) and field in response.json()["detail"]


def test_malformed_json_and_missing_fields_get_4xx(app, client):
    token = app.state.store.add_rater("alice")
    task = _next(client, token)
    bad = client.post(
        "/api/judgments", content=b"{not json", headers={**_auth(token), "Content-Type": "application/json"}
    )
    assert bad.status_code == 422 and "JSON" in bad.json()["detail"]
    missing = client.post("/api/judgments", json={"task_id": task["task_id"]}, headers=_auth(token))
    assert missing.status_code == 422 and "client_id" in missing.json()["detail"]
    no_choice = client.post("/api/judgments", json=_vote(task, preference=None), headers=_auth(token))
    assert no_choice.status_code == 422 and "preference" in no_choice.json()["detail"]
    assert len(app.state.store.export_pairs()) == 0


def test_admin_summary_export_and_new_rater(app, client):
    store = app.state.store
    admin, alice = store.create_admin_token(), store.add_rater("alice")
    task = _next(client, alice)
    client.post("/api/judgments", json=_vote(task, notes="crisp"), headers=_auth(alice))
    summary = client.get("/api/admin/summary", params={"token": admin}).json()
    assert summary["raters"][0]["name"] == "alice" and summary["raters"][0]["done"] == 1
    assert {s["song_id"] for s in summary["songs"]} == {"song0", "song1"}
    assert set(summary["agreement"]) == {
        "krippendorff_alpha",
        "raw_agreement",
        "position_bias_a_share",
        "n_pairs_multi_rated",
    }
    exported = client.get("/api/admin/export.json", headers=_auth(admin)).json()
    assert exported[0]["notes"] == "crisp" and exported[0]["rater"] == "alice"
    assert "crisp" in client.get("/api/admin/export.csv", headers=_auth(admin)).text
    made = client.post("/api/admin/raters", json={"name": "bob", "held_out": True}, headers=_auth(admin))
    assert made.status_code == 201 and made.json()["link"].endswith(f"/r/{made.json()['token']}")
    assert client.get("/api/me", headers=_auth(made.json()["token"])).json()["rater"] == "bob"
    assert client.post("/api/admin/raters", json={"name": "bob"}, headers=_auth(admin)).status_code == 409


def test_rating_tasks_over_http(manifest_path, tmp_path):
    config = TaskConfig(gold_per_rater=0, ratings_per_song=1, pairs_per_song=0)
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", config)
    token = app.state.store.add_rater("alice")
    with TestClient(app) as client:
        task = _next(client, token)
        assert task["kind"] == "rating" and "b" not in task and task["a"]["label"] == "A"
        bad = client.post(
            "/api/judgments", json={"client_id": "r1", "task_id": task["task_id"], "rating": 5}, headers=_auth(token)
        )
        assert bad.status_code == 422 and "rating" in bad.json()["detail"]
        pair_vote = client.post("/api/judgments", json=_vote(task), headers=_auth(token))
        assert pair_vote.status_code == 422 and "rating" in pair_vote.json()["detail"]
        ok = client.post(
            "/api/judgments",
            json={
                "client_id": "r2",
                "task_id": task["task_id"],
                "rating": 2,
                "notes": "a bit choppy",
                "time_spent_ms": 900,
                "listening": full_listening(task),
            },
            headers=_auth(token),
        )
        assert ok.status_code == 201
        admin = app.state.store.create_admin_token()
        ratings = client.get("/api/admin/ratings.json", headers=_auth(admin)).json()
        assert ratings[0]["rating_label"] == "Okay" and ratings[0]["notes"] == "a bit choppy"

"""Managing raters and exporting from the admin API and the CLI, through the real app over HTTP.

Deactivating, activating and revoking a rater, a new link, giving back headphone
check attempts; campaign coverage and quotas in the summary; ratings exported per
campaign as JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from fastapi.testclient import TestClient

from rl_editor.feedback.app import create_app
from rl_editor.feedback.settings import FeedbackSettings
from rl_editor.feedback.tasks import TaskConfig


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_app(manifest_path, tmp_path):
    """The app (ratings tasks too), a client, an admin token, a rater token and the SQLite file."""
    db = tmp_path / "fb.sqlite"
    config = TaskConfig(gold_per_rater=0, ratings_per_song=1, pairs_per_song=2)
    app = create_app(manifest_path, f"sqlite:///{db}", config, FeedbackSettings(auth_cache_seconds=0.0))
    store = app.state.store
    store.set_must_listen_seconds(0)
    with TestClient(app) as client:
        yield client, store.create_admin_token(), store.add_rater("ana"), db


def _act(client, admin, name, action):
    return client.post("/api/admin/rater-actions", headers=_auth(admin), json={"name": name, "action": action})


def _status(client, admin, name):
    rows = client.get("/api/admin/summary", headers=_auth(admin)).json()["raters"]
    return next(r["status"] for r in rows if r["name"] == name)


def test_deactivate_activate_revoke_and_a_new_link(admin_app):
    client, admin, ana, _ = admin_app
    assert client.get("/api/next", headers=_auth(ana)).status_code == 200  # ana holds a task
    done = _act(client, admin, "ana", "deactivate").json()
    assert done["tasks_handed_back"] == 1 and _status(client, admin, "ana") == "deactivated"
    assert client.get("/api/me", headers=_auth(ana)).status_code == 401
    assert _act(client, admin, "ana", "activate").status_code == 200
    assert client.get("/api/me", headers=_auth(ana)).status_code == 200
    assert _act(client, admin, "ana", "revoke").status_code == 200
    assert client.get("/api/me", headers=_auth(ana)).status_code == 401
    assert _status(client, admin, "ana") == "revoked"
    link = _act(client, admin, "ana", "new-link").json()["link"]
    assert client.get("/api/me", headers=_auth(link.rsplit("/", 1)[1])).json()["rater"] == "ana"
    assert client.get("/api/me", headers=_auth(ana)).status_code == 401
    assert [r["status"] for r in client.get("/api/admin/raters", headers=_auth(admin)).json()] == ["active"]


def test_rater_actions_refuse_unknown_raters_and_rater_tokens(admin_app):
    client, admin, ana, _ = admin_app
    missing = _act(client, admin, "nobody", "revoke")
    assert missing.status_code == 404 and "no rater named 'nobody'" in missing.json()["detail"]
    assert _act(client, admin, "ana", "explode").status_code == 422
    assert _act(client, ana, "ana", "activate").status_code == 403


def _fail_headphone_check(client, token):
    started = client.post("/api/headphone-check/trials", headers=_auth(token))
    assert started.status_code == 200, started.text
    body = started.json()
    wrong = [tones.index("antiphase") for tones in body["trials"]]
    answered = client.post(
        "/api/headphone-check", headers=_auth(token), json={"check_id": body["check_id"], "answers": wrong}
    )
    assert answered.json()["passed"] is False


def test_resetting_the_headphone_check_gives_the_attempts_back(admin_app, rl_editor_main):
    client, admin, ana, db = admin_app
    client.app.state.store.set_headphone_check(True)
    for _ in range(2):
        _fail_headphone_check(client, ana)
    assert client.post("/api/headphone-check/trials", headers=_auth(ana)).status_code == 403
    assert _act(client, admin, "ana", "reset-headphones").json()["attempts_cleared"] == 2
    _fail_headphone_check(client, ana)
    _fail_headphone_check(client, ana)
    code, out, _ = rl_editor_main("raters", "reset-headphones", "ana", "--db", db)
    assert code == 0 and "2 headphone check attempts cleared" in out
    assert client.get("/api/me", headers=_auth(ana)).json()["headphone_check"]["attempts_left"] == 2


def test_the_cli_deactivates_and_activates(admin_app, rl_editor_main):
    client, _, ana, db = admin_app
    code, out, _ = rl_editor_main("raters", "deactivate", "ana", "--db", db)
    assert code == 0 and "deactivated ana" in out
    assert client.get("/api/me", headers=_auth(ana)).status_code == 401
    code, out, _ = rl_editor_main("raters", "activate", "ana", "--db", db)
    assert code == 0 and client.get("/api/me", headers=_auth(ana)).status_code == 200
    code, _, err = rl_editor_main("raters", "revoke", "nobody", "--db", db)
    assert code == 2 and "no rater named 'nobody'" in err


def _rate_everything(client, token):
    """Judge every task (ratings get 1-4 stars, pairs a preference); returns how many ratings."""
    ratings = 0
    while True:
        task = client.get("/api/next", headers=_auth(token)).json()
        if task.get("done"):
            return ratings
        answer = {"rating": 1 + ratings % 4} if "b" not in task else {"preference": "a", "strength": 1}
        ratings += "b" not in task
        body = {"client_id": str(uuid.uuid4()), "task_id": task["task_id"], **answer}
        assert client.post("/api/judgments", headers=_auth(token), json=body).status_code == 201


def test_summary_shows_coverage_and_quotas_and_ratings_export_per_campaign(admin_app, rl_editor_main, tmp_path):
    client, admin, ana, db = admin_app
    client.app.state.store.set_campaign_sizing("collect", votes_per_pair=1, rater_quota=50)
    n_ratings = _rate_everything(client, ana)
    assert n_ratings == 2
    coverage = client.get("/api/admin/summary", headers=_auth(admin)).json()["coverage"]
    collect = next(c for c in coverage if c["campaign"] == "collect")
    assert collect["rater_quota"] == 50 and collect["votes_per_pair"] == 1 and collect["open_assignments"] == 0
    rows = list(
        csv.DictReader(io.StringIO(client.get("/api/admin/ratings.csv?campaign=collect", headers=_auth(admin)).text))
    )
    assert len(rows) == 2 and {r["rating"] for r in rows} == {"1", "2"} and rows[0]["rater"] == "ana"
    assert client.get("/api/admin/ratings.csv?campaign=other", headers=_auth(admin)).text.count("\n") == 1
    code, out, _ = rl_editor_main("export-ratings", "--db", db, "--out", tmp_path / "ratings.json")
    assert code == 0 and "wrote 2 ratings" in out
    assert [r["rating"] for r in json.loads((tmp_path / "ratings.json").read_text())] == [1, 2]
    code, out, _ = rl_editor_main(
        "export-ratings", "--db", db, "--out", tmp_path / "r.csv", "--csv", "--campaign", "collect"
    )
    assert code == 0 and (tmp_path / "r.csv").read_text().splitlines()[0].startswith("song_id,edit_id,edit_path")

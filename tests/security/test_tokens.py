"""Tokens that can be revoked and expire, kept out of trace logs; odd ids and names refused cleanly.

Through the real app (TestClient, or ``rl-editor serve`` in a subprocess) and the real CLI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from security_helpers import HELPERS
from sqlalchemy import update

from rl_editor.feedback.app import create_app
from rl_editor.feedback.models import Rater
from rl_editor.feedback.settings import FeedbackSettings
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig

pytestmark = pytest.mark.security


NO_AUTH_CACHE = FeedbackSettings(auth_cache_seconds=0.0)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    HELPERS.write_test_manifest(tmp_path / "run")
    return tmp_path / "run"


def _db(run_dir: Path) -> Path:
    return run_dir / "feedback.sqlite"


def _app(run_dir: Path, settings: FeedbackSettings = NO_AUTH_CACHE):
    return create_app(run_dir / "manifest.json", f"sqlite:///{_db(run_dir)}", TaskConfig(gold_per_rater=0), settings)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_link_is_refused_and_a_new_link_lets_the_rater_back(run_dir, rl_editor_main):
    app = _app(run_dir)
    with TestClient(app) as client:
        code, out, _ = rl_editor_main("raters", "add", "ana", "--db", _db(run_dir))
        old = out.strip().rsplit("/", 1)[1]
        assert client.get("/api/next", headers=_auth(old)).status_code == 200
        code, out, _ = rl_editor_main("raters", "revoke", "ana", "--db", _db(run_dir))
        assert code == 0 and "1 open tasks handed back" in out
        assert client.get("/api/me", headers=_auth(old)).status_code == 401
        code, out, _ = rl_editor_main("raters", "list", "--db", _db(run_dir))
        assert "\trevoked\t" in out
        code, out, _ = rl_editor_main("raters", "link", "ana", "--db", _db(run_dir))
        new = out.strip().rsplit("/", 1)[1]
        assert client.get("/api/me", headers=_auth(new)).json()["rater"] == "ana"
        assert client.get("/api/me", headers=_auth(old)).status_code == 401


def test_a_revocation_by_the_cli_reaches_a_running_server_within_the_auth_cache_time(run_dir, rl_editor_main):
    app = _app(run_dir, FeedbackSettings(auth_cache_seconds=0.5))
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        assert client.get("/api/me", headers=_auth(token)).status_code == 200  # now cached
        rl_editor_main("raters", "revoke", "ana", "--db", _db(run_dir))
        time.sleep(0.6)
        assert client.get("/api/me", headers=_auth(token)).status_code == 401


def test_tokens_expire_when_asked(run_dir, rl_editor_main):
    app = _app(run_dir)
    with TestClient(app) as client:
        token = app.state.store.add_rater("brief", expires_in_s=0.5)
        assert client.get("/api/me", headers=_auth(token)).status_code == 200
        admin = app.state.store.create_admin_token(expires_in_s=0.5)
        assert client.get("/api/admin/summary", headers=_auth(admin)).status_code == 200
        time.sleep(0.6)
        assert client.get("/api/me", headers=_auth(token)).status_code == 401
        assert client.get("/api/admin/summary", headers=_auth(admin)).status_code == 401
    code, _, _ = rl_editor_main("raters", "add", "week", "--expires-in-days", 7, "--db", _db(run_dir))
    code, out, _ = rl_editor_main("raters", "list", "--db", _db(run_dir))
    week = next(line for line in out.splitlines() if line.startswith("week\t"))
    assert "\tactive\t" in week and "expires=" in week
    brief = next(line for line in out.splitlines() if line.startswith("brief\t"))
    assert "\texpired\t" in brief
    code, out, err = rl_editor_main("admin-token", "--expires-in-hours", 2, "--db", _db(run_dir))
    assert code == 0 and len(out.strip()) >= 40


def test_revoking_every_admin_token_locks_out_old_admin_links(run_dir, rl_editor_main):
    app = _app(run_dir)
    with TestClient(app) as client:
        old = app.state.store.create_admin_token()
        code, out, err = rl_editor_main("admin-token", "--revoke-all", "--db", _db(run_dir))
        assert code == 0 and "revoked 1 admin tokens" in err
        assert client.get("/api/admin/summary", headers=_auth(old)).status_code == 401
        assert client.get("/api/admin/summary", headers=_auth(out.strip())).status_code == 200


@pytest.mark.parametrize("check_id", [2**63, 2**31, 10**30, -1, 0])
def test_a_headphone_check_id_out_of_range_is_a_clear_404(run_dir, check_id):
    app = _app(run_dir)
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        response = client.post(
            "/api/headphone-check", headers=_auth(token), json={"check_id": check_id, "answers": [0] * 6}
        )
    assert response.status_code == 404 and "no headphone check" in response.json()["detail"]


@pytest.mark.parametrize("name", ["evil\x1b[2J", "a\u202eb", "line\nbreak", "nul\x00"])
def test_names_with_control_characters_are_refused_by_the_api_and_the_cli(run_dir, rl_editor_main, name):
    app = _app(run_dir)
    with TestClient(app) as client:
        admin = app.state.store.create_admin_token()
        response = client.post("/api/admin/raters", headers=_auth(admin), json={"name": name})
        assert response.status_code == 422 and "control or format characters" in response.json()["detail"]
    code, _, err = rl_editor_main("raters", "add", name, "--db", _db(run_dir))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "\x1b" not in err and "\u202e" not in err
    assert app.state.store.list_raters() == []


def test_a_stored_name_with_an_escape_sequence_is_printed_escaped(run_dir, rl_editor_main):
    with FeedbackStore.open(str(_db(run_dir))) as store:
        store.add_rater("mallory")
        with store.transaction() as session:  # written before names were checked
            session.execute(update(Rater).values(name="mallory\x1b]0;owned\x07"))
    code, out, _ = rl_editor_main("raters", "list", "--db", _db(run_dir))
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "mallory\\x1b]0;owned\\x07" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rater_tokens_stay_out_of_the_log_at_trace_level(run_dir):
    with FeedbackStore.open(None, run_dir / "manifest.json") as store:
        token = store.add_rater("ana")
    port = _free_port()
    args = [sys.executable, "-m", "rl_editor.cli", "serve", "--manifest", str(run_dir), "--port", str(port),
            "--log-level", "trace"]  # fmt: skip
    log = run_dir / "server.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(args, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=sink, stderr=sink)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{base}/api/me", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert httpx.get(f"{base}/r/{token}").status_code == 200
            assert httpx.get(f"{base}/api/me", params={"token": token}).status_code == 200
            assert httpx.get(f"{base}/api/me", headers=_auth(token)).status_code == 200
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert "ASGI" in text and "/r/***" in text  # the trace log ran, and was redacted
    assert token not in text

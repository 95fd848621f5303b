"""The feedback server against hostile files, requests and logs.

Each test plays one attack on the real app (FastAPI TestClient, a direct ASGI
call that watches what the app reads, or ``rl-editor serve`` in a subprocess)
over the small generated manifest of ``tests/feedback``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from security_helpers import HELPERS

from rl_editor.feedback.app import JUDGMENT_BODY_MAX_BYTES, create_app
from rl_editor.feedback.audio_files import AudioVerifier
from rl_editor.feedback.commands import TokenRedactingFilter
from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.settings import FeedbackSettings
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig

pytestmark = pytest.mark.security


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _next(client, token):
    """The rater's next task, every version of it fetched (a listening record may claim only audio that was sent)."""
    task = client.get("/api/next", headers=_auth(token)).json()
    for part in (task.get("song"), task.get("a"), task.get("b")):
        if part:
            client.get(part["audio_url"], headers=_auth(token))
    return task


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A manifest folder with two songs (``songs/song0.wav``, ``songs/song1.wav``) and their candidates."""
    HELPERS.write_test_manifest(tmp_path / "run")
    return tmp_path / "run"


def _app(run_dir: Path, gold: int = 0, settings: FeedbackSettings | None = None):
    return create_app(
        run_dir / "manifest.json",
        f"sqlite:///{run_dir / 'feedback.sqlite'}",
        TaskConfig(gold_per_rater=gold),
        **({"settings": settings} if settings else {}),
    )


def _task_of_song(client: TestClient, token: str, song_id: str) -> dict:
    """Judge tasks until the rater holds one of ``song_id``; returns it."""
    for _ in range(40):
        task = _next(client, token)
        assert not task.get("done"), f"no task of {song_id} left"
        if task["song"]["song_id"] == song_id:
            return task
        vote = {"preference": "a", "strength": 1} if "b" in task else {"rating": 3}
        client.post(
            "/api/judgments",
            headers=_auth(token),
            json={
                "client_id": str(uuid.uuid4()),
                "task_id": task["task_id"],
                **vote,
                "listening": full_listening(task),
            },
        )
    raise AssertionError(f"no task of {song_id}")


def _refusal_lines(caplog: pytest.LogCaptureFixture, song_id: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "rl_editor.feedback" and f"song {song_id}" in r.getMessage()
    ]


# -- audio files changed after registration ----------------------------------------------------


@pytest.fixture
def outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return secret


def test_an_original_replaced_by_a_symlink_out_of_its_folder_is_404_with_one_log_line(run_dir, outside_secret, caplog):
    app = _app(run_dir)
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        task = _task_of_song(client, token, "song0")
        assert client.get(task["song"]["audio_url"], headers=_auth(token)).status_code == 200
        song = run_dir / "songs" / "song0.wav"
        song.unlink()
        song.symlink_to(outside_secret)
        with caplog.at_level(logging.WARNING, logger="rl_editor.feedback"):
            response = client.get(task["song"]["audio_url"], headers=_auth(token))
    assert response.status_code == 404 and b"root:" not in response.content
    assert len(_refusal_lines(caplog, "song0")) == 1


@pytest.mark.parametrize("part", ["original", "a"])
def test_a_file_rewritten_in_place_with_other_content_is_404(run_dir, part, caplog):
    app = _app(run_dir)
    with TestClient(app) as client:
        store = app.state.store
        token = store.add_rater("ana")
        task = _task_of_song(client, token, "song0")
        url = task["song"]["audio_url"] if part == "original" else task["a"]["audio_url"]
        path = store.task_audio_file(store.authenticate_rater(token).id, task["task_id"], part)
        assert client.get(url, headers=_auth(token)).status_code == 200
        path.write_bytes(b"RIFF" + b"\0" * (path.stat().st_size - 4))  # same folder, same size, other bytes
        with caplog.at_level(logging.WARNING, logger="rl_editor.feedback"):
            assert client.get(url, headers=_auth(token)).status_code == 404
    assert len(_refusal_lines(caplog, "song0")) == 1


def test_a_touched_file_with_its_registered_content_is_still_served(run_dir):
    app = _app(run_dir)
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        task = _task_of_song(client, token, "song0")
        song = run_dir / "songs" / "song0.wav"
        data = song.read_bytes()
        os.utime(song, ns=(1_000_000_000, 1_000_000_000))
        response = client.get(task["song"]["audio_url"], headers=_auth(token))
    assert response.status_code == 200 and response.content == data


def test_a_restart_does_not_adopt_a_song_replaced_while_the_server_was_down(run_dir, outside_secret):
    first = _app(run_dir)
    token = first.state.store.add_rater("ana")
    first.state.store.close()
    song = run_dir / "songs" / "song0.wav"
    song.unlink()
    song.symlink_to(outside_secret)
    restarted = _app(run_dir)
    with TestClient(restarted) as client:
        task = _task_of_song(client, token, "song0")
        response = client.get(task["song"]["audio_url"], headers=_auth(token))
    assert response.status_code == 404 and b"root:" not in response.content


def test_the_media_root_serves_a_song_moved_into_it_with_its_registered_content(run_dir, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    apps = {404: _app(run_dir), 200: _app(run_dir, settings=FeedbackSettings(media_root=media))}
    song = run_dir / "songs" / "song0.wav"
    data = song.read_bytes()
    shutil.move(song, media / "song0.wav")  # moved while the servers run: now a link out of songs/
    song.symlink_to(media / "song0.wav")
    for expected, app in apps.items():
        with TestClient(app) as client:
            token = app.state.store.add_rater(f"ana-{expected}")
            task = _task_of_song(client, token, "song0")
            response = client.get(task["song"]["audio_url"], headers=_auth(token))
            assert response.status_code == expected
            assert expected == 404 or response.content == data


def test_content_checks_are_cached_until_size_or_mtime_change(tmp_path, monkeypatch):
    import rl_editor.feedback.audio_files as audio_files

    folder = tmp_path / "songs"
    folder.mkdir()
    song = folder / "song.wav"
    song.write_bytes(b"RIFF" + bytes(range(200)))
    registered = audio_files.fingerprint(song)
    os.utime(song, ns=(5_000_000_000, 5_000_000_000))  # touched: the registered mtime no longer vouches
    hashed = []
    real_sha256 = audio_files.file_sha256
    monkeypatch.setattr(audio_files, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    verifier = AudioVerifier()
    audio = audio_files.AudioFile("song", song, folder, registered)
    assert verifier.servable_path(audio) == song.resolve()
    assert verifier.servable_path(audio) == song.resolve()
    assert len(hashed) == 1
    song.write_bytes(b"RIFF" + bytes(reversed(range(200))))  # same size, new mtime
    assert verifier.servable_path(audio) is None and len(hashed) == 2


# -- a song that cannot be decoded -------------------------------------------------------------


def test_serve_keeps_running_when_a_song_cannot_be_decoded(run_dir):
    (run_dir / "songs" / "song0.wav").write_text("this is not audio\n")
    proc, base = HELPERS.start_server(run_dir / "manifest.json", None)
    try:
        import httpx

        with FeedbackStore.open(None, run_dir / "manifest.json") as store:
            token = store.add_rater("ana")
            gold_songs = {edit_id.split("-")[0] for edit_id in _gold_edit_ids(store)}
        assert gold_songs == {"song1"}
        task = httpx.get(f"{base}/api/next", headers=_auth(token), timeout=10)
        assert task.status_code == 200 and "task_id" in task.json()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    log = proc.stderr.read().decode()
    assert "Traceback" not in log
    assert len([line for line in log.splitlines() if "song0" in line]) == 1


def _gold_edit_ids(store: FeedbackStore) -> list[str]:
    from sqlalchemy import select

    from rl_editor.feedback.models import EditRecord

    with store.transaction(readonly=True) as session:
        return list(session.scalars(select(EditRecord.edit_id).where(EditRecord.kind == "gold")))


# -- tokens in the log -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/api/me?tok%65n=Zx9secretTok", "/api/me?tok%65n=***"),
        ("/api/me?%74%6F%6B%65%6E=Zx9secretTok&x=1", "/api/me?%74%6F%6B%65%6E=***&x=1"),
        ("/admin?lang=en&token=Zx9secretTok&token=Zx9secretTok", "/admin?lang=en&token=***&token=***"),
        ("/%72/Zx9secretTok", "/r/***"),
        ("/r%2FZx9secretTok", "/r/***"),
        ("//r/Zx9secretTok?v=2", "//r/***?v=2"),
    ],
)
def test_tokens_are_redacted_however_the_url_encodes_them(path, logged):
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )
    assert TokenRedactingFilter().filter(record)
    assert record.args[2] == logged and "secret" not in record.getMessage()


# -- request bodies ----------------------------------------------------------------------------


def _asgi_post(app, path: str, headers: dict[str, str], chunks, query: str = "") -> tuple[int, int, bytes]:
    """POST to the app as a server would; returns (status, body chunks the app read, response body)."""
    read = 0
    sent: dict = {"body": b""}

    async def receive():
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    return sent["status"], read, sent["body"]


@pytest.fixture
def guarded(run_dir):
    """The app, a rater token and an admin token."""
    app = _app(run_dir)
    store = app.state.store
    yield app, store.add_rater("ana"), store.create_admin_token()
    store.close()


def _judgment(app, token: str) -> bytes:
    store = app.state.store
    rater_id = store.authenticate_rater(token).id
    view = store.next_task(rater_id)
    for part in ("a", "b"):  # served, as a page fetching them would be: the claim below needs it
        store.record_audio_sent(rater_id, view.task_id, part, store.task_audio_file(rater_id, view.task_id, part))
    listened = {"a_s": view.edits[0].duration_seconds, "b_s": view.edits[-1].duration_seconds}
    return json.dumps(
        {
            "client_id": str(uuid.uuid4()),
            "task_id": view.task_id,
            "preference": "a",
            "strength": 2,
            "listening": listened,
        }
    ).encode()


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_huge_body_without_a_valid_token_is_refused_before_it_is_read(guarded, token):
    app, _, _ = guarded
    headers = {"content-type": "application/json", "content-length": str(200 * 1024 * 1024)}
    status, read, _ = _asgi_post(
        app,
        "/api/judgments",
        {**headers, **({"authorization": f"Bearer {token}"} if token else {})},
        [b"x" * 65536] * 4,
    )
    assert status == 401 and read == 0


def test_a_rater_token_on_an_admin_body_route_is_refused_before_the_body_is_read(guarded):
    app, rater_token, _ = guarded
    status, read, _ = _asgi_post(
        app,
        "/api/admin/raters",
        {"content-type": "application/json", "authorization": f"Bearer {rater_token}"},
        [b"{}"],
    )
    assert status == 403 and read == 0


def test_a_body_announced_too_long_gets_413_unread(guarded):
    app, token, _ = guarded
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {token}",
        "content-length": str(JUDGMENT_BODY_MAX_BYTES + 1),
    }
    status, read, _ = _asgi_post(app, "/api/judgments", headers, [b" " * (JUDGMENT_BODY_MAX_BYTES + 1)])
    assert status == 413 and read == 0


def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(guarded):
    app, token, _ = guarded
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}", "transfer-encoding": "chunked"}
    chunk = b" " * 4096
    status, read, _ = _asgi_post(app, "/api/judgments", headers, [chunk] * 1000)
    assert status == 413 and read == JUDGMENT_BODY_MAX_BYTES // len(chunk) + 1


def test_a_judgment_within_the_limits_is_recorded_through_the_guard(guarded):
    app, token, _ = guarded
    body = _judgment(app, token)
    headers = {
        "content-type": "application/json; charset=utf-8",
        "authorization": f"Bearer {token}",
        "content-length": str(len(body)),
    }
    status, _, answer = _asgi_post(app, "/api/judgments", headers, [body])
    assert status == 201 and json.loads(answer)["duplicate"] is False


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_a_json_body_sent_as_another_type_gets_415_and_is_not_recorded(guarded, content_type):
    app, token, _ = guarded
    body = _judgment(app, token)
    with TestClient(app) as client:
        headers = {**_auth(token), **({"Content-Type": content_type} if content_type else {})}
        response = client.post("/api/judgments", content=body, headers=headers)
        assert response.status_code == 415 and "application/json" in response.json()["detail"]
        assert client.get("/api/my/judgments", headers=_auth(token)).json() == []


# -- new raters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "eve", "held_out": "yes"}, "held_out"),
        ({"name": "eve", "held_out": 1}, "held_out"),
    ],
)
def test_new_rater_bodies_are_validated_strictly(guarded, body, field):
    app, _, admin_token = guarded
    with TestClient(app) as client:
        response = client.post("/api/admin/raters", json=body, headers=_auth(admin_token))
    assert response.status_code == 422 and response.json()["detail"].startswith(field)
    assert [r.name for r in app.state.store.list_raters()] == ["ana"]


def test_held_out_true_still_makes_a_held_out_rater(guarded):
    app, _, admin_token = guarded
    with TestClient(app) as client:
        response = client.post(
            "/api/admin/raters", json={"name": " eve ", "held_out": True}, headers=_auth(admin_token)
        )
    assert response.status_code == 201 and response.json()["name"] == "eve"
    assert [(r.name, r.held_out) for r in app.state.store.list_raters()] == [("ana", False), ("eve", True)]


# -- the page's test hook ----------------------------------------------------------------------


@pytest.mark.parametrize("hooks", [False, True])
def test_the_rater_page_carries_the_test_hook_only_with_the_test_setting(run_dir, hooks):
    app = _app(run_dir, settings=FeedbackSettings(expose_test_hooks=hooks))
    with TestClient(app) as client:
        page = client.get(f"/r/{app.state.store.add_rater('ana')}").text
    assert ('data-test-hooks="on"' in page) is hooks


# -- links -------------------------------------------------------------------------------------


def test_links_use_the_port_serve_listened_on(run_dir, rl_editor_main):
    proc, base = HELPERS.start_server(run_dir / "manifest.json", None)
    proc.kill()
    proc.wait(timeout=10)
    port = base.rsplit(":", 1)[1]
    assert port != "8000"
    code, out, _ = rl_editor_main("raters", "add", "ana", "--manifest", run_dir / "manifest.json")
    assert code == 0 and out.startswith(f"http://127.0.0.1:{port}/r/")
    code, _, err = rl_editor_main("admin-token", "--manifest", run_dir / "manifest.json")
    assert code == 0 and err.startswith(f"http://127.0.0.1:{port}/admin?token=")


def test_a_public_url_is_kept_and_used_by_every_later_link(run_dir, rl_editor_main):
    manifest = run_dir / "manifest.json"
    code, _, err = rl_editor_main("admin-token", "--manifest", manifest, "--public-url", "https://listen.example.org/")
    assert code == 0 and err.startswith("https://listen.example.org/admin?token=")
    admin_token = err.split("token=", 1)[1].strip()
    code, out, _ = rl_editor_main("raters", "add", "ana", "--manifest", manifest)
    assert code == 0 and out.startswith("https://listen.example.org/r/")
    code, out, _ = rl_editor_main("raters", "add", "ben", "--manifest", manifest, "--port", 9001)
    assert out.startswith("http://127.0.0.1:9001/r/")  # an explicit address is for this link only
    app = _app(run_dir)
    with TestClient(app) as client:
        made = client.post("/api/admin/raters", json={"name": "cy"}, headers=_auth(admin_token)).json()
    assert made["link"] == f"https://listen.example.org/r/{made['token']}"


def test_a_public_url_that_is_not_an_http_address_is_a_one_line_error(run_dir, rl_editor_main):
    code, _, err = rl_editor_main(
        "raters", "add", "ana", "--manifest", run_dir / "manifest.json", "--public-url", "javascript:alert(1)"
    )
    assert code == 2 and "--public-url" in err and len(err.strip().splitlines()) == 1

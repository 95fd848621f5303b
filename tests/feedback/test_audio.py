"""Audio serving: per task and per rater, HTTP Range, and every other path refused."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from rl_editor.feedback.app import create_app
from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.generate.manifest import Manifest


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
def app(manifest_path, tmp_path):
    return create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def rater(app, client):
    """A rater's token and their first task."""
    token = app.state.store.add_rater("ana")
    return token, client.get("/api/next", headers=_auth(token)).json()


def test_range_requests_get_206_with_content_range(client, manifest, rater):
    token, task = rater
    path = manifest.resolve(next(s.song for s in manifest.songs if s.song_id == task["song"]["song_id"]))
    data, size = path.read_bytes(), path.stat().st_size
    url = task["song"]["audio_url"]
    full = client.get(url, headers=_auth(token))
    assert full.status_code == 200 and full.content == data and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"].startswith("audio/wav")
    part = client.get(url, headers={**_auth(token), "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = client.get(url, headers={**_auth(token), "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]


@pytest.mark.parametrize("bad", ["bytes=999999999-", "bytes=5000000-5000010"])
def test_unsatisfiable_ranges_get_416(client, rater, bad):
    token, task = rater
    response = client.get(task["song"]["audio_url"], headers={**_auth(token), "Range": bad})
    assert response.status_code == 416 and response.headers["content-range"].startswith("bytes */")


def test_edit_audio_is_the_file_of_the_side_presented(app, client, manifest, rater):
    token, task = rater
    store = app.state.store
    view = store.next_task(store.authenticate_rater(token).id)
    assert view.task_id == task["task_id"]
    for side, edit in zip(("a", "b"), view.edits):
        _, cand = manifest.candidate(edit.edit_id)
        body = client.get(task[side]["audio_url"], headers=_auth(token))
        assert body.status_code == 200 and body.content == manifest.resolve(cand.path).read_bytes()
        assert task[side]["duration_seconds"] == pytest.approx(cand.duration)


def test_audio_urls_reveal_neither_files_nor_edits(client, manifest, rater):
    _, task = rater
    urls = [task["song"]["audio_url"], task["a"]["audio_url"], task["b"]["audio_url"]]
    assert urls == [f"/api/tasks/{task['task_id']}/audio/{part}" for part in ("original", "a", "b")]
    names = {c.edit_id for s in manifest.songs for c in s.candidates} | {
        c.path for s in manifest.songs for c in s.candidates
    }
    assert not any(name in str(task) for name in names)


def test_audio_needs_the_token_of_the_rater_the_task_is_assigned_to(app, client, rater):
    token, task = rater
    other = app.state.store.add_rater("ben")
    url = task["a"]["audio_url"]
    assert client.get(url).status_code == 401
    assert client.get(url, headers=_auth("forged-" + token)).status_code == 401
    assert client.get(url, headers=_auth(other)).status_code == 404
    assert client.get(url, headers=_auth(token)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks/{task}/audio/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/tasks/{task}/audio/%2Fetc%2Fpasswd",
        "/api/tasks/{task}/audio/manifest.json",
        "/api/tasks/..%2F..%2Fmanifest.json/audio/a",
        "/api/tasks/{task}/audio/../../../manifest.json",
        "/api/tasks/nosuchtask/audio/a",
        "/audio/song.song0",
        "/audio/..%2F..%2F..%2Fetc%2Fpasswd",
        "/audio/../manifest.json",
        "/songs/song0.wav",
        "/song0/song0-c0.wav",
    ],
)
def test_paths_outside_the_task_audio_are_refused(client, rater, path):
    token, task = rater
    response = client.get(path.format(task=task["task_id"]), headers=_auth(token))
    assert response.status_code in (403, 404)
    assert b"root:" not in response.content and b"candidates" not in response.content
    assert b"RIFF" not in response.content


def test_symlinks_out_of_the_manifest_folder_are_refused(tmp_path, manifest_path):
    manifest = Manifest.load(manifest_path)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-secret")
    for song in manifest.songs:
        for cand in song.candidates:
            link = manifest.root / song.song_id / f"leak-{cand.edit_id}.wav"
            os.symlink(secret, link)
            cand.path = f"{song.song_id}/{link.name}"
    manifest.save()
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        task = _next(client, token)
        response = client.get(task["a"]["audio_url"], headers=_auth(token))
        assert response.status_code == 404 and b"secret" not in response.content
        assert client.get(task["song"]["audio_url"], headers=_auth(token)).status_code == 200


def test_gold_edits_are_rendered_and_served_like_any_edit(manifest_path, tmp_path):
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=2))
    store = app.state.store
    gold = store.edit("song0-t0.0-0~gold")
    assert (
        gold is not None and gold.path.startswith("gold/") and (Manifest.load(manifest_path).root / gold.path).is_file()
    )
    with TestClient(app) as client:
        token = store.add_rater("ana")
        seen_gold = False
        for _ in range(20):
            task = _next(client, token)
            if task.get("done"):
                break
            rater_id = store.authenticate_rater(token).id
            for side in ("a", "b") if "b" in task else ("a",):
                path = store.task_audio_file(rater_id, task["task_id"], side)
                response = client.get(task[side]["audio_url"], headers={**_auth(token), "Range": "bytes=0-3"})
                assert response.status_code == 206 and response.content == b"RIFF"
                seen_gold |= path.parent.name == "gold"
                assert "gold" not in task[side]["audio_url"]
            vote = {"preference": "a", "strength": 1} if "b" in task else {"rating": 3}
            assert (
                client.post(
                    "/api/judgments",
                    headers=_auth(token),
                    json={
                        "client_id": task["task_id"],
                        "task_id": task["task_id"],
                        **vote,
                        "listening": full_listening(task),
                    },
                ).status_code
                == 201
            )
        assert seen_gold, "the rater never got a gold pair"


def test_songs_outside_the_manifest_folder_play_as_the_manifest_names_them(tmp_path, make_test_manifest):
    """``generate`` writes manifests whose songs stay where they are (``../songs/x.wav``)."""
    manifest_path = make_test_manifest(tmp_path / "songs-here")
    manifest = Manifest.load(manifest_path)
    out = tmp_path / "runs" / "candidates"
    out.mkdir(parents=True)
    for song in manifest.songs:
        song.song = os.path.relpath(manifest.resolve(song.song), out)
        for cand in song.candidates:
            target = out / cand.path
            target.parent.mkdir(exist_ok=True)
            os.replace(manifest.resolve(cand.path), target)
    moved = Manifest(root=out.resolve(), songs=manifest.songs)
    moved.save()
    assert moved.songs[0].song.startswith("..")
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'fb.sqlite'}") as store:
        store.set_song_library(tmp_path / "songs-here" / "songs")  # `rl-editor serve --songs DIR`
    app = create_app(moved.path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    with TestClient(app) as client:
        token = app.state.store.add_rater("ana")
        task = _next(client, token)
        original = client.get(task["song"]["audio_url"], headers=_auth(token))
        assert original.status_code == 200 and original.content[:4] == b"RIFF"
        assert client.get(task["a"]["audio_url"], headers=_auth(token)).status_code == 200

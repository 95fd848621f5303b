"""Audio serving: only manifest files, HTTP Range, and every other path refused."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from rl_editor.feedback.app import create_app
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.generate.manifest import Manifest


@pytest.fixture
def client(manifest_path, tmp_path):
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    with TestClient(app) as c:
        yield c


def test_range_requests_get_206_with_content_range(client, manifest):
    path = manifest.resolve(manifest.songs[0].song)
    data, size = path.read_bytes(), path.stat().st_size
    full = client.get("/audio/song.song0")
    assert full.status_code == 200 and full.content == data and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"].startswith("audio/wav")
    part = client.get("/audio/song.song0", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = client.get("/audio/song.song0", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]


@pytest.mark.parametrize("bad", ["bytes=999999999-", "bytes=5000000-5000010"])
def test_unsatisfiable_ranges_get_416(client, bad):
    response = client.get("/audio/song.song0", headers={"Range": bad})
    assert response.status_code == 416 and response.headers["content-range"].startswith("bytes */")


@pytest.mark.parametrize("path", [
    "/audio/..%2F..%2F..%2Fetc%2Fpasswd",
    "/audio/song.%2E%2E%2F%2E%2E%2Fmanifest.json",
    "/audio/edit.%2Fetc%2Fpasswd",
    "/audio/edit.manifest.json",
    "/audio/song.nosuchsong",
    "/audio/edit..%2Fsongs%2Fsong0.wav",
    "/audio/%2Fetc%2Fpasswd",
    "/audio/../manifest.json",
])
def test_paths_outside_the_manifest_are_refused(client, path):
    response = client.get(path)
    assert response.status_code in (403, 404)
    assert b"root:" not in response.content and b"candidates" not in response.content


def test_symlinks_out_of_the_manifest_folder_are_refused(tmp_path, manifest_path):
    manifest = Manifest.load(manifest_path)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF-secret")
    link = manifest.root / "song0" / "leak.wav"
    os.symlink(secret, link)
    manifest.songs[0].candidates[0].path = "song0/leak.wav"
    manifest.save()
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    with TestClient(app) as client:
        edit_id = manifest.songs[0].candidates[0].edit_id
        response = client.get(f"/audio/edit.{edit_id}")
        assert response.status_code == 403 and b"secret" not in response.content
        assert client.get(f"/audio/edit.{manifest.songs[0].candidates[1].edit_id}").status_code == 200


def test_gold_edits_are_rendered_and_served(manifest_path, tmp_path):
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=2))
    store = app.state.store
    assert not store.gold_pending(), "gold edits were not rendered"
    gold = store.edit("song0-t0.0-0~gold")
    assert gold is not None and gold.path.startswith("gold/")
    with TestClient(app) as client:
        response = client.get("/audio/edit.song0-t0.0-0~gold", headers={"Range": "bytes=0-3"})
        assert response.status_code == 206 and response.content == b"RIFF"

"""Songs raters hear must be audio inside the song library the organiser chose.

A manifest naming any other file is refused at registration (one line, nothing
stored), and the audio route refuses an original that resolves outside the
library even when the database names it (a database written before the check).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_helpers import HELPERS
from sqlalchemy import select, update

from rl_editor.feedback.app import create_app
from rl_editor.feedback.audio_files import fingerprint, fingerprint_columns
from rl_editor.feedback.models import SongRecord
from rl_editor.feedback.storage import FeedbackStore, SongLibraryError
from rl_editor.feedback.tasks import TaskConfig

pytestmark = pytest.mark.security


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    HELPERS.write_test_manifest(tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    found = tmp_path / "elsewhere" / "passwd"
    found.parent.mkdir()
    found.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return found


def _db(run_dir: Path) -> str:
    return f"sqlite:///{run_dir / 'feedback.sqlite'}"


def _name_song(run_dir: Path, song_path: str) -> None:
    """Point song0 of the manifest at ``song_path`` (as a hostile manifest would)."""
    manifest = run_dir / "manifest.json"
    entries = json.loads(manifest.read_text())
    entries[0]["song"] = song_path
    manifest.write_text(json.dumps(entries))


def _stored_songs(run_dir: Path) -> list[str]:
    with FeedbackStore.open(_db(run_dir)) as store, store.transaction(readonly=True) as session:
        return list(session.scalars(select(SongRecord.song_id)))


@pytest.mark.parametrize("named", ["absolute", "relative", "not-audio", "symlink"])
def test_a_manifest_naming_a_file_outside_the_library_is_refused_and_nothing_is_stored(run_dir, secret, named):
    if named == "symlink":  # a .wav inside the manifest folder that resolves to the secret
        (run_dir / "songs" / "link.wav").symlink_to(secret)
    song = {
        "absolute": str(secret),
        "relative": "../elsewhere/passwd",
        "not-audio": "manifest.json",
        "symlink": "songs/link.wav",
    }[named]
    _name_song(run_dir, song)
    with pytest.raises(SongLibraryError) as refused:
        create_app(run_dir / "manifest.json", _db(run_dir), TaskConfig(gold_per_rater=0))
    message = str(refused.value)
    assert "song0" in message and "\n" not in message
    assert _stored_songs(run_dir) == []


def test_the_cli_refuses_the_manifest_with_one_line_and_exit_2(run_dir, secret, rl_editor_main):
    _name_song(run_dir, str(secret))
    code, _, err = rl_editor_main("tasks", "create", "--manifest", run_dir, "--db", run_dir / "feedback.sqlite")
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert "outside the song library" in err and _stored_songs(run_dir) == []


def test_songs_outside_the_manifest_folder_are_accepted_once_their_folder_is_the_library(tmp_path, rl_editor_main):
    run = tmp_path / "cands"
    HELPERS.write_test_manifest(run)
    library = tmp_path / "music"
    (run / "songs").rename(library)
    entries = json.loads((run / "manifest.json").read_text())
    for entry in entries:
        entry["song"] = "../music/" + Path(entry["song"]).name
    (run / "manifest.json").write_text(json.dumps(entries))
    db = tmp_path / "fb.sqlite"
    code, _, err = rl_editor_main("tasks", "create", "--manifest", run, "--db", db, "--gold-per-rater", 0)
    assert code == 2 and "--songs" in err
    code, out, _ = rl_editor_main("tasks", "create", "--manifest", run, "--db", db, "--songs", library)
    assert code == 0 and "created" in out
    with FeedbackStore.open(str(db)) as store:
        assert store.song_library() == library.resolve()


def test_the_audio_route_refuses_an_original_stored_outside_the_library(run_dir, secret):
    app = create_app(run_dir / "manifest.json", _db(run_dir), TaskConfig(gold_per_rater=0))
    store = app.state.store
    with store.transaction() as session:  # a row written before registration checked the library
        session.execute(
            update(SongRecord)
            .where(SongRecord.song_id == "song0")
            .values(audio_path=str(secret), **fingerprint_columns(fingerprint(secret)))
        )
    with TestClient(app) as client:
        token = store.add_rater("ana")
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(40):
            task = client.get("/api/next", headers=headers).json()
            if task["song"]["song_id"] == "song0":
                break
            vote = {"preference": "a", "strength": 1} if "b" in task else {"rating": 3}
            body = {"client_id": str(uuid.uuid4()), "task_id": task["task_id"], **vote}
            listening = HELPERS.heard_in_full(client, task, headers)
            client.post("/api/judgments", headers=headers, json={**body, "listening": listening})
        response = client.get(task["song"]["audio_url"], headers=headers)
        assert response.status_code == 404 and b"root:" not in response.content
        other = client.get(task["a"]["audio_url"], headers=headers)
        assert other.status_code == 200


def _move_songs_out(tmp_path: Path, recorded: list[str | None]) -> Path:
    """A manifest whose songs were moved to ``music/`` beside it; song entry k records ``recorded[k]`` as the
    folder ``generate --songs`` read it from (None: nothing recorded)."""
    run = tmp_path / "cands"
    HELPERS.write_test_manifest(run)
    (run / "songs").rename(tmp_path / "music")
    entries = json.loads((run / "manifest.json").read_text())
    for entry, folder in zip(entries, recorded * len(entries)):
        entry["song"] = "../music/" + Path(entry["song"]).name
        if folder is not None:
            entry["songs_dir"] = folder
    (run / "manifest.json").write_text(json.dumps(entries))
    return run


def test_the_folder_generate_read_the_songs_from_is_the_library_until_one_is_chosen(tmp_path):
    run = _move_songs_out(tmp_path, [str(tmp_path / "music")])
    app = create_app(run / "manifest.json", _db(run), TaskConfig(gold_per_rater=0))
    assert app.state.store.song_library() == (tmp_path / "music").resolve()
    assert len(_stored_songs(run)) >= 1


@pytest.mark.parametrize("recorded", [[None], ["/", None]])
def test_without_one_recorded_songs_folder_the_manifest_folder_is_the_library(tmp_path, recorded):
    run = _move_songs_out(tmp_path, recorded)
    with pytest.raises(SongLibraryError, match="outside the song library"):
        create_app(run / "manifest.json", _db(run), TaskConfig(gold_per_rater=0))
    assert _stored_songs(run) == []

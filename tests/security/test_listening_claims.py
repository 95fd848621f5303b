"""A listening record may claim no more of a version than the server sent of it.

Through the real app over HTTP: the audio route records the bytes (and HTTP
ranges) each request of a task gets, and a judgment claiming more seconds of A,
B or the original than those bytes hold is refused with one line (422), and not stored.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from security_helpers import HELPERS

from rl_editor.feedback.app import create_app
from rl_editor.feedback.tasks import TaskConfig

pytestmark = pytest.mark.security


@pytest.fixture
def rater(tmp_path: Path):
    """A client, the auth headers of a rater, and their first (pair) task; must-listen off."""
    HELPERS.write_test_manifest(tmp_path / "run")
    app = create_app(tmp_path / "run", f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    app.state.store.set_must_listen_seconds(0)
    headers = {"Authorization": f"Bearer {app.state.store.add_rater('ana')}"}
    with TestClient(app) as client:
        task = client.get("/api/next", headers=headers).json()
        assert "b" in task
        yield client, headers, task


def _judge(client, headers, task, listening):
    body = {"client_id": str(uuid.uuid4()), "task_id": task["task_id"], "preference": "a", "strength": 1}
    return client.post("/api/judgments", headers=headers, json={**body, "listening": listening})


def _size(client, headers, url) -> int:
    return int(client.get(url, headers={**headers, "Range": "bytes=0-0"}).headers["content-range"].split("/")[1])


def test_claiming_audio_never_fetched_is_refused_and_nothing_is_stored(rater):
    client, headers, task = rater
    response = _judge(client, headers, task, _full(task))
    assert response.status_code == 422
    assert "claims" in response.json()["detail"] and "sent 0.0 s" in response.json()["detail"]
    assert client.get("/api/my/judgments", headers=headers).json() == []


def _full(task) -> dict[str, float]:
    return {
        "a_s": task["a"]["duration_seconds"],
        "b_s": task["b"]["duration_seconds"],
        "original_s": task["song"]["duration_seconds"],
    }


def test_a_claim_is_bounded_by_the_ranges_sent(rater):
    client, headers, task = rater
    size = _size(client, headers, task["a"]["audio_url"])
    tenth = client.get(task["a"]["audio_url"], headers={**headers, "Range": f"bytes=0-{size // 10}"})
    assert tenth.status_code == 206
    assert client.get(task["b"]["audio_url"], headers=headers).status_code == 200
    a_s = task["a"]["duration_seconds"]
    refused = _judge(client, headers, task, {"a_s": a_s, "b_s": task["b"]["duration_seconds"]})
    assert refused.status_code == 422 and "of A" in refused.json()["detail"]
    refused = _judge(client, headers, task, {"a_s": 0.1, "b_s": 0.1, "original_s": 3.0})
    assert refused.status_code == 422 and "of the original" in refused.json()["detail"]
    accepted = _judge(client, headers, task, {"a_s": round(a_s / 10, 2), "b_s": task["b"]["duration_seconds"]})
    assert accepted.status_code == 201


def test_ranges_fetched_in_pieces_add_up(rater):
    client, headers, task = rater
    for side in ("a", "b"):
        url = task[side]["audio_url"]
        size = _size(client, headers, url)
        for start, end in ((size // 2, size - 1), (0, size // 2)):
            assert client.get(url, headers={**headers, "Range": f"bytes={start}-{end}"}).status_code == 206
    client.get(task["song"]["audio_url"], headers=headers)
    assert _judge(client, headers, task, _full(task)).status_code == 201


def test_a_refused_range_sends_and_records_nothing(rater):
    client, headers, task = rater
    url = task["a"]["audio_url"]
    assert client.get(url, headers={**headers, "Range": "bytes=999999999-"}).status_code == 416
    assert client.get(url, headers={**headers, "Range": "lines=0-10"}).status_code == 400
    response = _judge(client, headers, task, {"a_s": 2.0})
    assert response.status_code == 422 and "sent 0.0 s" in response.json()["detail"]


def test_audio_fetched_compressed_counts_against_the_compressed_file(rater):
    """The page fetches Ogg/Vorbis: the whole of the (smaller) Ogg file sent is the whole part, and a tenth
    of it is a tenth, whatever the size of the WAV it was made from."""
    client, headers, task = rater
    for side in ("a", "b"):
        assert client.get(task[side]["audio_url"], params={"format": "ogg"}, headers=headers).status_code == 200
    original = f"{task['song']['audio_url']}"
    ogg_size = int(
        client.get(original, params={"format": "ogg"}, headers={**headers, "Range": "bytes=0-0"})
        .headers["content-range"]
        .split("/")[1]
    )
    part = client.get(original, params={"format": "ogg"}, headers={**headers, "Range": f"bytes=0-{ogg_size // 10}"})
    assert part.status_code == 206
    too_much = _judge(client, headers, task, _full(task))
    assert too_much.status_code == 422 and "original" in too_much.json()["detail"]
    claim = {**_full(task), "original_s": 0.05 * task["song"]["duration_seconds"]}
    assert _judge(client, headers, task, claim).status_code == 201

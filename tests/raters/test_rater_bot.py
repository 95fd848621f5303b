"""The rater bot against the real feedback app, through FastAPI's TestClient (an httpx client)."""

from __future__ import annotations

import shutil

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from rl_editor.audio import analyze_song, render_edit, save_audio
from rl_editor.edit import CUT, KEEP, REPEAT, beat_sequence
from rl_editor.feedback.app import create_app
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.raters import TASTES, load_rater, sample_edits
from rl_editor.raters.bot import RaterBotError, actions_from_beat_sequence, run_rater_bot

BASE_URL = "http://testserver"


def test_actions_are_rebuilt_from_the_beat_sequence():
    actions = np.array([KEEP, CUT, REPEAT, KEEP, CUT, KEEP])
    np.testing.assert_array_equal(actions_from_beat_sequence(beat_sequence(actions), 6), actions)
    with pytest.raises(RaterBotError, match="outside"):
        actions_from_beat_sequence([0, 7], 6)


@pytest.fixture
def manifest_of_demo_song(tmp_path, request):
    """A manifest of one demo song with three rendered candidates, and the song's analysis."""
    demo_songs_dir = request.getfixturevalue("demo_songs_dir")
    source = sorted(demo_songs_dir.glob("*.wav"))[0]
    root = tmp_path / "run"
    (root / "songs").mkdir(parents=True)
    song_path = root / "songs" / source.name
    shutil.copy(source, song_path)
    analysis = analyze_song(song_path)
    candidates = []
    for c, actions in enumerate(sample_edits(analysis, 3, np.random.default_rng(4))):
        rel = f"{analysis.song_id}/c{c}.wav"
        clip = render_edit(song_path, analysis, actions)
        save_audio(root / rel, clip)
        candidates.append(
            Candidate(
                edit_id=f"{analysis.song_id}-c{c}",
                temperature=0.3 * c,
                path=rel,
                duration=analysis.beat_durations_s[beat_sequence(actions)].sum(),
                actions=actions.tolist(),
                policy="policy-test",
                seed=c,
            )
        )
    manifest = Manifest(
        root=root.resolve(),
        songs=[
            SongEntry(
                song=f"songs/{source.name}",
                song_id=analysis.song_id,
                duration_seconds=analysis.duration_seconds,
                beats=analysis.beat_times_s.tolist(),
                downbeats=analysis.downbeat_times_s.tolist(),
                candidates=candidates,
            )
        ],
    )
    manifest.save()
    return manifest, analysis


@pytest.fixture
def served(manifest_of_demo_song):
    """The real app over that manifest, reached through FastAPI's TestClient."""
    manifest, analysis = manifest_of_demo_song
    app = create_app(manifest.path)
    with TestClient(app) as client:
        yield app, client, analysis


def test_bot_judges_every_task_until_the_server_is_done(served):
    app, client, analysis = served
    token = app.state.store.add_rater("bot")
    rater = load_rater("musician:tie=0")
    judged = run_rater_bot(BASE_URL, token, rater, client=client)
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert judged >= 3 and me["done"] == me["total"] == judged
    assert client.get("/api/next", headers={"Authorization": f"Bearer {token}"}).json()["done"] is True
    # the server maps the presented A/B back; a noiseless rater must still agree with its own taste
    pairs = app.state.store.export_pairs(include_gold=True)
    assert len(pairs) >= 3 and {p.rater for p in pairs} == {"bot"}
    for pair in pairs:
        gap = TASTES["musician"].score(analysis, np.array(pair.edit_a.actions)) - TASTES["musician"].score(
            analysis, np.array(pair.edit_b.actions)
        )
        assert pair.preference == ("a" if gap > 0 else "b")
        assert pair.notes


def test_an_export_trains_a_reward_model_without_the_manifest(served, tmp_path):
    """The export names each pair's song (``song_path``), so ``train-reward`` needs only the file."""
    from typer.testing import CliRunner

    from rl_editor.cli import app as cli_app
    from rl_editor.feedback.export import export_file

    app, client, analysis = served
    run_rater_bot(BASE_URL, app.state.store.add_rater("bot"), load_rater("musician:tie=0"), client=client)
    exported = tmp_path / "elsewhere" / "preferences.json"
    assert export_file(app.state.store, exported) >= 3
    result = CliRunner().invoke(
        cli_app,
        [
            "train-reward",
            "--preferences",
            str(exported),
            "--out",
            str(tmp_path / "reward.pt"),
            "--epochs",
            "2",
            "--members",
            "1",
            "--val-frac",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reward.pt").is_file()


def test_bot_stops_after_max_tasks(served):
    app, client, _ = served
    token = app.state.store.add_rater("bounded")
    assert run_rater_bot(BASE_URL, token, load_rater("radio"), max_tasks=2, client=client) == 2
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["done"] == 2


class DropFirstJudgmentResponse(httpx.BaseTransport):
    """Delivers the first POST /api/judgments to the server, then loses its response."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.client_ids: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/api/judgments":
            import json

            self.client_ids.append(json.loads(request.content)["client_id"])
            if len(self.client_ids) == 1:
                raise httpx.ConnectError("connection reset", request=request)
        return response


def test_bot_retries_a_lost_response_with_the_same_client_id(served):
    app, client, _ = served
    token = app.state.store.add_rater("flaky")
    flaky = DropFirstJudgmentResponse(client._transport)
    client._transport = flaky
    assert run_rater_bot(BASE_URL, token, load_rater("purist"), max_tasks=2, client=client, backoff_s=0.0) == 2
    assert flaky.client_ids[0] == flaky.client_ids[1] != flaky.client_ids[2]
    stored = client.get("/api/my/judgments", headers={"Authorization": f"Bearer {token}"}).json()
    assert len(stored) == 2


def test_bot_reports_a_rejected_token(served):
    _, client, _ = served
    with pytest.raises(RaterBotError, match="rejected the rater token"):
        run_rater_bot(BASE_URL, "forged-token", load_rater("musician"), client=client)


def test_rater_bot_command_judges_over_real_http(manifest_of_demo_song):
    """``rl-editor rater-bot`` against the app served by uvicorn on 127.0.0.1."""
    import socket
    import threading
    import time

    import uvicorn
    from typer.testing import CliRunner

    from rl_editor.cli import app as cli_app

    manifest, _ = manifest_of_demo_song
    app = create_app(manifest.path)
    token = app.state.store.add_rater("cli-bot")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        result = CliRunner().invoke(
            cli_app,
            [
                "rater-bot",
                "--url",
                f"http://127.0.0.1:{port}",
                "--token",
                token,
                "--rater",
                "musician:noise=human",
                "--max-tasks",
                "2",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "judged 2 tasks" in result.output
        me = httpx.get(f"http://127.0.0.1:{port}/api/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert me["done"] == 2
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.store.close()


def test_bot_gives_star_ratings_for_rating_tasks(manifest_of_demo_song):
    from rl_editor.feedback.tasks import TaskConfig
    from rl_editor.raters.simulated import stars_from_score

    manifest, analysis = manifest_of_demo_song
    app = create_app(manifest.path, task_config=TaskConfig(ratings_per_song=2, gold_per_rater=0))
    token = app.state.store.add_rater("stars")
    with TestClient(app) as client:
        judged = run_rater_bot(BASE_URL, token, load_rater("musician"), client=client)
    ratings = app.state.store.export_ratings()
    assert len(ratings) == 2 and judged == 2 + len(app.state.store.export_pairs())
    for rating in ratings:
        expected = stars_from_score(TASTES["musician"].score(analysis, np.array(rating["edit"]["actions"])))
        assert rating["rater"] == "stars" and rating["rating"] == expected

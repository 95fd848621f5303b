"""Fixtures for the browser tests: a small manifest of generated audio, the real
feedback app served by uvicorn on a free loopback port, and Debian's Chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from browser_helpers import SONG_STRUCTURE

from rl_editor.edit import beat_sequence

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"

SAMPLE_RATE = 22050
BEAT_S = 0.5  # 120 bpm
N_BEATS = 40  # 20 s song: ten bars of four beats
PICKUP_S = 0.25  # audio before the first beat (beat 0's segment starts at 0 s)

# Three candidate edits whose beat sequences differ in known places.
CANDIDATE_ACTIONS = {
    "song1-cut-bar3": [1 if 8 <= i < 12 else 0 for i in range(N_BEATS)],
    "song1-cut-bar6-repeat": [1 if 20 <= i < 24 else 2 if i == 30 else 0 for i in range(N_BEATS)],
    "song1-repeat-bar2": [2 if i == 5 else 0 for i in range(N_BEATS)],
}


def synthesize_song(
    n_beats: int = N_BEATS, beat_s: float = BEAT_S, pickup_s: float = PICKUP_S, sr: int = SAMPLE_RATE
) -> tuple[np.ndarray, np.ndarray]:
    """A plucked tone per beat whose pitch steps through a scale, and the beat times (s)."""
    beats_s = pickup_s + beat_s * np.arange(n_beats)
    duration_s = pickup_s + beat_s * n_beats + 0.3
    t = np.arange(int(duration_s * sr)) / sr
    audio = 0.02 * np.sin(2 * np.pi * 55.0 * t)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    for i, onset in enumerate(beats_s):
        freq = 220.0 * 2 ** (scale[i % len(scale)] / 12 + (i // 8) / 12)
        local = t - onset
        mask = (local >= 0) & (local < beat_s)
        env = np.exp(-6.0 * local[mask]) * (1.6 if i % 4 == 0 else 1.0)
        audio[mask] += 0.25 * env * np.sin(2 * np.pi * freq * local[mask])
    return audio.astype(np.float32), beats_s


def render_by_segments(
    audio: np.ndarray, bounds_s: np.ndarray, actions: list[int], sr: int = SAMPLE_RATE
) -> np.ndarray:
    """Concatenate the played beats' segments (2 ms fades keep the joins quiet)."""
    fade = int(0.002 * sr)
    parts = []
    for beat in beat_sequence(np.asarray(actions)):
        seg = audio[int(round(bounds_s[beat] * sr)) : int(round(bounds_s[beat + 1] * sr))].copy()
        ramp = np.linspace(0.0, 1.0, min(fade, len(seg) // 2))
        seg[: ramp.size] *= ramp
        seg[len(seg) - ramp.size :] *= ramp[::-1]
        parts.append(seg)
    return np.concatenate(parts)


def write_test_manifest(folder: Path, structure: dict | None = None) -> Path:
    """One song and three candidate edits as wavs plus ``manifest.json`` (with the song's
    ``structure`` when given); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    audio, beats_s = synthesize_song()
    duration_s = len(audio) / SAMPLE_RATE
    bounds_s = np.append(beats_s, duration_s)
    bounds_s[0] = 0.0
    (folder / "songs").mkdir(exist_ok=True)
    (folder / "edits").mkdir(exist_ok=True)
    sf.write(folder / "songs" / "song1.wav", audio, SAMPLE_RATE)
    candidates = []
    for k, (edit_id, actions) in enumerate(CANDIDATE_ACTIONS.items()):
        rendered = render_by_segments(audio, bounds_s, actions)
        sf.write(folder / "edits" / f"{edit_id}.wav", rendered, SAMPLE_RATE)
        candidates.append(
            {
                "edit_id": edit_id,
                "temperature": 0.1 + 0.3 * k,
                "path": f"edits/{edit_id}.wav",
                "duration": len(rendered) / SAMPLE_RATE,
                "actions": actions,
                "policy": "test-policy",
                "seed": k,
            }
        )
    manifest = [
        {
            "song": "songs/song1.wav",
            "song_id": "song1",
            "duration_seconds": duration_s,
            "beats": [float(b) for b in beats_s],
            "downbeats": [float(b) for b in beats_s[::4]],
            "candidates": candidates,
            **({"structure": structure} if structure else {}),
        }
    ]
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base_url: str
    manifest_path: Path
    rater_token: str
    admin_token: str
    candidate_actions: dict[str, list[int]]
    beat_s: float = BEAT_S
    n_beats: int = N_BEATS

    def presented_edit_ids(self, task_id: str) -> list[str]:
        """The edits the rater sees as A and B in their current task (the page itself never learns them)."""
        from rl_editor.feedback.storage import FeedbackStore

        with FeedbackStore.open(None, self.manifest_path) as store:
            view = store.next_task(store.authenticate_rater(self.rater_token).id)
        assert view is not None and view.task_id == task_id
        return [edit.edit_id for edit in view.edits]


@pytest.fixture(scope="module")
def chromium_browser():
    """A headless Debian Chromium (skipped when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser tests need Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the playwright package")
    sync_playwright = sync_api.sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve_feedback_app(
    folder: Path, task_config, test_hooks: bool = True, structure: dict | None = None, headphone_check: bool = False
) -> Iterator[LiveServer]:
    """Write the test manifest into ``folder``, make tasks, a rater "alice" and an admin
    token, and serve the real app with uvicorn in a thread on a free loopback port
    (with the page's test hook ``window.raterApp`` unless ``test_hooks`` is false, the
    song's ``structure`` in the manifest, and the headphone check on if asked)."""
    import uvicorn

    from rl_editor.feedback.app import create_app
    from rl_editor.feedback.settings import FeedbackSettings
    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.generate.manifest import Manifest

    manifest_path = write_test_manifest(folder, structure)
    store = FeedbackStore.open(None, manifest_path)
    try:
        store.create_tasks_from_manifest(Manifest.load(manifest_path), task_config)
        store.set_headphone_check(headphone_check)
        rater_token = store.add_rater("alice")
        admin_token = store.create_admin_token()
    finally:
        store.close()

    port = free_port()
    web = create_app(manifest_path, settings=FeedbackSettings(expose_test_hooks=test_hooks))
    config = uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the feedback app did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", manifest_path, rater_token, admin_token, CANDIDATE_ACTIONS)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with pairwise tasks only (every pair of the three candidates, no gold)."""
    from rl_editor.feedback.tasks import TaskConfig

    with serve_feedback_app(tmp_path_factory.mktemp("browser-pairs"), TaskConfig(gold_per_rater=0, seed=3)) as live:
        yield live


@pytest.fixture(scope="module")
def rating_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app with one absolute-rating task and no pairs."""
    from rl_editor.feedback.tasks import TaskConfig

    config = TaskConfig(pairs_per_song=0, ratings_per_song=1, gold_per_rater=0, seed=3)
    with serve_feedback_app(tmp_path_factory.mktemp("browser-ratings"), config) as live:
        yield live


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app as people get it: pairwise tasks, and no test hook on the rater page."""
    from rl_editor.feedback.tasks import TaskConfig

    folder = tmp_path_factory.mktemp("browser-production")
    with serve_feedback_app(folder, TaskConfig(gold_per_rater=0, seed=3), test_hooks=False) as live:
        yield live


@pytest.fixture(scope="module")
def structured_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Pairwise tasks over a song whose manifest carries its sections (A B A C)."""
    from rl_editor.feedback.tasks import TaskConfig

    folder = tmp_path_factory.mktemp("browser-structure")
    with serve_feedback_app(folder, TaskConfig(gold_per_rater=0, seed=3), structure=SONG_STRUCTURE) as live:
        yield live


@pytest.fixture(scope="module")
def headphone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Pairwise tasks behind the headphone check."""
    from rl_editor.feedback.tasks import TaskConfig

    folder = tmp_path_factory.mktemp("browser-headphones")
    with serve_feedback_app(folder, TaskConfig(gold_per_rater=0, seed=3), headphone_check=True) as live:
        yield live


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

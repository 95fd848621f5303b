"""Shared fixtures: small real data the project makes (demo songs) or fetches (real songs).

Real music comes from a folder of songs named by ``RL_EDITOR_MUSIC_DIR`` or from
the fetch script named by ``RL_EDITOR_MUSIC_FETCH`` (the Makefile sets it).
Tests marked ``real_music`` are skipped only when neither variable is set; when
one is set but gives no songs (empty folder, missing script, failed fetch) they
fail with the reason, so a run that asked for real music never passes without it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = REPO_ROOT / ".cache" / "tests"


@pytest.fixture(autouse=True, scope="session")
def _isolated_analysis_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every test session's analysis cache out of the user's cache."""
    os.environ.setdefault("RL_EDITOR_CACHE_DIR", str(tmp_path_factory.mktemp("analysis-cache")))


def _songs_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ogg"))


def _real_music(short: bool) -> Path:
    """The folder of real songs, skipping when none was asked for and failing when asking gave none."""
    given = os.environ.get("RL_EDITOR_MUSIC_DIR")
    script = os.environ.get("RL_EDITOR_MUSIC_FETCH")
    if given and _songs_in(Path(given)):
        return Path(given)
    if not script:
        if given:
            pytest.fail(f"RL_EDITOR_MUSIC_DIR={given}: no .ogg songs there (and RL_EDITOR_MUSIC_FETCH is not set)")
        pytest.skip("no real music: set RL_EDITOR_MUSIC_FETCH or RL_EDITOR_MUSIC_DIR")
    if not Path(script).is_file():
        pytest.fail(f"RL_EDITOR_MUSIC_FETCH={script}: no such fetch script")
    target = CACHE_ROOT / ("real-music-short" if short else "real-music")
    args = ["bash", script, str(target)] + (["--short"] if short else [])
    result = subprocess.run(args, capture_output=True, text=True)
    stderr = result.stderr.strip()[-2000:] or "(nothing on stderr)"
    if result.returncode != 0:
        pytest.fail(f"{script} {target} failed (exit code {result.returncode}): {stderr}")
    if not _songs_in(target):
        pytest.fail(f"{script} exited 0 but left no .ogg songs in {target}: {stderr}")
    return target


@pytest.fixture(scope="session")
def real_music_short_dir() -> Path:
    """Folder with the three short real songs (43-105 s, ogg, 48 kHz stereo)."""
    return _real_music(short=True)


@pytest.fixture(scope="session")
def demo_songs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four short synthesized demo songs (about 40 s each) with ground-truth JSON beside them."""
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("demo-songs")
    synthesize_corpus(folder, n_songs=4, seed=1234, duration_range_s=(35.0, 45.0))
    return folder


@pytest.fixture(scope="session")
def demo_analyses(demo_songs_dir: Path) -> list:
    """``SongAnalysis`` of each short demo song (cached for the session)."""
    from rl_editor.audio import analyze_song

    return [analyze_song(p) for p in sorted(demo_songs_dir.glob("*.wav"))]


@pytest.fixture
def rl_editor_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``rl-editor ARGS...`` through its console entry point; returns (exit code, stdout, stderr)."""
    import sys

    from rl_editor.cli import main

    def run(*args: object) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["rl-editor", *map(str, args)])
        monkeypatch.setenv("COLUMNS", "200")
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run

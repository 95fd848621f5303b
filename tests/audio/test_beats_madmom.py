"""Choosing the beat tracker: the optional madmom backend, its errors and its cache entries."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

import numpy as np
import pytest

from rl_editor.audio.analyze import analysis_params, analyze_song
from rl_editor.audio.beats_madmom import BeatTrackerMissingError
from rl_editor.audio.cache import cache_path
from rl_editor.audio.io import AnalysisError

MADMOM_INSTALLED = importlib.util.find_spec("madmom") is not None
needs_madmom = pytest.mark.skipif(not MADMOM_INSTALLED, reason="madmom is optional: pip install 'rl-editor[madmom]'")


@pytest.fixture
def without_madmom(monkeypatch):
    """Make ``import madmom`` fail as it does where madmom is not installed."""
    monkeypatch.setitem(sys.modules, "madmom", None)
    monkeypatch.setitem(sys.modules, "madmom.features.downbeats", None)


def test_the_beat_tracker_is_part_of_the_cache_key(tmp_path):
    digest = "ab" * 32
    paths = {beats: cache_path(digest, analysis_params(beats), tmp_path) for beats in ("librosa", "madmom")}
    assert paths["librosa"] != paths["madmom"]


def test_a_cached_librosa_analysis_is_not_served_for_madmom(write_beat_file, tmp_path, without_madmom):
    song = write_beat_file("song.wav")
    analyze_song(song, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    # a cache lookup that ignored the backend would return the librosa entry here instead of failing
    with pytest.raises(BeatTrackerMissingError, match="madmom is not installed"):
        analyze_song(song, cache_dir=tmp_path / "cache", beats="madmom")


def test_an_unknown_beat_tracker_is_refused(write_beat_file):
    with pytest.raises(AnalysisError, match="unknown beat tracker; use one of librosa, madmom"):
        analyze_song(write_beat_file("song.wav"), use_cache=False, beats="aubio")


def test_analyze_with_madmom_missing_fails_in_one_line(rl_editor_main, write_beat_file, without_madmom):
    code, out, err = rl_editor_main("analyze", write_beat_file("song.wav"), "--beats", "madmom", "--no-cache")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --beats madmom: madmom is not installed")
    assert "pip install 'rl-editor[madmom]'" in lines[0] and "non-commercial" in lines[0]


@needs_madmom
def test_madmom_imports_and_the_version_lookup_is_restored():
    from rl_editor.audio.beats_madmom import import_madmom

    madmom = import_madmom()
    assert madmom.__version__.startswith("0.17")
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("madmom")  # the alias only lives during the import


@needs_madmom
def test_madmom_analyses_are_cached_beside_librosa_ones(write_beat_file, tmp_path):
    song = write_beat_file("song.wav", seconds=12.0)
    analyze_song(song, cache_dir=tmp_path)
    madmom_analysis = analyze_song(song, cache_dir=tmp_path, beats="madmom")
    assert len(list(tmp_path.glob("*.npz"))) == 2
    period = np.median(np.diff(madmom_analysis.beat_times_s))
    assert period == pytest.approx(0.5, abs=0.03)  # the file's 120 BPM
    assert madmom_analysis.beats_per_bar in (3, 4)
    hit = analyze_song(song, cache_dir=tmp_path, beats="madmom")
    np.testing.assert_array_equal(hit.beat_times_s, madmom_analysis.beat_times_s)

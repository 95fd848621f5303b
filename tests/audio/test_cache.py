"""The analysis cache: fast hits, misses when the content changes, atomic entries."""

from __future__ import annotations

import shutil
import time

import numpy as np
import soundfile as sf

from rl_editor.audio import analyze as analyze_module
from rl_editor.audio import analyze_song
from rl_editor.audio.analyze import analysis_params, code_digest
from rl_editor.audio.cache import cache_path, default_cache_dir


def test_a_cache_hit_is_much_faster_than_analysing(demo_songs_dir, demo_analyses, tmp_path):
    """(``demo_analyses`` first, so library imports are not counted as analysis time.)"""
    song = sorted(demo_songs_dir.glob("*.wav"))[0]
    cache_dir = tmp_path / "cache"
    start = time.perf_counter()
    fresh = analyze_song(song, cache_dir=cache_dir)
    analysis_s = time.perf_counter() - start
    hit_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        hit = analyze_song(song, cache_dir=cache_dir)
        hit_s = min(hit_s, time.perf_counter() - start)
    assert hit_s < analysis_s / 20, (hit_s, analysis_s)
    np.testing.assert_array_equal(hit.features, fresh.features)
    np.testing.assert_array_equal(hit.beat_in_bar, fresh.beat_in_bar)
    assert fresh.edge_features is not None and fresh.edge_features.shape == (fresh.n_beats, 2, 32)
    np.testing.assert_array_equal(hit.edge_features, fresh.edge_features)
    assert hit.content_sha256 == fresh.content_sha256


def test_changed_content_misses_and_renamed_copies_hit(write_beat_file, tmp_path):
    cache_dir = tmp_path / "cache"
    path = write_beat_file("song.wav", seconds=12.0)
    first = analyze_song(path, cache_dir=cache_dir)
    assert cache_path(first.content_sha256, analysis_params(), cache_dir).is_file()

    copy = tmp_path / "renamed.wav"
    shutil.copy(path, copy)
    relabelled = analyze_song(copy, cache_dir=cache_dir)
    assert relabelled.song_id == "renamed" and relabelled.path == str(copy)
    assert relabelled.content_sha256 == first.content_sha256

    samples, sr = sf.read(str(path), dtype="float32")
    sf.write(str(path), 0.5 * samples, sr)
    changed = analyze_song(path, cache_dir=cache_dir)
    assert changed.content_sha256 != first.content_sha256
    assert not np.allclose(changed.features, first.features)
    assert len(list(cache_dir.glob("*.npz"))) == 2
    assert not list(cache_dir.glob(".*"))  # no temporary file left behind


def test_a_damaged_cache_entry_is_recomputed(write_beat_file, tmp_path):
    cache_dir = tmp_path / "cache"
    path = write_beat_file("song.wav", seconds=12.0)
    first = analyze_song(path, cache_dir=cache_dir)
    entry = cache_path(first.content_sha256, analysis_params(), cache_dir)
    entry.write_bytes(b"not an npz")
    again = analyze_song(path, cache_dir=cache_dir)
    np.testing.assert_array_equal(again.features, first.features)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RL_EDITOR_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("RL_EDITOR_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("rl-editor", "analysis")


def test_the_cache_key_holds_a_digest_of_the_analysis_code():
    librosa_key, madmom_key = analysis_params("librosa"), analysis_params("madmom")
    assert librosa_key["code"] == code_digest(analyze_module.ANALYSIS_CODE_MODULES)
    assert madmom_key["code"] != librosa_key["code"]  # madmom's glue is part of its analyses


def test_changed_analysis_code_reanalyses_instead_of_reading_the_old_entry(write_beat_file, tmp_path, monkeypatch):
    """A module of the analysis (here a stand-in written by the test) changes: the old entry is not read."""
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    bar_model = module_dir / "stand_in_bar_model.py"
    bar_model.write_text("BAR_MODEL = 1\n")
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.setattr(
        analyze_module, "ANALYSIS_CODE_MODULES", analyze_module.ANALYSIS_CODE_MODULES + ("stand_in_bar_model",)
    )
    cache_dir = tmp_path / "cache"
    path = write_beat_file("song.wav", seconds=12.0)
    first = analyze_song(path, cache_dir=cache_dir)
    analyze_song(path, cache_dir=cache_dir)
    assert len(list(cache_dir.glob("*.npz"))) == 1  # unchanged code: a hit

    bar_model.write_text("BAR_MODEL = 2\n")
    code_digest.cache_clear()  # the digest is read once per process, as a new run would
    again = analyze_song(path, cache_dir=cache_dir)
    entries = sorted(cache_dir.glob("*.npz"))
    assert len(entries) == 2, entries  # analysed afresh and stored under the new key
    assert cache_path(first.content_sha256, analysis_params(), cache_dir).is_file()
    np.testing.assert_array_equal(again.beat_times_s, first.beat_times_s)

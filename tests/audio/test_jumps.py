"""Jump costs on demo songs whose sections (and which of them repeat) are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rl_editor.audio import analyze_song
from rl_editor.audio.jumps import JumpCostConfig, jump_components, jump_cost


@pytest.fixture(scope="module")
def songs_with_repeated_sections(tmp_path_factory) -> list:
    """Three 1-2 minute demo songs (intro, verses, choruses, bridge, outro) and their sections."""
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("jump-songs")
    paths = synthesize_corpus(folder, n_songs=3, seed=3, duration_range_s=(60.0, 120.0))
    return [(analyze_song(p), json.loads(Path(p).with_suffix(".json").read_text())["sections"]) for p in paths]


def _section_entries(analysis, sections) -> list[tuple[int, str]]:
    """(first beat, name) of every section of the ground truth."""
    starts = [int(np.argmin(np.abs(analysis.beat_times_s - s["start_s"]))) for s in sections]
    return [(b, s["name"]) for b, s in zip(starts, sections) if 0 < b < analysis.n_beats - 1]


@pytest.mark.parametrize(
    "config", [JumpCostConfig(), JumpCostConfig(label=0.0, position=0.0)], ids=["full", "sound-only"]
)
def test_entering_a_section_like_the_one_that_would_follow_costs_less(songs_with_repeated_sections, config):
    """Leave just before a section starts; enter at another section of the same name or of another name."""
    same, other = [], []
    for analysis, sections in songs_with_repeated_sections:
        entries = _section_entries(analysis, sections)
        for continuation, name in entries:
            for entry, entry_name in entries:
                if entry != continuation:
                    cost = float(jump_cost(analysis, np.array([continuation - 1]), np.array([entry]), config)[0])
                    (same if entry_name == name else other).append(cost)
    assert len(same) >= 6 and len(other) >= 20
    assert np.mean(same) < 0.7 * np.mean(other), (np.mean(same), np.mean(other))
    assert np.median(same) < np.percentile(other, 25)


def test_the_natural_continuation_costs_nothing_and_components_stay_in_range(songs_with_repeated_sections):
    analysis = songs_with_repeated_sections[0][0]
    exits = np.arange(analysis.n_beats - 1)
    np.testing.assert_allclose(jump_cost(analysis, exits, exits + 1), 0.0, atol=1e-9)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, analysis.n_beats, size=(2, 200))
    parts = jump_components(analysis, i, j)
    for name in ("timbre", "harmony", "loudness", "label", "position"):
        values = getattr(parts, name)
        assert values.shape == (200,) and np.all((values >= 0) & (values <= 1)), name
    assert np.all((parts.cost >= 0) & (parts.cost <= 1))


def test_a_seam_into_the_same_kind_of_section_sounds_like_the_songs_own_entry(songs_with_repeated_sections):
    """Leave just before a section starts and enter another section's start: when both sections are of one
    kind, the seam joins the same two sounds as the song's own entry into it, so it costs what that entry does."""
    from rl_editor.audio.jumps import seam_cost

    same, other = [], []
    for analysis, sections in songs_with_repeated_sections:
        entries = _section_entries(analysis, sections)
        for continuation, name in entries:
            own_entry = float(seam_cost(analysis, np.array(continuation - 1), np.array(continuation)))
            for entry, entry_name in entries:
                if entry != continuation:
                    cost = float(seam_cost(analysis, np.array(continuation - 1), np.array(entry)))
                    (same if entry_name == name else other).append(abs(cost - own_entry))
    assert len(same) >= 6 and len(other) >= 20
    assert np.median(same) < 0.25 * np.median(other), (np.median(same), np.median(other))
    assert np.percentile(same, 75) < np.percentile(other, 25)


def test_seam_cost_hears_the_edges_a_splice_joins_not_the_beat_means():
    """Every beat is half tone, half noise, so all beats have the same means; which half comes first decides
    whether a jump joins noise to noise (smooth) or noise to tone (a change), and only edges can tell."""
    from rl_editor.audio.features import HOP_LENGTH, beat_edges, frame_features
    from rl_editor.audio.jumps import seam_cost
    from rl_editor.audio.song import SongAnalysis

    sr, beat_s, pattern = 22050, 1.0, "AAAABBBBAAAA"  # A: tone then noise, B: noise then tone
    rng = np.random.default_rng(0)
    half = np.arange(int(sr * beat_s / 2)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440.0 * half)
    halves = []
    for kind in pattern:
        noise = 0.3 * rng.standard_normal(half.size)
        halves += [tone, noise] if kind == "A" else [noise, tone]
    frames = frame_features(np.concatenate(halves).astype(np.float32), sr=sr)
    beat_times = np.arange(len(pattern)) * beat_s
    beat_frames = np.ceil(beat_times * sr / HOP_LENGTH).astype(np.int64)
    analysis = SongAnalysis(
        song_id="halves",
        path="",
        content_sha256="",
        sample_rate=sr,
        source_sample_rate=sr,
        channels=1,
        duration_seconds=len(pattern) * beat_s,
        tempo_bpm=60.0,
        beat_times_s=beat_times,
        beat_in_bar=np.arange(len(pattern)) % 4,
        beats_per_bar=4,
        features=np.zeros((len(pattern), 125)),
        edge_features=beat_edges(frames, beat_frames),
    )
    exit_a = 2  # ends in noise
    into_b = float(seam_cost(analysis, np.array(exit_a), np.array(5)))  # enters on noise
    into_a = float(seam_cost(analysis, np.array(exit_a), np.array(9)))  # enters on the tone
    assert into_b < into_a - 1.0, (into_b, into_a)
    heads, tails = analysis.edge_features[:, 0, :20], analysis.edge_features[:, 1, :20]
    assert np.linalg.norm(heads[5] - tails[exit_a]) < 0.25 * np.linalg.norm(heads[9] - tails[exit_a])

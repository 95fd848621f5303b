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


def test_seams_into_another_kind_of_section_are_rougher_than_into_the_same_kind(songs_with_repeated_sections):
    from rl_editor.audio.jumps import seam_cost

    same, other = [], []
    for analysis, sections in songs_with_repeated_sections:
        exits = np.arange(analysis.n_beats - 1)
        natural = seam_cost(analysis, exits, exits + 1)
        entries = _section_entries(analysis, sections)
        for continuation, name in entries:
            for entry, entry_name in entries:
                if entry != continuation:
                    cost = float(seam_cost(analysis, np.array(continuation - 1), np.array(entry)))
                    (same if entry_name == name else other).append(cost)
                    assert cost > np.median(natural)  # the song going on is smoother than a jump
    assert np.median(same) < np.median(other) - 0.3

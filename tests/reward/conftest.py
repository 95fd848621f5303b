"""Fixtures of synthetic songs and judged pairs, so most reward tests run without audio."""

from __future__ import annotations

import pytest
from reward_helpers import judged_pairs, make_analysis

from rl_editor.audio.song import SongAnalysis
from rl_editor.preferences import PreferencePair


@pytest.fixture(scope="session")
def songs() -> list[SongAnalysis]:
    return [make_analysis(f"song{k}", n_bars=20 + 2 * k, seed=k) for k in range(6)]


@pytest.fixture(scope="session")
def pairs(songs: list[SongAnalysis]) -> list[PreferencePair]:
    return judged_pairs(songs, n_per_song=60, seed=1)

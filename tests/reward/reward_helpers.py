"""Small synthetic songs, edits and a tiny taste for reward tests (test data, no audio needed)."""

from __future__ import annotations

import numpy as np

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import CUT, KEEP, REPEAT, splice_pairs
from rl_editor.preferences import EditRef, PreferencePair


def make_analysis(song_id: str, n_bars: int = 24, seed: int = 0, bar_beats: int = 4) -> SongAnalysis:
    """A song of ``n_bars`` bars in 4-bar sections whose timbre, harmony and loudness differ."""
    rng = np.random.default_rng(seed)
    n = n_bars * bar_beats
    tempo = 120.0
    beat_times = np.arange(n) * 60.0 / tempo + 0.2
    section = np.arange(n) // (4 * bar_beats)
    n_sections = int(section.max()) + 1
    features = np.zeros((n, FEATURE_DIM), dtype=np.float32)
    centers = rng.normal(size=(n_sections, FEATURE_DIM)).astype(np.float32)
    features[:] = centers[section] + 0.3 * rng.normal(size=(n, FEATURE_DIM))
    chroma = np.abs(rng.normal(size=(n_sections, 12)))
    features[:, GROUP_SLICES["chroma_mean"]] = (chroma / chroma.sum(1, keepdims=True))[section]
    loud = rng.uniform(-30, -8, size=n_sections)
    features[:, feature_index("rms_mean_db")] = loud[section] + rng.normal(scale=0.5, size=n)
    bib = np.arange(n) % bar_beats
    onehot = np.zeros((n, 4), dtype=np.float32)
    onehot[np.arange(n), np.minimum(bib, 3)] = 1
    features[:, GROUP_SLICES["beat_in_bar_onehot"]] = onehot
    features[:, feature_index("song_position")] = np.arange(n) / n
    starts = np.r_[0, np.flatnonzero(np.diff(section)) + 1]
    distance = np.min(np.abs(np.arange(n)[:, None] - starts[None, :]), axis=1) / 16.0
    features[:, feature_index("novelty_peak_distance")] = np.minimum(distance, 1.0)
    return SongAnalysis(
        song_id=song_id,
        path=f"{song_id}.wav",
        content_sha256=f"sha-{song_id}",
        sample_rate=22050,
        source_sample_rate=44100,
        channels=2,
        duration_seconds=float(beat_times[-1] + 0.5),
        tempo_bpm=tempo,
        beat_times_s=beat_times,
        beat_in_bar=bib,
        beats_per_bar=bar_beats,
        features=features,
    )


def random_edits(analysis: SongAnalysis, n_edits: int, seed: int = 0) -> np.ndarray:
    """Edits made of whole-bar or off-beat cut runs and a few repeats, at varied cut shares."""
    rng = np.random.default_rng(seed)
    n = analysis.n_beats
    out = np.zeros((n_edits, n), dtype=np.int8)
    for k in range(n_edits):
        target = rng.uniform(0.0, 0.6)
        aligned = rng.random() < 0.5
        while np.mean(out[k] == CUT) < target:
            length = int(rng.integers(1, 9))
            start = int(rng.integers(1, n - 1))
            if aligned:
                start -= start % 4
                length = 4 * max(1, length // 4)
            out[k, max(start, 1) : min(start + length, n - 1)] = CUT
        if rng.random() < 0.3:
            spot = int(rng.integers(1, n - 1))
            if out[k, spot] == KEEP:
                out[k, spot] = REPEAT
    return out


def tiny_taste(analysis: SongAnalysis, actions: np.ndarray) -> float:
    """Likes about 70 % of the song kept, cuts on bar lines and no repeats."""
    actions = np.asarray(actions)
    keep = np.mean(actions != CUT)
    splices = splice_pairs(actions)
    on_bar = (
        np.mean(analysis.beat_in_bar[np.minimum(splices[:, 0] + 1, analysis.n_beats - 1)] == 0) if len(splices) else 1.0
    )
    return float(-6.0 * abs(keep - 0.7) + 2.0 * on_bar - 1.0 * np.sum(actions == REPEAT))


def judged_pairs(
    analyses: list[SongAnalysis], n_per_song: int, seed: int = 0, noise: float = 0.0
) -> list[PreferencePair]:
    """Pairs judged by ``tiny_taste`` (with ``noise`` share of flipped answers)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for s, analysis in enumerate(analyses):
        edits = random_edits(analysis, 2 * n_per_song, seed=seed + 31 * s)
        for k in range(n_per_song):
            a, b = edits[2 * k], edits[2 * k + 1]
            gap = tiny_taste(analysis, a) - tiny_taste(analysis, b)
            if abs(gap) < 0.2:
                preference, strength = "tie", 1
            else:
                preference = "a" if gap > 0 else "b"
                if rng.random() < noise:
                    preference = "b" if preference == "a" else "a"
                strength = 1 if abs(gap) < 1 else (2 if abs(gap) < 2.5 else 3)
            pairs.append(
                PreferencePair(
                    song_id=analysis.song_id,
                    edit_a=EditRef(path=f"{analysis.song_id}_{2 * k}.wav", actions=a.tolist(), duration_seconds=1.0),
                    edit_b=EditRef(
                        path=f"{analysis.song_id}_{2 * k + 1}.wav", actions=b.tolist(), duration_seconds=1.0
                    ),
                    preference=preference,
                    strength=strength,
                    rater=f"rater{k % 2}",
                    timestamp="2026-01-01T00:00:00",
                )
            )
    return pairs

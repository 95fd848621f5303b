"""What the reward model sees of an edit, computed from actions without rendering audio.

An edit of a song is described to the model by two things:

- **which beats play and how often**: a count per source beat (0 cut, 1 kept,
  2 repeated). The model embeds every source beat's 125 features once per song
  and pools them with these counts (mean and attention pooling), which is the
  same as pooling the edit's played-beat sequence.
- **edit statistics** (``CONTEXT_NAMES``): shares of kept/cut/repeated beats,
  length ratio, how many splices there are and how good they sound (from
  :mod:`rl_editor.audio.splice`), how cuts sit on the bar grid, and how many of
  the song's sections the edit still visits, and how much of the song's
  loudest material (top 40 % of beats by within-song loudness percentile) it keeps.
- **what material is kept** (``CONTENT_NAMES``, song-relative so they transfer
  across songs; :mod:`rl_editor.audio.content`): shares of the intro, the outro,
  the reprised sections and the first statements still played, and the mean
  within-song percentile of the played beats' section energy, brightness,
  melodic character, novelty and position in the song.

Everything is vectorised over a batch of edits of one song, so scoring
thousands of edits per second is possible.

Sections are delimited by the analysis' novelty peaks (beats whose
``novelty_peak_distance`` feature is 0); a song without peaks is one section.
"""

from __future__ import annotations

import numpy as np

from rl_editor.audio.feature_layout import feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import splice_components
from rl_editor.edit import CUT, KEEP, REPEAT

CONTEXT_NAMES: tuple[str, ...] = (
    "keep_share",
    "cut_share",
    "repeat_share",
    "length_ratio",
    "splice_rate",
    "log_n_splices",
    "splice_quality_mean",
    "splice_quality_min",
    "splice_timbre_mean",
    "splice_harmony_mean",
    "splice_energy_mean",
    "splice_bar_phase_share",
    "splice_on_bar_line_share",
    "cut_runs_on_downbeat_share",
    "cut_runs_whole_bars_share",
    "cut_run_mean_bars",
    "longest_cut_share",
    "section_coverage",
    "section_keep_min",
    "no_splice",
    "splices_per_minute",
    "log_n_repeats",
    "loud_kept_share",
    "loudness_percentile_mean",
)
CONTENT_NAMES: tuple[str, ...] = (
    "intro_kept_share",
    "outro_kept_share",
    "reprise_kept_share",
    "first_statement_kept_share",
    "energy_rank_mean",
    "brightness_percentile_mean",
    "melodic_percentile_mean",
    "novelty_percentile_mean",
    "position_mean",
)
CONTEXT_NAMES = CONTEXT_NAMES + CONTENT_NAMES
CONTEXT_DIM = len(CONTEXT_NAMES)


def play_counts(actions_batch: np.ndarray) -> np.ndarray:
    """Shape (batch, n_beats) float32: how often each source beat is played (0, 1 or 2)."""
    actions_batch = np.asarray(actions_batch)
    return np.where(actions_batch == CUT, 0, np.where(actions_batch == REPEAT, 2, 1)).astype(np.float32)


def section_ids(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_beats,) int: the section each beat belongs to (cached on the analysis)."""

    def compute() -> np.ndarray:
        peak_distance = analysis.features[:, feature_index("novelty_peak_distance")]
        starts = np.isclose(peak_distance, 0.0)
        starts[0] = False
        return np.cumsum(starts).astype(np.int64)

    return analysis.derived("reward_section_ids", compute)


def loudness_percentile(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_beats,): each beat's RMS loudness as a percentile within its song (cached)."""

    def compute() -> np.ndarray:
        loud = analysis.features[:, feature_index("rms_mean_db")]
        order = np.argsort(np.argsort(loud, kind="stable"), kind="stable")
        return ((order + 0.5) / max(len(loud), 1)).astype(np.float32)

    return analysis.derived("reward_loudness_percentile", compute)


def _prev_played(played: np.ndarray) -> np.ndarray:
    """For each position, the index of the last played beat strictly before it (-1 if none)."""
    batch, n = played.shape
    idx = np.where(played, np.arange(n)[None, :], -1)
    running = np.maximum.accumulate(idx, axis=1)
    prev = np.full((batch, n), -1, dtype=np.int64)
    prev[:, 1:] = running[:, :-1]
    return prev


def _per_edit_mean(values: np.ndarray, rows: np.ndarray, counts: np.ndarray, empty: float) -> np.ndarray:
    sums = np.bincount(rows, weights=values, minlength=counts.size)
    return np.where(counts > 0, sums / np.maximum(counts, 1), empty)


def splice_table(analysis: SongAnalysis, actions_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every splice of every edit in the batch.

    Returns
    -------
    rows, from_beats, to_beats : ndarray of int
        Splice ``k`` belongs to edit ``rows[k]`` and jumps from the end of
        source beat ``from_beats[k]`` to the start of ``to_beats[k]``. Matches
        :func:`rl_editor.edit.splice_pairs` edit by edit (order aside).
    """
    actions_batch = np.asarray(actions_batch)
    played = actions_batch != CUT
    n = actions_batch.shape[1]
    prev = _prev_played(played)
    jump = played & (prev >= 0) & (prev != np.arange(n)[None, :] - 1)
    j_rows, j_to = np.nonzero(jump)
    j_from = prev[j_rows, j_to]
    r_rows, r_at = np.nonzero(actions_batch == REPEAT)
    return (
        np.concatenate([j_rows, r_rows]),
        np.concatenate([j_from, r_at]),
        np.concatenate([j_to, r_at]),
    )


def _cut_run_stats(analysis: SongAnalysis, actions_batch: np.ndarray) -> np.ndarray:
    """Shape (batch, 4): share of cut runs starting on a downbeat, share spanning whole bars,
    mean run length in bars, longest run as a share of the song."""
    batch, n = actions_batch.shape
    cut = actions_batch == CUT
    padded = np.zeros((batch, n + 2), dtype=np.int8)
    padded[:, 1:-1] = cut
    edges = np.diff(padded, axis=1)
    s_rows, s_pos = np.nonzero(edges == 1)
    e_rows, e_pos = np.nonzero(edges == -1)  # row-major order pairs each start with its end
    lengths = (e_pos - s_pos).astype(np.float64)
    n_runs = np.bincount(s_rows, minlength=batch).astype(np.float64)
    bpb = max(int(analysis.beats_per_bar), 1)
    on_downbeat = (analysis.beat_in_bar[s_pos] == 0).astype(np.float64)
    whole_bars = on_downbeat * (lengths % bpb == 0)
    longest = np.zeros(batch)
    if lengths.size:
        np.maximum.at(longest, s_rows, lengths)
    return np.stack(
        [
            _per_edit_mean(on_downbeat, s_rows, n_runs, 1.0),
            _per_edit_mean(whole_bars, s_rows, n_runs, 1.0),
            _per_edit_mean(lengths / bpb, s_rows, n_runs, 0.0),
            longest / max(n, 1),
        ],
        axis=1,
    )


def _section_stats(analysis: SongAnalysis, counts: np.ndarray) -> np.ndarray:
    """Shape (batch, 2): share of sections with a played beat, lowest kept share of any section."""
    sections = section_ids(analysis)
    n_sections = int(sections.max()) + 1
    onehot = np.zeros((analysis.n_beats, n_sections), dtype=np.float32)
    onehot[np.arange(analysis.n_beats), sections] = 1.0
    played = (counts > 0).astype(np.float32)
    kept_per_section = played @ onehot / onehot.sum(axis=0)[None, :]
    return np.stack([(kept_per_section > 0).mean(axis=1), kept_per_section.min(axis=1)], axis=1)


def _loudness_stats(analysis: SongAnalysis, counts: np.ndarray) -> np.ndarray:
    """Shape (batch, 2): share of the loudest 40 % of beats played, mean loudness percentile played."""
    pct = loudness_percentile(analysis)
    loud = (pct >= 0.6).astype(np.float32)
    played = (counts > 0).astype(np.float32)
    kept_loud = played @ loud / max(float(loud.sum()), 1.0)
    mean_pct = counts @ pct / np.maximum(counts.sum(axis=1), 1.0)
    return np.stack([kept_loud, mean_pct], axis=1)


def _content_tables(analysis: SongAnalysis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per song, once: region weights (n_beats, 4) that turn played beats into kept shares of the intro, outro,
    reprises and first statements, the share (4,) of a region the song lacks (1: nothing of it is missing), and
    the per-beat percentiles (n_beats, 5) whose played means are the rest of ``CONTENT_NAMES``."""
    from rl_editor.audio.content import content_regions, feature_percentile, melodic_strength

    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        regions = content_regions(analysis)
        masks = np.stack([regions.intro, regions.outro, regions.reprise, ~regions.reprise], axis=1).astype(np.float64)
        sizes = masks.sum(axis=0)
        weights = masks / np.maximum(sizes, 1.0)
        per_beat = np.stack(
            [
                feature_percentile(analysis, "section_energy_rank"),
                feature_percentile(analysis, "spectral_centroid_khz"),
                melodic_strength(analysis),
                feature_percentile(analysis, "novelty"),
                (np.arange(analysis.n_beats) + 0.5) / max(analysis.n_beats, 1),
            ],
            axis=1,
        )
        return weights, (sizes == 0).astype(np.float64), per_beat

    return analysis.derived("reward_content_tables", compute)


def _content_stats(analysis: SongAnalysis, counts: np.ndarray) -> np.ndarray:
    """Shape (batch, len(CONTENT_NAMES)): what material the edits keep, song-relative (module docstring)."""
    region_weights, absent, per_beat = _content_tables(analysis)
    shares = (counts > 0).astype(np.float64) @ region_weights + absent[None, :]
    means = counts @ per_beat / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    return np.concatenate([shares, means], axis=1)


def edit_context(analysis: SongAnalysis, actions_batch: np.ndarray) -> np.ndarray:
    """Edit statistics for a batch of edits of one song.

    Parameters
    ----------
    analysis : SongAnalysis
    actions_batch : array of int, shape (batch, n_beats) or (n_beats,)
        Per-beat actions (0 keep, 1 cut, 2 repeat).

    Returns
    -------
    ndarray of float32, shape (batch, CONTEXT_DIM)
        Columns named by ``CONTEXT_NAMES``.
    """
    actions_batch = np.atleast_2d(np.asarray(actions_batch))
    batch, n = actions_batch.shape
    if n != analysis.n_beats:
        raise ValueError(f"{n} actions for song {analysis.song_id!r} of {analysis.n_beats} beats")
    counts = play_counts(actions_batch)
    durations = analysis.beat_durations_s
    length_ratio = counts @ durations / max(float(durations.sum()), 1e-9)

    rows, from_beats, to_beats = splice_table(analysis, actions_batch)
    n_splices = np.bincount(rows, minlength=batch).astype(np.float64)
    comps = splice_components(analysis, from_beats, to_beats)
    quality = comps.quality
    quality_min = np.ones(batch)
    if quality.size:
        np.minimum.at(quality_min, rows, quality)

    def mean(values: np.ndarray) -> np.ndarray:
        return _per_edit_mean(np.asarray(values, dtype=np.float64), rows, n_splices, 1.0)

    columns = [
        np.mean(actions_batch == KEEP, axis=1),
        np.mean(actions_batch == CUT, axis=1),
        np.mean(actions_batch == REPEAT, axis=1),
        length_ratio,
        n_splices / max(n, 1) * 16.0,
        np.log1p(n_splices),
        mean(quality),
        quality_min,
        mean(comps.timbre),
        mean(comps.harmony),
        mean(comps.energy),
        mean(comps.bar_phase),
        mean(comps.on_bar_line),
    ]
    context = np.column_stack(columns)
    context = np.concatenate(
        [
            context,
            _cut_run_stats(analysis, actions_batch),
            _section_stats(analysis, counts),
            (n_splices == 0).astype(np.float64)[:, None],
            (n_splices / np.maximum(length_ratio * analysis.duration_seconds / 60.0, 1e-3))[:, None] / 10.0,
            np.log1p(np.sum(actions_batch == REPEAT, axis=1))[:, None],
            _loudness_stats(analysis, counts),
            _content_stats(analysis, counts),
        ],
        axis=1,
    )
    return context.astype(np.float32)

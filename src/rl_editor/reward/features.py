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


def _content_stats(analysis: SongAnalysis, counts: np.ndarray) -> np.ndarray:
    """Shape (batch, len(CONTENT_NAMES)): what material the edits keep, song-relative (module docstring)."""
    from rl_editor.audio.content import content_regions, feature_percentile, melodic_strength

    regions = content_regions(analysis)
    played = (counts > 0).astype(np.float64)

    def kept_share(mask: np.ndarray) -> np.ndarray:
        return played @ mask / float(mask.sum()) if mask.any() else np.ones(len(counts))

    per_beat = np.stack([
        feature_percentile(analysis, "section_energy_rank"),
        feature_percentile(analysis, "spectral_centroid_khz"),
        melodic_strength(analysis),
        feature_percentile(analysis, "novelty"),
        (np.arange(analysis.n_beats) + 0.5) / max(analysis.n_beats, 1),
    ], axis=1)
    means = counts @ per_beat / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    shares = np.stack([kept_share(regions.intro), kept_share(regions.outro), kept_share(regions.reprise),
                       kept_share(~regions.reprise)], axis=1)
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


def sequence_counts(n_source_beats: int, beat_sequence: np.ndarray) -> np.ndarray:
    """Actions that play ``beat_sequence`` (source beats in playback order).

    Beats played once are kept, twice or more are repeated (the action set
    cannot say more), never are cut.
    """
    plays = np.bincount(np.asarray(beat_sequence, dtype=np.int64), minlength=n_source_beats)
    return np.where(plays == 0, CUT, np.where(plays >= 2, REPEAT, KEEP)).astype(np.int8)


_ALIGN_GROUPS = ("mfcc_mean", "chroma_mean", "spectral_contrast_mean", "band_energy_db")


def align_to_song(edit_features: np.ndarray, analysis: SongAnalysis, jump_cost: float | None = None) -> np.ndarray:
    """Which source beat each beat of an edit's audio came from.

    A Viterbi path over source beats: moving on to the next source beat is
    free, jumping anywhere else (a splice) costs ``jump_cost``; each edit beat
    pays its feature distance to the source beat (timbre, harmony, contrast,
    band energy, z-scored with the song's statistics; timing and position
    features are left out because they describe the edit, not the source).
    A single beat between two jumps, more than two bars from both neighbours,
    is then read as the beat just before the next one: the first beat after a
    splice is blurred by the crossfade and may resemble a far-away beat, while
    kept one-beat islands far from everything else are rare in edits.

    Parameters
    ----------
    edit_features : ndarray, shape (n_edit_beats, 125)
        Per-beat features of the edit's audio.
    analysis : SongAnalysis
        The original song.
    jump_cost : float, optional
        Cost of a splice; defaults to four times the median distance of an
        edit beat to its best-matching source beat (the typical matching error),
        so a jump is taken once a few beats in a row match elsewhere clearly better.

    Returns
    -------
    ndarray of int, shape (n_edit_beats,)
        Source beat indices in playback order.
    """
    from rl_editor.audio.feature_layout import GROUP_SLICES

    cols = np.concatenate([np.arange(GROUP_SLICES[g].start, GROUP_SLICES[g].stop) for g in _ALIGN_GROUPS])
    source = analysis.features[:, cols].astype(np.float64)
    mean, std = source.mean(axis=0), source.std(axis=0) + 1e-6
    source = (source - mean) / std
    edit = (np.asarray(edit_features, dtype=np.float64)[:, cols] - mean) / std
    cost = ((edit[:, None, :] - source[None, :, :]) ** 2).mean(axis=2)
    if jump_cost is None:
        jump_cost = max(4.0 * float(np.median(cost.min(axis=1))), 1e-3)
    n_edit, n = cost.shape
    total = cost[0].copy()
    from_jump = np.zeros((n_edit, n), dtype=bool)
    best_prev = np.zeros(n_edit, dtype=np.int64)
    for k in range(1, n_edit):
        step = np.full(n, np.inf)
        step[1:] = total[:-1]
        best_prev[k] = int(np.argmin(total))
        jump = total[best_prev[k]] + jump_cost
        from_jump[k] = jump < step
        total = np.minimum(step, jump) + cost[k]
    path = np.empty(n_edit, dtype=np.int64)
    path[-1] = int(np.argmin(total))
    for k in range(n_edit - 1, 0, -1):
        path[k - 1] = best_prev[k] if from_jump[k, path[k]] else path[k] - 1
    for k in range(1, n_edit - 1):
        far = 2 * max(int(analysis.beats_per_bar), 1)
        isolated = abs(path[k] - path[k - 1]) > far and abs(path[k + 1] - path[k]) > far
        if isolated and path[k + 1] >= 1:
            path[k] = path[k + 1] - 1
    return path


def align_rendered_edit(
    edit_samples: np.ndarray,
    source_samples: np.ndarray,
    sample_rate: int,
    analysis: SongAnalysis,
    *,
    offset_ms: float = 45.0,
    window_ms: float = 40.0,
    max_slide_ms: float = 25.0,
) -> np.ndarray | None:
    """Which source beats a rendered edit plays, read from the waveform itself.

    A rendered edit copies whole beat segments of the source sample for sample
    (crossfades, level ramps and slides touch only the first tens of ms after
    each splice and may read a run up to ``max_slide_ms`` off its beat grid).
    Walking through the edit segment by segment, each segment's opening
    (``offset_ms`` after its start, past the crossfade; ``window_ms`` long) is
    matched, shape only (unit-norm windows, so level ramps do not matter),
    against the opening of every source beat; the next source beat wins ties,
    so identical loops decode as plain continuations. When no opening matches
    at the current slide (a splice whose incoming run was slid), the slide is
    searched again. The walk advances by the chosen beat's duration.

    Parameters
    ----------
    edit_samples, source_samples : ndarray, shape (n,) or (n, channels)
        The edit and the original at the same ``sample_rate`` (Hz).
    analysis : SongAnalysis
        The original's analysis (its ``segment_bounds_s`` define the beats).

    Returns
    -------
    ndarray of int or None
        Source beat indices in playback order, or None when the edit is not a
        sample-exact splice of the source (re-encoded, resampled, processed).
    """
    edit = np.asarray(edit_samples, dtype=np.float64)
    source = np.asarray(source_samples, dtype=np.float64)
    edit = edit.mean(axis=1) if edit.ndim == 2 else edit
    source = source.mean(axis=1) if source.ndim == 2 else source
    offset = int(round(offset_ms * 1e-3 * sample_rate))
    width = max(int(round(window_ms * 1e-3 * sample_rate)), 8)
    max_slide = int(round(max_slide_ms * 1e-3 * sample_rate))
    starts = np.round(analysis.segment_bounds_s[:-1] * sample_rate).astype(np.int64) + offset
    padded = np.pad(source, (0, width + offset + 1))
    windows = padded[starts[:, None] + np.arange(width)[None, :]]  # (n_beats, width)
    windows /= np.linalg.norm(windows, axis=1, keepdims=True) + 1e-9
    durations = analysis.beat_durations_s
    n_edit = edit.size
    lead = max_slide + 1
    edit = np.pad(edit, (lead, lead + offset + 2 * width))  # reads past either end see silence
    sequence: list[int] = []
    errors: list[float] = []
    elapsed_s = 0.0
    position = 0
    slide = 0
    while position < n_edit - offset - width // 2:
        opening = lead + position + offset
        distance = _opening_distances(edit[opening + slide:opening + slide + width], windows)
        if distance.min() > 0.05 and max_slide > 0:
            slide = _slide_of_best_opening(edit[opening - max_slide:opening + max_slide + width], windows, max_slide)
            distance = _opening_distances(edit[opening + slide:opening + slide + width], windows)
        best = int(np.argmin(distance))
        follow = sequence[-1] + 1 if sequence else 0
        if follow < len(distance) and distance[follow] <= distance[best] + 1e-3:
            best = follow
        sequence.append(best)
        errors.append(float(distance[best]))
        elapsed_s += float(durations[best])
        position = int(round(elapsed_s * sample_rate))
    if not sequence or float(np.median(errors)) > 0.05:
        return None
    return np.asarray(sequence, dtype=np.int64)


def _opening_distances(chunk: np.ndarray, unit_windows: np.ndarray) -> np.ndarray:
    """Distance in [0, 2] between ``chunk`` scaled to unit norm and each unit-norm opening window."""
    unit = chunk / (np.linalg.norm(chunk) + 1e-9)
    return np.sqrt(np.maximum(((unit_windows - unit[None, :]) ** 2).sum(axis=1), 0.0))


def _slide_of_best_opening(region: np.ndarray, unit_windows: np.ndarray, max_slide: int) -> int:
    """Slide in ``[-max_slide, max_slide]`` at which ``region`` best correlates with any opening window."""
    from scipy.signal import fftconvolve

    width = unit_windows.shape[1]
    products = fftconvolve(region[None, :], unit_windows[:, ::-1], mode="valid", axes=1)  # (n_beats, 2 max_slide + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(region**2)])
    norms = np.sqrt(np.maximum(cumulative[width:] - cumulative[:-width], 0.0)) + 1e-9
    _, best_slide = np.unravel_index(int(np.argmax(products / norms[None, :])), products.shape)
    return int(best_slide) - max_slide

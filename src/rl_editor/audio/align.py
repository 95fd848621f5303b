"""Which source beats an edit's audio plays: alignment of an edit back to its song.

Two readers, from the most exact to the most forgiving:

- :func:`align_rendered_edit` reads a sample-exact render of the song (what
  :func:`rl_editor.audio.render.render_edit` writes) from the waveform itself;
- :func:`align_to_song` reads any edit's analysed per-beat features with a
  Viterbi path over the song's beats (re-encoded or processed audio).

Both return source beat indices in playback order;
:func:`rl_editor.edit.sequence_counts` turns them into per-beat actions.
"""

from __future__ import annotations

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES
from rl_editor.audio.song import SongAnalysis

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
        distance = _opening_distances(edit[opening + slide : opening + slide + width], windows)
        if distance.min() > 0.05 and max_slide > 0:
            slide = _slide_of_best_opening(edit[opening - max_slide : opening + max_slide + width], windows, max_slide)
            distance = _opening_distances(edit[opening + slide : opening + slide + width], windows)
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


__all__ = ["align_rendered_edit", "align_to_song"]

"""Render an edit: splice the played beats of the original audio, click-free.

The output is built from runs of source-contiguous beats copied sample for
sample; wherever playback jumps (after a cut, at the restart of a repeated
beat) an equal-power crossfade centred on the splice blends the outgoing
beat's natural continuation into the incoming beat, so the edit's length is
exactly the sum of its played beats' durations and no step appears in the
waveform. ``splice_discontinuities`` measures the largest sample-to-sample
jump around each splice so tests can compare it with the source's own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rl_editor.audio.io import AnalysisError, AudioClip, load_audio
from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import beat_sequence, validate_actions

DURATION_TOLERANCE_S = 1.0


def _output_layout(analysis: SongAnalysis, actions: np.ndarray, sample_rate: int):
    """Played beats, their source start samples and their output start samples (plus the end)."""
    seq = beat_sequence(actions)
    bounds = analysis.segment_bounds_s
    src_start = np.round(bounds[seq] * sample_rate).astype(np.int64)
    durations = analysis.beat_durations_s[seq]
    out_pos = np.round(np.concatenate([[0.0], np.cumsum(durations)]) * sample_rate).astype(np.int64)
    return seq, src_start, out_pos


def splice_positions(analysis: SongAnalysis, actions: np.ndarray | list[int], sample_rate: int) -> np.ndarray:
    """Output sample index of each splice of ``actions`` rendered at ``sample_rate``."""
    actions = validate_actions(actions, analysis.n_beats)
    seq, _, out_pos = _output_layout(analysis, actions, sample_rate)
    jumps = np.flatnonzero(seq[1:] != seq[:-1] + 1) + 1
    return out_pos[jumps]


def render_edit(
    source: str | Path | AudioClip,
    analysis: SongAnalysis,
    actions: np.ndarray | list[int],
    *,
    crossfade_ms: float = 10.0,
) -> AudioClip:
    """Render an edit of a song at the source's own sample rate and channel count.

    Parameters
    ----------
    source : str, Path or AudioClip
        The original song (a file, or its decoded audio at its own rate).
    analysis : SongAnalysis
        The song's analysis; its ``segment_bounds_s`` cut the audio into beats.
    actions : array of int, shape (n_beats,)
        0 keep, 1 cut, 2 repeat (see ``rl_editor.edit``).
    crossfade_ms : float
        Length of the equal-power crossfade centred on each splice (ms); 0 for hard cuts.

    Returns
    -------
    AudioClip
        Duration ``Edit.duration_seconds(analysis.beat_durations_s)`` (to one sample).

    Examples
    --------
    >>> clip = render_edit("song.ogg", analysis, [0, 1, 0, 2, 0])  # doctest: +SKIP
    """
    clip = source if isinstance(source, AudioClip) else load_audio(source)
    if abs(clip.duration_seconds - analysis.duration_seconds) > DURATION_TOLERANCE_S:
        raise AnalysisError(
            f"{clip.path or analysis.path}: audio lasts {clip.duration_seconds:.1f} s but its analysis "
            f"({analysis.song_id}) {analysis.duration_seconds:.1f} s; render with the analysed file"
        )
    actions = validate_actions(actions, analysis.n_beats)
    sr = clip.sample_rate
    seq, src_start, out_pos = _output_layout(analysis, actions, sr)
    half = max(0, int(round(crossfade_ms * 1e-3 * sr / 2)))
    pad = half + 1
    padded = np.pad(clip.samples, ((pad, pad + int(sr)), (0, 0)))  # reads past either end give silence
    out = np.zeros((int(out_pos[-1]), clip.channels), dtype=np.float32)
    if seq.size == 0:
        return AudioClip(out, sr, None)

    run_starts = np.concatenate([[0], np.flatnonzero(seq[1:] != seq[:-1] + 1) + 1])
    run_ends = np.append(run_starts[1:], seq.size)
    for a, b in zip(run_starts, run_ends):
        o0, o1 = out_pos[a], out_pos[b]
        s0 = src_start[a] + pad
        out[o0:o1] = padded[s0 : s0 + (o1 - o0)]

    if half > 0:
        length = 2 * half
        theta = (np.arange(length) + 0.5) / length * (np.pi / 2)
        fade_in = np.sin(theta).astype(np.float32)[:, None]
        fade_out = np.cos(theta).astype(np.float32)[:, None]
        for r in range(1, run_starts.size):
            a, prev = run_starts[r], run_starts[r - 1]
            p = int(out_pos[a])
            continuation = src_start[prev] + (p - out_pos[prev])  # where the previous run would go on
            incoming = src_start[a]
            lo, hi = max(p - half, 0), min(p + half, out.shape[0])
            k0 = lo - (p - half)
            k1 = k0 + (hi - lo)
            tail = padded[continuation - half + pad + k0 : continuation - half + pad + k1]
            head = padded[incoming - half + pad + k0 : incoming - half + pad + k1]
            out[lo:hi] = tail * fade_out[k0:k1] + head * fade_in[k0:k1]
    return AudioClip(out, sr, None)


def max_discontinuity(samples: np.ndarray) -> float:
    """Largest absolute sample-to-sample difference over all channels."""
    samples = np.asarray(samples)
    if samples.shape[0] < 2:
        return 0.0
    return float(np.abs(np.diff(samples, axis=0)).max())


def discontinuity_percentile(samples: np.ndarray, percentile: float = 99.9) -> float:
    """The ``percentile`` of absolute sample-to-sample differences (channels pooled)."""
    return float(np.percentile(np.abs(np.diff(np.asarray(samples), axis=0)), percentile))


def splice_discontinuities(rendered: AudioClip, positions: np.ndarray, *, radius: int = 4) -> np.ndarray:
    """Largest sample-to-sample jump within ``radius`` samples of each splice position.

    Parameters
    ----------
    rendered : AudioClip
        A rendered edit.
    positions : ndarray of int
        Output sample indices of the splices (``splice_positions``).
    radius : int
        Samples on either side of each splice to inspect.

    Returns
    -------
    ndarray, shape (n_splices,)
    """
    diffs = np.abs(np.diff(rendered.samples, axis=0)).max(axis=1)
    if diffs.size == 0 or len(positions) == 0:
        return np.zeros(len(positions))
    offsets = np.arange(-radius - 1, radius + 1)
    idx = np.clip(np.asarray(positions, dtype=np.int64)[:, None] + offsets[None, :], 0, diffs.size - 1)
    return diffs[idx].max(axis=1)

"""Render an edit: splice the played beats of the original audio so the joins are not heard.

The output is built from runs of source-contiguous beats copied sample for
sample, each played beat in its own slot, so the edit's length is exactly the
sum of its played beats' durations. Wherever playback jumps (after a cut, at
the restart of a repeated beat) the join is planned by
``rl_editor.audio.splice``: the incoming run is slid by a few milliseconds to
line up with the outgoing beat's natural continuation, a crossfade centred on
the splice blends that continuation into the incoming audio for as long as
the two stay coherent, and the incoming level starts at the continuation's
and eases back to its own. ``splice_discontinuities`` measures the largest
sample-to-sample jump around each splice so tests can compare it with the
source's own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from rl_editor.audio.beatgrid import BeatGrid
from rl_editor.audio.io import AnalysisError, AudioClip, load_audio
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import (
    SpliceConfig,
    SplicePoints,
    best_entry_offsets,
    choose_crossfades,
    crossfade_gains,
    loudness_gains,
)
from rl_editor.edit import beat_sequence, validate_actions

DURATION_TOLERANCE_S = 1.0


def _beat_grid(analysis: SongAnalysis | BeatGrid) -> BeatGrid:
    return analysis if isinstance(analysis, BeatGrid) else BeatGrid.of(analysis)


def _output_layout(grid: BeatGrid, actions: np.ndarray, sample_rate: int):
    """Played beats, their source start samples and their output start samples (plus the end)."""
    seq = beat_sequence(actions)
    bounds = grid.segment_bounds_s
    src_start = np.round(bounds[seq] * sample_rate).astype(np.int64)
    durations = grid.beat_durations_s[seq]
    out_pos = np.round(np.concatenate([[0.0], np.cumsum(durations)]) * sample_rate).astype(np.int64)
    return seq, src_start, out_pos


def splice_positions(
    analysis: SongAnalysis | BeatGrid, actions: np.ndarray | list[int], sample_rate: int
) -> np.ndarray:
    """Output sample index of each splice of ``actions`` rendered at ``sample_rate``."""
    grid = _beat_grid(analysis)
    actions = validate_actions(actions, grid.n_beats)
    seq, _, out_pos = _output_layout(grid, actions, sample_rate)
    jumps = np.flatnonzero(seq[1:] != seq[:-1] + 1) + 1
    return out_pos[jumps]


def render_edit(
    source: str | Path | AudioClip,
    analysis: SongAnalysis | BeatGrid,
    actions: np.ndarray | list[int],
    *,
    crossfade_ms: float | None = None,
    splices: SpliceConfig | None = None,
) -> AudioClip:
    """Render an edit of a song at the source's own sample rate and channel count.

    Every played beat keeps its place and length in the output. At each splice
    the incoming run is slid by a few milliseconds to line up with what the
    outgoing audio would have continued into, crossfaded over as long as the
    two stay coherent and brought to the continuation's loudness (see
    ``SpliceConfig``); the slide shifts the run's audio against its beat grid
    by at most ``SpliceConfig.max_offset_ms`` and never changes the timing.

    Parameters
    ----------
    source : str, Path or AudioClip
        The original song (a file, or its decoded audio at its own rate).
    analysis : SongAnalysis or BeatGrid
        The song's analysis, or just its beat grid (``BeatGrid``); its
        ``segment_bounds_s`` cut the audio into beats, nothing else is read.
    actions : array of int, shape (n_beats,)
        0 keep, 1 cut, 2 repeat (see ``rl_editor.edit``).
    crossfade_ms : float, optional
        A fixed crossfade length (ms) instead of ``splices.crossfade_ms``;
        0 gives hard cuts at the beat boundaries with nothing searched or matched.
    splices : SpliceConfig, optional
        How splices are joined; ``SpliceConfig.plain()`` for fixed equal-power
        crossfades at the beat boundaries.

    Returns
    -------
    AudioClip
        Duration ``Edit.duration_seconds(analysis.beat_durations_s)`` (to one sample).

    Examples
    --------
    >>> clip = render_edit("song.ogg", analysis, [0, 1, 0, 2, 0])  # doctest: +SKIP
    """
    grid = _beat_grid(analysis)
    clip = _checked_clip(source, grid)
    config = _effective_config(crossfade_ms, splices)
    layout = _RenderLayout.build(clip, grid, actions, config)
    out = np.zeros((int(layout.out_pos[-1]), clip.channels), dtype=np.float32)
    if layout.run_starts.size == 0:
        return AudioClip(out, clip.sample_rate, None)
    points, run_offsets = _plan_splice_points(
        layout.padded, layout.sources, layout.out_pos, layout.run_starts, clip.sample_rate, config
    )
    run_ends = np.append(layout.run_starts[1:], layout.out_pos.size - 1)
    for r, (a, b) in enumerate(zip(layout.run_starts, run_ends)):
        o0, o1 = layout.out_pos[a], layout.out_pos[b]
        s0 = layout.sources[a] + run_offsets[r]
        out[o0:o1] = layout.padded[s0 : s0 + (o1 - o0)]
    _join_splices(
        out,
        layout.padded,
        layout.sources,
        layout.out_pos,
        layout.run_starts,
        run_offsets,
        points,
        clip.sample_rate,
        config,
    )
    return AudioClip(out, clip.sample_rate, None)


def plan_splices(
    source: str | Path | AudioClip,
    analysis: SongAnalysis | BeatGrid,
    actions: np.ndarray | list[int],
    *,
    crossfade_ms: float | None = None,
    splices: SpliceConfig | None = None,
) -> SplicePoints:
    """How ``render_edit`` with the same arguments joins each splice (slide, crossfade, correlation, gain).

    Returns
    -------
    SplicePoints
        One entry per splice, in playback order (the rows of ``rl_editor.edit.splice_pairs``).
    """
    grid = _beat_grid(analysis)
    clip = _checked_clip(source, grid)
    config = _effective_config(crossfade_ms, splices)
    layout = _RenderLayout.build(clip, grid, actions, config)
    if layout.run_starts.size == 0:
        empty = np.zeros(0)
        return SplicePoints(empty.astype(np.int64), empty.astype(np.int64), empty, empty)
    points, _ = _plan_splice_points(
        layout.padded, layout.sources, layout.out_pos, layout.run_starts, clip.sample_rate, config
    )
    return points


def _checked_clip(source: str | Path | AudioClip, grid: BeatGrid) -> AudioClip:
    clip = source if isinstance(source, AudioClip) else load_audio(source)
    if abs(clip.duration_seconds - grid.duration_seconds) > DURATION_TOLERANCE_S:
        raise AnalysisError(
            f"{clip.path or grid.path or 'the source audio'}: audio lasts {clip.duration_seconds:.1f} s but its "
            f"beat grid ({grid.song_id}) {grid.duration_seconds:.1f} s; render with the analysed file"
        )
    return clip


@dataclass(frozen=True)
class _RenderLayout:
    """The source padded with silence, and where each played beat comes from and goes."""

    padded: np.ndarray  # (n_frames + padding, channels)
    sources: np.ndarray  # start sample in ``padded`` of each played beat's audio
    out_pos: np.ndarray  # output start sample of each played beat, plus the end
    run_starts: np.ndarray  # played-beat index where each run of source-contiguous beats begins

    @classmethod
    def build(
        cls, clip: AudioClip, grid: BeatGrid, actions: np.ndarray | list[int], config: SpliceConfig
    ) -> _RenderLayout:
        actions = validate_actions(actions, grid.n_beats)
        sr = clip.sample_rate
        seq, src_start, out_pos = _output_layout(grid, actions, sr)
        run_starts = np.flatnonzero(np.concatenate([[True], seq[1:] != seq[:-1] + 1])) if seq.size else seq
        pad = _padding(config, sr)
        padded = np.pad(clip.samples, ((pad, pad + int(sr)), (0, 0)))  # reads past either end give silence
        return cls(padded, src_start + pad, out_pos, run_starts)


def _effective_config(crossfade_ms: float | None, splices: SpliceConfig | None) -> SpliceConfig:
    if splices is None and crossfade_ms is not None and crossfade_ms <= 0:
        return SpliceConfig.plain(0.0)
    config = splices or SpliceConfig()
    return config if crossfade_ms is None else replace(config, crossfade_ms=float(crossfade_ms))


def _samples(ms: float, sample_rate: int) -> int:
    return max(0, int(round(ms * 1e-3 * sample_rate)))


def _padding(config: SpliceConfig, sample_rate: int) -> int:
    """Silence on each side of the source so every window read around a splice stays inside."""
    widest_ms = max(config.match_window_ms, config.longest_crossfade_ms(), config.loudness_window_ms)
    reach = 2 * _samples(config.max_offset_ms, sample_rate)  # a chained search looks this far either way
    return reach + _samples(widest_ms, sample_rate) + 2


def _plan_splice_points(
    padded: np.ndarray,
    run_sources: np.ndarray,
    out_pos: np.ndarray,
    run_starts: np.ndarray,
    sample_rate: int,
    config: SpliceConfig,
) -> tuple[SplicePoints, np.ndarray]:
    """Offset, crossfade and gain of every splice, and the resulting slide of every run.

    Parameters
    ----------
    padded : ndarray, shape (n, channels)
        The source audio with silence on both sides.
    run_sources : ndarray of int, shape (n_played + 1,)
        Start sample in ``padded`` of each played beat's source audio (``_output_layout``).
    out_pos : ndarray of int, shape (n_played + 1,)
        Output start sample of each played beat, and the end.
    run_starts : ndarray of int, shape (n_runs,)
        Played-beat index where each run of source-contiguous beats begins.
    sample_rate : int
        Hz.
    config : SpliceConfig

    Returns
    -------
    points : SplicePoints
        One entry per splice (``n_runs - 1``).
    run_offsets : ndarray of int, shape (n_runs,)
        Samples each run is read later than its beats' starts (0 for the first run).
    """
    n_splices = run_starts.size - 1
    entries = run_sources[run_starts[1:]].astype(np.int64)
    outgoing = run_sources[run_starts[:-1]] + (out_pos[run_starts[1:]] - out_pos[run_starts[:-1]])
    run_offsets = np.zeros(run_starts.size, dtype=np.int64)
    if config.align and n_splices:
        run_offsets[1:], _ = best_entry_offsets(
            padded,
            outgoing,
            entries,
            max_offset=_samples(config.max_offset_ms, sample_rate),
            window=max(_samples(config.match_window_ms, sample_rate), 8),
            offset_penalty=config.offset_penalty,
            chained=True,
        )
    continuations = outgoing + run_offsets[:-1]
    entries = entries + run_offsets[1:]
    choices_ms = (config.crossfade_ms,) if config.crossfade_ms is not None else config.crossfade_choices_ms
    lengths = tuple(2 * _samples(ms / 2, sample_rate) for ms in choices_ms)  # even, centred on the splice
    crossfades, correlations = choose_crossfades(padded, continuations, entries, lengths, config.coherence_threshold)
    if config.match_loudness and n_splices:
        gains = loudness_gains(
            padded,
            continuations,
            entries,
            window=max(_samples(config.loudness_window_ms, sample_rate), 1),
            max_gain_db=config.max_gain_db,
        )
    else:
        gains = np.ones(n_splices)
    return SplicePoints(run_offsets[1:], crossfades, correlations, gains), run_offsets


@lru_cache(maxsize=512)
def _cached_crossfade_gains(length: int, correlation: float) -> tuple[np.ndarray, np.ndarray]:
    return crossfade_gains(length, correlation)


def _join_splices(
    out: np.ndarray,
    padded: np.ndarray,
    run_sources: np.ndarray,
    out_pos: np.ndarray,
    run_starts: np.ndarray,
    run_offsets: np.ndarray,
    points: SplicePoints,
    sample_rate: int,
    config: SpliceConfig,
) -> None:
    """Crossfade each splice of ``out`` in place and ease the incoming level back to its own."""
    ramp = _samples(config.loudness_ramp_ms, sample_rate)
    splice_out = out_pos[run_starts[1:]]
    fade_starts = splice_out - points.crossfades // 2
    for k in range(splice_out.size):
        p, length = int(splice_out[k]), int(points.crossfades[k])
        half = length // 2
        start = p - half  # output sample where this splice's crossfade (and level ramp) begins
        continuation = run_sources[run_starts[k]] + run_offsets[k] + (p - out_pos[run_starts[k]])
        incoming = run_sources[run_starts[k + 1]] + run_offsets[k + 1]
        lo, hi = max(start, 0), min(start + length, out.shape[0])
        gain = np.ones(0)
        if points.gains[k] != 1.0:
            next_start = int(fade_starts[k + 1]) if k + 1 < splice_out.size else out.shape[0]
            ramp_end = max(min(start + max(ramp, length), next_start, out.shape[0]), hi)
            gain = _level_ramp(float(points.gains[k]), ramp_end - start)
            out[hi:ramp_end] *= gain[hi - start :, None]
        if hi <= lo:
            continue
        shape_r = round(float(points.correlations[k]), 2) if config.adapt_fade_shape else 0.0
        fade_out, fade_in = _cached_crossfade_gains(length, shape_r)
        k0, k1 = lo - start, hi - start
        tail = padded[continuation - half + k0 : continuation - half + k1]
        head = padded[incoming - half + k0 : incoming - half + k1]
        if gain.size:
            head = head * gain[k0:k1, None]
        out[lo:hi] = tail * fade_out[k0:k1, None] + head * fade_in[k0:k1, None]


def _level_ramp(gain: float, length: int) -> np.ndarray:
    """``length`` gains from ``gain`` to 1, evenly spaced in dB."""
    return np.exp(np.linspace(np.log(gain), 0.0, max(length, 1))).astype(np.float32)


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

"""How good a splice sounds, from per-beat features alone.

A splice jumps from the end of beat ``i`` to the start of beat ``j``. It sounds
natural when ``j`` resembles what would have followed ``i`` (beat ``i + 1``)
and ``i`` resembles what would have preceded ``j`` (beat ``j - 1``). Each
component is in [0, 1], 1 being seamless:

- ``timbre``: cosine similarity of z-scored MFCC means (without c0), mapped to [0, 1].
- ``harmony``: cosine similarity of chroma means.
- ``energy``: ``exp(-|loudness difference in dB| / 6)``.
- ``bar_phase``: 1 if the jump keeps the position in the bar (``j`` sits where
  ``i + 1`` would), else 0.
- ``on_bar_line``: 1 if the splice falls on a bar line (``i + 1`` and ``j`` are downbeats).

``quality`` is the weighted mean with ``SPLICE_WEIGHTS``. The policy's dense
reward and the rater page both use these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis

SPLICE_WEIGHTS: dict[str, float] = {
    "timbre": 0.3,
    "harmony": 0.25,
    "energy": 0.2,
    "bar_phase": 0.15,
    "on_bar_line": 0.1,
}
ENERGY_SCALE_DB = 6.0


@dataclass(frozen=True)
class SpliceComponents:
    """Per-splice scores, each an array of the same shape, in [0, 1]."""

    timbre: np.ndarray
    harmony: np.ndarray
    energy: np.ndarray
    bar_phase: np.ndarray
    on_bar_line: np.ndarray

    @property
    def quality(self) -> np.ndarray:
        return sum(w * getattr(self, name) for name, w in SPLICE_WEIGHTS.items())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-8)


def _splice_tables(analysis: SongAnalysis) -> dict[str, np.ndarray]:
    """Per-song normalised feature tables, computed once and kept on the analysis."""

    def compute() -> dict[str, np.ndarray]:
        mfcc = analysis.features[:, GROUP_SLICES["mfcc_mean"]][:, 1:].astype(np.float64)
        mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
        chroma = analysis.features[:, GROUP_SLICES["chroma_mean"]].astype(np.float64)
        return {
            "timbre": _unit_rows(mfcc),
            "harmony": _unit_rows(np.maximum(chroma, 0.0)),
            "loudness_db": analysis.features[:, feature_index("rms_mean_db")].astype(np.float64),
            "beat_in_bar": analysis.beat_in_bar,
        }

    return analysis.derived("splice_tables", compute)


def splice_components(analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray) -> SpliceComponents:
    """Score splices from the end of ``from_beats[k]`` to the start of ``to_beats[k]``.

    Parameters
    ----------
    analysis : SongAnalysis
    from_beats, to_beats : array of int, same shape
        Source beat indices on each side of each splice.

    Returns
    -------
    SpliceComponents
        Arrays of the inputs' shape.
    """
    t = _splice_tables(analysis)
    n = analysis.n_beats
    i = np.asarray(from_beats, dtype=np.int64)
    j = np.asarray(to_beats, dtype=np.int64)
    after_i = np.minimum(i + 1, n - 1)
    before_j = np.maximum(j - 1, 0)

    def similarity(table: np.ndarray) -> np.ndarray:
        forward = np.einsum("...d,...d->...", table[j], table[after_i])
        backward = np.einsum("...d,...d->...", table[i], table[before_j])
        return 0.5 * (forward + backward)

    timbre = 0.5 * (similarity(t["timbre"]) + 1.0)
    harmony = similarity(t["harmony"])
    loud = t["loudness_db"]
    energy_gap = 0.5 * (np.abs(loud[j] - loud[after_i]) + np.abs(loud[i] - loud[before_j]))
    energy = np.exp(-energy_gap / ENERGY_SCALE_DB)
    bib = t["beat_in_bar"]
    bar_phase = (bib[j] == bib[after_i]).astype(np.float64)
    on_bar_line = ((bib[j] == 0) & (bib[after_i] == 0)).astype(np.float64)
    return SpliceComponents(
        timbre=np.clip(timbre, 0.0, 1.0),
        harmony=np.clip(harmony, 0.0, 1.0),
        energy=energy,
        bar_phase=bar_phase,
        on_bar_line=on_bar_line,
    )


def splice_quality(analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray) -> np.ndarray:
    """Weighted splice quality in [0, 1] for each ``(from_beats[k], to_beats[k])``."""
    return splice_components(analysis, from_beats, to_beats).quality


def splice_quality_matrix(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_beats, n_beats): entry ``[i, j]`` is the quality of jumping from beat ``i`` to ``j``.

    Computed once per song and cached on the analysis; environments look splices up here.
    """

    def compute() -> np.ndarray:
        n = analysis.n_beats
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return splice_quality(analysis, i, j).astype(np.float32)

    return analysis.derived("splice_matrix", compute)


# Sample-level splice points -------------------------------------------------
#
# The functions above judge *which* beats to join; the ones below decide *how*
# the audio is joined once they are chosen. Around each splice the listener
# expects the outgoing audio's natural continuation and hears the incoming
# audio instead, so the incoming audio is slid by a few milliseconds to line up
# with that continuation (normalised cross-correlation, as DJ software lines up
# beats), the crossfade is as long as the two stay coherent, its gains keep the
# power constant for their measured correlation, and the incoming audio's level
# is matched to the continuation's and eased back to its own.


@dataclass(frozen=True)
class SpliceConfig:
    """How ``render_edit`` joins the audio at each splice.

    Attributes
    ----------
    align : bool
        Slide the incoming audio (and the rest of its run) by up to ``max_offset_ms``
        to best match the outgoing audio's continuation.
    max_offset_ms : float
        Largest slide either way (ms).
    match_window_ms : float
        Length of the audio compared around each splice (ms); long enough to hold a
        few periods of bass notes (five of 50 Hz) and an onset, short enough to stay local.
    offset_penalty : float
        Correlation given up per full ``max_offset_ms`` of slide, so a slide is taken
        only when it buys a clearly better match.
    crossfade_ms : float or None
        Fixed crossfade length (ms); None chooses one per splice from ``crossfade_choices_ms``.
    crossfade_choices_ms : tuple of float
        Candidate lengths (ms): the longest over which both sides correlate at least
        ``coherence_threshold`` wins, else the shortest.
    coherence_threshold : float
        Normalised correlation above which the two sides blend without smearing: lined up,
        their onsets coincide, and a longer crossfade spreads the change of sound
        (``benchmarks/bench_splice_detectability.py`` measures the trade-off).
    adapt_fade_shape : bool
        Gains that keep the power constant for the measured correlation (equal gain for
        identical audio, equal power for unrelated audio); False always uses equal power.
    match_loudness : bool
        Start the incoming audio at the continuation's short-term RMS level.
    loudness_window_ms : float
        Window of the short-term RMS on each side (ms).
    loudness_ramp_ms : float
        Time over which the matched level returns to the incoming audio's own (ms),
        cut short before the next splice.
    max_gain_db : float
        Largest level correction (dB) either way.
    """

    align: bool = True
    max_offset_ms: float = 25.0
    match_window_ms: float = 100.0
    offset_penalty: float = 0.05
    crossfade_ms: float | None = None
    crossfade_choices_ms: tuple[float, ...] = (10.0, 20.0, 40.0, 80.0)
    coherence_threshold: float = 0.3
    adapt_fade_shape: bool = True
    match_loudness: bool = True
    loudness_window_ms: float = 100.0
    loudness_ramp_ms: float = 200.0
    max_gain_db: float = 6.0

    @classmethod
    def plain(cls, crossfade_ms: float = 10.0) -> SpliceConfig:
        """Fixed equal-power crossfades at the beat boundaries, nothing searched or matched."""
        return cls(align=False, crossfade_ms=crossfade_ms, adapt_fade_shape=False, match_loudness=False)

    def longest_crossfade_ms(self) -> float:
        return float(self.crossfade_ms if self.crossfade_ms is not None else max(self.crossfade_choices_ms))


@dataclass(frozen=True)
class SplicePoints:
    """How each splice of a render is joined (arrays of shape (n_splices,)).

    Attributes
    ----------
    offsets : ndarray of int
        Samples by which the incoming run is read later (positive) or earlier than its beat.
    crossfades : ndarray of int
        Crossfade length in samples (centred on the splice).
    correlations : ndarray of float
        Normalised correlation of the two sides over the crossfade, in [-1, 1].
    gains : ndarray of float
        Gain applied to the incoming audio at the splice (1 when loudness is not matched).
    """

    offsets: np.ndarray
    crossfades: np.ndarray
    correlations: np.ndarray
    gains: np.ndarray


def _windows(samples: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Rows: the mono mix of ``samples[starts[k] : starts[k] + length]`` as float64 (the caller pads)."""
    rows: np.ndarray = (
        np.stack([samples[int(s) : int(s) + length] for s in starts]) if len(starts) else np.zeros((0, length))
    )
    if rows.ndim == 3:
        rows = rows @ np.full(rows.shape[2], 1.0 / rows.shape[2], dtype=rows.dtype)
    return rows.astype(np.float64)


def _row_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Normalised correlation (no mean removal) of matching rows of ``a`` and ``b``."""
    num = np.einsum("ij,ij->i", a, b)
    return num / np.maximum(np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)), 1e-12)


def best_entry_offsets(
    samples: np.ndarray,
    continuations: np.ndarray,
    entries: np.ndarray,
    *,
    max_offset: int,
    window: int,
    offset_penalty: float = 0.05,
    chained: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Slide of each entry point that best matches the audio that would have followed the exit.

    For each splice the ``window`` samples centred on ``continuations[k]`` (what
    the outgoing audio would have played next) are cross-correlated with the
    audio around ``entries[k]`` at every lag in ``[-max_offset, max_offset]``
    (FFTs of all entry regions at once); the lag with the highest normalised
    correlation, less ``offset_penalty * |lag| / max_offset``, wins.

    Parameters
    ----------
    samples : ndarray, shape (n,) or (n, channels)
        The source audio (compared as a mono mix), padded so every window stays inside.
    continuations, entries : ndarray of int, shape (n_splices,)
        Sample indices in ``samples`` of the exit's continuation and the nominal entry.
    max_offset, window : int
        Largest slide and compared length, in samples.
    offset_penalty : float
        Correlation given up per ``max_offset`` of slide.
    chained : bool
        Splices follow each other in one render: the run entered at splice ``k``
        is left at splice ``k + 1``, so its slide moves that continuation too.
        The relative lag of the two sides is then what is matched (the compared
        span stays centred on the unslid continuation), so every splice is
        still correlated in the same batch.

    Returns
    -------
    offsets : ndarray of int, shape (n_splices,)
        Samples to add to each entry.
    correlations : ndarray of float, shape (n_splices,)
        Normalised correlation at the chosen offset.
    """
    continuations = np.asarray(continuations, dtype=np.int64)
    entries = np.asarray(entries, dtype=np.int64)
    n = continuations.size
    if n == 0 or max_offset <= 0:
        unslid = _row_correlation(
            _windows(samples, continuations - window // 2, window), _windows(samples, entries - window // 2, window)
        )
        return np.zeros(n, dtype=np.int64), unslid
    # Correlate at every relative lag a previous slide can bring into reach ([-2, 2] x max_offset),
    # all splices in one batch; a chained splice then only indexes this table.
    reach = 2 * max_offset if chained else max_offset
    table = _lag_correlations(samples, continuations, entries, reach, window)
    slides = np.arange(-max_offset, max_offset + 1)
    scores_of_slides = -offset_penalty * np.abs(slides) / max_offset
    offsets, correlations = np.zeros(n, dtype=np.int64), np.zeros(n)
    previous = 0
    for k in range(n):
        row = table[k, slides - previous + reach]
        best = int(np.argmax(row + scores_of_slides))
        offsets[k], correlations[k] = slides[best], row[best]
        previous = offsets[k] if chained else 0
    return offsets, correlations


def _lag_correlations(
    samples: np.ndarray, continuations: np.ndarray, entries: np.ndarray, reach: int, window: int
) -> np.ndarray:
    """Shape (n_splices, 2 reach + 1): normalised correlation of the ``window`` around each continuation
    with the audio around each entry moved by every lag in ``[-reach, reach]`` (FFTs, all splices at once)."""
    template = _windows(samples, continuations - window // 2, window).astype(np.float32)
    region = _windows(samples, entries - window // 2 - reach, window + 2 * reach).astype(np.float32)
    n_fft = scipy.fft.next_fast_len(region.shape[1], real=True)  # no wrap-around: lags stay below n_fft - window
    spectra = scipy.fft.rfft(region, n_fft, axis=1)
    spectra *= np.conj(scipy.fft.rfft(template, n_fft, axis=1))
    lags = 2 * reach + 1
    products = scipy.fft.irfft(spectra, n_fft, axis=1)[:, :lags]  # [k, m] = sum(template * region[m : m + window])
    energy = np.cumsum(np.square(region, dtype=np.float64), axis=1)
    sliding = energy[:, window - 1 : window - 1 + lags].copy()  # region energy under each lag
    sliding[:, 1:] -= energy[:, : lags - 1]
    norms = np.sqrt(np.maximum(sliding, 1e-12) * np.square(template, dtype=np.float64).sum(axis=1, keepdims=True))
    return products / np.maximum(norms, 1e-12) * (sliding > 1e-12)


def choose_crossfades(
    samples: np.ndarray,
    continuations: np.ndarray,
    entries: np.ndarray,
    lengths: tuple[int, ...],
    coherence_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Longest crossfade over which both sides stay coherent, and their correlation there.

    Parameters
    ----------
    samples : ndarray, shape (n,) or (n, channels)
        Padded source audio (compared as a mono mix).
    continuations, entries : ndarray of int, shape (n_splices,)
        Where the outgoing audio would go on and where the (slid) incoming audio starts.
    lengths : tuple of int
        Candidate crossfade lengths in samples.
    coherence_threshold : float
        The normalised correlation over a crossfade's span that makes it acceptable.

    Returns
    -------
    crossfades : ndarray of int, shape (n_splices,)
        The longest acceptable length, or the shortest when none is.
    correlations : ndarray of float, shape (n_splices,)
        Correlation of the two sides over the chosen span.
    """
    lengths = tuple(sorted(int(x) for x in lengths))
    widest = lengths[-1]
    outgoing = _windows(samples, continuations - widest // 2, widest)
    incoming = _windows(samples, entries - widest // 2, widest)
    table = np.stack(
        [
            _row_correlation(
                outgoing[:, widest // 2 - n // 2 : widest // 2 - n // 2 + n],
                incoming[:, widest // 2 - n // 2 : widest // 2 - n // 2 + n],
            )
            if n > 0
            else np.ones(continuations.size)
            for n in lengths
        ],
        axis=1,
    )
    acceptable = table >= coherence_threshold
    last_acceptable = acceptable.shape[1] - 1 - np.argmax(acceptable[:, ::-1], axis=1)
    longest = np.where(acceptable.any(axis=1), last_acceptable, 0)
    return np.asarray(lengths, dtype=np.int64)[longest], table[np.arange(table.shape[0]), longest]


def crossfade_gains(length: int, correlation: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Fade-out and fade-in gains that keep the power constant for two signals of ``correlation``.

    With gains ``a`` (outgoing) and ``b`` (incoming) the mix's expected power is
    ``a**2 + b**2 + 2 r a b`` (unit-power signals of correlation ``r``); these gains
    hold it at 1 (Bristow-Johnson's even/odd construction): equal power for
    unrelated audio (``r = 0``, the sine/cosine fade), equal gain for identical
    audio (``r = 1``). Negative correlations are treated as 0.

    Returns
    -------
    fade_out, fade_in : ndarray of float32, shape (length,)
    """
    r = float(np.clip(correlation, 0.0, 1.0))
    t = (np.arange(length) + 0.5) / max(length, 1) * 2.0 - 1.0
    odd = np.sin(np.pi * t / 4) / np.sqrt(2.0)
    even = np.sqrt(np.maximum(1.0 / (2.0 * (1.0 + r)) - (1.0 - r) / (1.0 + r) * odd**2, 0.0))
    return (even - odd).astype(np.float32), (even + odd).astype(np.float32)


def loudness_gains(
    samples: np.ndarray, continuations: np.ndarray, entries: np.ndarray, *, window: int, max_gain_db: float
) -> np.ndarray:
    """Gain that brings the incoming audio's short-term RMS to the continuation's, per splice.

    RMS is taken over ``window`` samples (all channels) starting at each continuation
    and each entry of the padded ``samples``; the ratio is clipped to ``max_gain_db``
    either way, and near-silent sides give 1.
    """

    def rms(starts: np.ndarray) -> np.ndarray:
        flat = [samples[int(s) : int(s) + window].ravel() for s in starts]
        return np.sqrt(np.array([float(np.dot(f, f)) / max(f.size, 1) for f in flat]))

    outgoing, incoming = rms(np.asarray(continuations)), rms(np.asarray(entries))
    limit = 10.0 ** (max_gain_db / 20.0)
    gains = np.clip(outgoing / np.maximum(incoming, 1e-9), 1.0 / limit, limit)
    return np.where(np.minimum(outgoing, incoming) < 1e-4, 1.0, gains)

"""Frame-level features, computed once per song, and their per-beat aggregates.

One STFT feeds everything: mel spectrogram -> MFCC, onset envelope and HPSS;
power spectrum -> chroma, spectral contrast/shape and band energies. Per-beat
values are means (and standard deviations) over each beat's frames, computed
with ``np.add.reduceat`` so a song costs a handful of array passes. The layout
of the resulting 125-dim vector is in ``rl_editor.audio.feature_layout``.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES

ANALYSIS_SR = 22050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 96
N_MFCC = 20
LOW_BAND_HZ = 200.0
HIGH_BAND_HZ = 2000.0
LOW_ONSET_HZ = 150.0
HPSS_KERNEL = 9
NOVELTY_KERNEL_BEATS = 32
SIMILARITY_WINDOW_BEATS = 4
REPETITION_MIN_LAG_BEATS = 8
EDGE_FRAMES = 10  # 232 ms: the span a listener compares across a splice
EDGE_GUARD_FRAMES = 1  # frames centred this close to a boundary hear both sides of it
_AMIN = 1e-10


@contextlib.contextmanager
def _numba_disk_cache_on() -> Iterator[None]:
    """Make every numba kernel defined inside the block cache its machine code on disk.

    librosa compiles several kernels (the beat tracker's among them) eagerly at
    import with ``cache=False``, which costs seconds in every new process; with
    the cache on, only the first process after installing pays. numba stores
    the cache beside librosa's sources, or in its user cache folder (or
    ``$NUMBA_CACHE_DIR``) when those are read-only.
    """
    import numba

    originals = {name: getattr(numba, name) for name in ("jit", "njit", "vectorize", "guvectorize")}

    def cached(decorator):
        def wrapper(*args, **kwargs):
            kwargs["cache"] = True
            return decorator(*args, **kwargs)

        return wrapper

    for name, decorator in originals.items():
        setattr(numba, name, cached(decorator))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            yield
    finally:
        for name, decorator in originals.items():
            setattr(numba, name, decorator)


def import_librosa() -> ModuleType:
    """Import librosa and the submodules analysis uses, with numba's disk cache on (see above)."""
    if "librosa.beat" not in sys.modules:
        with _numba_disk_cache_on():
            import librosa.beat  # noqa: F401
            import librosa.core.pitch  # noqa: F401
            import librosa.onset  # noqa: F401
    import librosa

    return librosa


@dataclass
class FrameFeatures:
    """Per-frame features of one song; every array has ``n_frames`` columns (last axis)."""

    mfcc: np.ndarray  # (20, T)
    mfcc_delta: np.ndarray  # (20, T)
    chroma: np.ndarray  # (12, T), each column sums to 1 (or 0 in silence)
    contrast: np.ndarray  # (7, T)
    tonnetz: np.ndarray  # (6, T)
    shape: np.ndarray  # (5, T): centroid, bandwidth, rolloff (kHz), flatness, zcr
    band_power: np.ndarray  # (3, T): low, mid, high power
    rms: np.ndarray  # (T,)
    harmonic_power: np.ndarray  # (T,)
    percussive_power: np.ndarray  # (T,)
    onset_envelope: np.ndarray  # (T,)
    low_onset_envelope: np.ndarray  # (T,)

    @property
    def n_frames(self) -> int:
        return int(self.rms.size)


def frame_features(y: np.ndarray, *, sr: int = ANALYSIS_SR) -> FrameFeatures:
    """Compute all frame-level features of a mono signal.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Mono audio at ``sr``.
    sr : int
        Sample rate (Hz).

    Returns
    -------
    FrameFeatures
        Frames of ``HOP_LENGTH`` samples, centred (frame ``t`` is at ``t * HOP_LENGTH / sr`` s).
    """
    librosa = import_librosa()
    y = np.ascontiguousarray(y, dtype=np.float32)
    magnitude = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = magnitude**2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)

    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=N_MELS)
    log_mel = librosa.power_to_db(mel, ref=1.0, amin=_AMIN, top_db=None)
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=N_MFCC)
    mfcc_delta = librosa.feature.delta(mfcc, width=9, mode="nearest")

    chroma_raw = librosa.feature.chroma_stft(S=power, sr=sr, norm=None, tuning=0.0)
    chroma = chroma_raw / np.maximum(chroma_raw.sum(axis=0, keepdims=True), 1e-9)
    chroma[:, chroma_raw.sum(axis=0) < 1e-6] = 0.0
    tonnetz = librosa.feature.tonnetz(chroma=chroma, sr=sr)

    contrast = librosa.feature.spectral_contrast(S=magnitude, sr=sr, freq=freqs)
    centroid, bandwidth, rolloff = _spectral_moments(magnitude, freqs)
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP_LENGTH)[0]
    n_frames = magnitude.shape[1]
    zcr = _fit_length(zcr, n_frames)
    shape = np.stack([centroid / 1000.0, bandwidth / 1000.0, rolloff / 1000.0, flatness, zcr])

    low = freqs < LOW_BAND_HZ
    high = freqs >= HIGH_BAND_HZ
    band_power = np.stack([power[low].sum(axis=0), power[~low & ~high].sum(axis=0), power[high].sum(axis=0)])
    rms = librosa.feature.rms(S=magnitude, frame_length=N_FFT)[0]

    # HPSS on a coarse (N_MELS / 3 band) mel spectrogram: the percussive share needs little frequency detail.
    coarse_mel = mel.reshape(N_MELS // 3, 3, -1).sum(axis=1)
    harmonic, percussive = librosa.decompose.hpss(coarse_mel, kernel_size=HPSS_KERNEL)

    onset_envelope = librosa.onset.onset_strength(S=log_mel, sr=sr, hop_length=HOP_LENGTH)
    mel_freqs = librosa.mel_frequencies(n_mels=N_MELS, fmax=sr / 2.0)
    low_mel = log_mel[mel_freqs < LOW_ONSET_HZ]
    low_flux = np.maximum(0.0, np.diff(low_mel, axis=1)).mean(axis=0)
    low_onset_envelope = np.concatenate([[0.0], low_flux])

    return FrameFeatures(
        mfcc=mfcc,
        mfcc_delta=mfcc_delta,
        chroma=chroma,
        contrast=contrast,
        tonnetz=tonnetz,
        shape=shape,
        band_power=band_power,
        rms=rms,
        harmonic_power=harmonic.sum(axis=0),
        percussive_power=percussive.sum(axis=0),
        onset_envelope=_fit_length(onset_envelope, n_frames),
        low_onset_envelope=_fit_length(low_onset_envelope, n_frames),
    )


def _spectral_moments(
    magnitude: np.ndarray, freqs: np.ndarray, roll_percent: float = 0.85
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid, bandwidth (p=2) and rolloff in Hz, as librosa defines them.

    Written with matrix products because librosa's per-call normalisation of the
    full spectrogram costs more than the rest of the frame features together.
    """
    total = magnitude.sum(axis=0)
    safe_total = np.maximum(total, 1e-10)
    f = freqs.astype(magnitude.dtype)
    centroid = (f @ magnitude) / safe_total
    second = ((f * f) @ magnitude) / safe_total
    bandwidth = np.sqrt(np.maximum(second - centroid**2, 0.0))
    cumulative = np.cumsum(magnitude, axis=0)
    rolloff_bin = (cumulative < roll_percent * total[None, :]).sum(axis=0)
    rolloff = freqs[np.minimum(rolloff_bin, freqs.size - 1)]
    silent = total < 1e-10
    centroid[silent] = bandwidth[silent] = rolloff[silent] = 0.0
    return centroid, bandwidth, rolloff


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.size >= n:
        return x[:n]
    return np.pad(x, (0, n - x.size), mode="edge")


def segment_starts(beat_frames: np.ndarray) -> np.ndarray:
    """First frame of each beat's segment (beat 0's segment starts at frame 0)."""
    starts = np.asarray(beat_frames, dtype=np.int64).copy()
    if starts.size:
        starts[0] = 0
    return starts


def beat_mean(x: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean over each segment's frames along the last axis; shape (..., n_beats)."""
    counts = np.diff(np.append(starts, n_frames))
    return np.add.reduceat(x, starts, axis=-1) / counts


def beat_std(x: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """Standard deviation over each segment's frames along the last axis."""
    mean = beat_mean(x, starts, n_frames)
    mean_sq = beat_mean(x * x, starts, n_frames)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def beat_edges(frames: FrameFeatures, beat_frames: np.ndarray) -> np.ndarray:
    """What a listener hears on either side of each beat boundary: MFCC and chroma means over the
    ``EDGE_FRAMES`` frames right after each beat starts (its head) and right before it ends (its tail).

    A splice from the end of beat ``i`` into beat ``j`` joins ``i``'s tail to ``j``'s head;
    the song's own boundary after beat ``b`` joins ``b``'s tail to ``b + 1``'s head. Frames
    within ``EDGE_GUARD_FRAMES`` of the boundary are left out, and the spans may reach
    into neighbouring beats (playback goes on there).

    Returns
    -------
    ndarray of float32, shape (n_beats, 2, N_EDGE_FEATURES)
        ``[:, 0]`` heads, ``[:, 1]`` tails; columns: the ``N_MFCC`` MFCCs, then the 12 chroma bins
        (``rl_editor.audio.feature_layout.N_EDGE_FEATURES`` in all).
    """
    values = np.concatenate([frames.mfcc, frames.chroma], axis=0).astype(np.float64)
    n_frames = values.shape[1]
    cumulative = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(values, axis=1)], axis=1)
    starts = segment_starts(beat_frames)
    ends = np.append(starts[1:], n_frames)

    def span_means(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo, hi = np.clip(lo, 0, n_frames - 1), np.clip(hi, 1, n_frames)
        hi = np.maximum(hi, lo + 1)
        return ((cumulative[:, hi] - cumulative[:, lo]) / (hi - lo)).T

    heads = span_means(starts + EDGE_GUARD_FRAMES, starts + EDGE_GUARD_FRAMES + EDGE_FRAMES)
    tails = span_means(ends - EDGE_GUARD_FRAMES - EDGE_FRAMES, ends - EDGE_GUARD_FRAMES)
    return np.stack([heads, tails], axis=1).astype(np.float32)


def _db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, _AMIN))


def _checkerboard_novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty along the diagonal of a self-similarity matrix, scaled to [0, 1]."""
    n = ssm.shape[0]
    if n < 2 * half + 1:
        half = max(1, (n - 1) // 2)
    sign = np.concatenate([-np.ones(half), np.ones(half)])
    gauss = np.exp(-0.5 * (np.linspace(-2, 2, 2 * half)) ** 2)
    kernel = np.outer(sign * gauss, sign * gauss)
    padded = np.pad(ssm, half, mode="edge")
    from numpy.lib.stride_tricks import sliding_window_view

    windows = sliding_window_view(padded, (2 * half, 2 * half))
    diag = windows[np.arange(n), np.arange(n)]  # (n, 2h, 2h): window whose centre is beat k
    novelty = np.einsum("kij,ij->k", diag, kernel)
    novelty = np.maximum(novelty, 0.0)
    return novelty / novelty.max() if novelty.max() > 0 else novelty


def structure_features(
    timbre_harmony: np.ndarray,
    loudness_db: np.ndarray,
    downbeat_confidence: np.ndarray,
    beat_conf: np.ndarray,
) -> np.ndarray:
    """The 6 ``structure`` columns: novelty, repetition, section energy rank, peak distance, confidences."""
    import scipy.signal

    n = timbre_harmony.shape[0]
    z = (timbre_harmony - timbre_harmony.mean(axis=0)) / (timbre_harmony.std(axis=0) + 1e-6)
    # Compare bar-long windows (the 4 beats starting at each beat), not single beats: within a
    # section beats differ by which drum plays, bars repeat. This doubles novelty's hit rate on
    # section boundaries of the demo songs.
    window = SIMILARITY_WINDOW_BEATS
    cumulative = np.cumsum(np.pad(z, ((1, window - 1), (0, 0)), mode="edge"), axis=0)
    z = (cumulative[window:] - cumulative[:-window]) / window
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)
    ssm = z @ z.T
    novelty = _checkerboard_novelty(ssm, NOVELTY_KERNEL_BEATS // 2)

    lag = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    far = np.where(lag >= REPETITION_MIN_LAG_BEATS, ssm, -1.0)
    repetition = 0.5 * (far.max(axis=1) + 1.0) if n > REPETITION_MIN_LAG_BEATS else np.zeros(n)

    peaks, _ = scipy.signal.find_peaks(novelty, height=0.3, distance=8, prominence=0.2)
    if peaks.size:
        distance = np.abs(np.arange(n)[:, None] - peaks[None, :]).min(axis=1)
        peak_distance = np.clip(distance / 16.0, 0.0, 1.0)
    else:
        peak_distance = np.ones(n)
    section_id = np.searchsorted(peaks, np.arange(n), side="right")
    n_sections = int(section_id.max()) + 1
    section_loudness = np.bincount(section_id, weights=loudness_db, minlength=n_sections) / np.maximum(
        np.bincount(section_id, minlength=n_sections), 1
    )
    ranks = np.argsort(np.argsort(section_loudness))
    rank = ranks / (n_sections - 1) if n_sections > 1 else np.full(n_sections, 0.5)
    return np.stack(
        [novelty, np.clip(repetition, 0, 1), rank[section_id], peak_distance, downbeat_confidence, beat_conf],
        axis=1,
    )


def beat_features(
    frames: FrameFeatures,
    beat_frames: np.ndarray,
    *,
    beat_times_s: np.ndarray,
    beat_in_bar: np.ndarray,
    duration_seconds: float,
    downbeat_confidence: np.ndarray,
    beat_confidence: np.ndarray,
) -> np.ndarray:
    """Assemble the (n_beats, 125) float32 feature matrix.

    Parameters
    ----------
    frames : FrameFeatures
    beat_frames : ndarray of int, shape (n_beats,)
        Frame index of each beat.
    beat_times_s : ndarray, shape (n_beats,)
    beat_in_bar : ndarray of int, shape (n_beats,)
    duration_seconds : float
        Length of the song.
    downbeat_confidence, beat_confidence : ndarray, shape (n_beats,)
        In [0, 1].
    """
    n_frames = frames.n_frames
    starts = segment_starts(beat_frames)
    n_beats = starts.size
    out = np.zeros((n_beats, FEATURE_DIM), dtype=np.float64)

    def put(group: str, values: np.ndarray) -> None:
        out[:, GROUP_SLICES[group]] = values

    put("mfcc_mean", beat_mean(frames.mfcc, starts, n_frames).T)
    put("mfcc_delta_mean", beat_mean(frames.mfcc_delta, starts, n_frames).T)
    put("mfcc_std", beat_std(frames.mfcc, starts, n_frames).T)
    chroma_mean = beat_mean(frames.chroma, starts, n_frames).T
    put("chroma_mean", chroma_mean)
    put("chroma_std", beat_std(frames.chroma, starts, n_frames).T)
    put("spectral_contrast_mean", beat_mean(frames.contrast, starts, n_frames).T)
    put("tonnetz_mean", beat_mean(frames.tonnetz, starts, n_frames).T)
    put("spectral_shape", beat_mean(frames.shape, starts, n_frames).T)
    put("band_energy_db", _db(beat_mean(frames.band_power, starts, n_frames)).T)

    rms_power = beat_mean(frames.rms**2, starts, n_frames)
    rms_mean_db = _db(rms_power)
    rms_max_db = 20.0 * np.log10(np.maximum(np.maximum.reduceat(frames.rms, starts), 1e-5))
    song_db = _db(np.mean(frames.rms**2))
    harm = np.add.reduceat(frames.harmonic_power, starts)
    perc = np.add.reduceat(frames.percussive_power, starts)
    percussive_share = perc / np.maximum(harm + perc, _AMIN)
    put("loudness", np.stack([rms_mean_db, rms_max_db, rms_mean_db - song_db, percussive_share], axis=1))

    onset = frames.onset_envelope
    onset_scale = max(float(onset.max()), 1e-9)
    at_beat = onset[np.clip(np.asarray(beat_frames, dtype=np.int64), 0, n_frames - 1)]
    put(
        "onset",
        np.stack([beat_mean(onset, starts, n_frames), np.maximum.reduceat(onset, starts), at_beat], axis=1)
        / onset_scale,
    )

    onehot = np.zeros((n_beats, 4))
    onehot[np.arange(n_beats), np.asarray(beat_in_bar) % 4] = 1.0
    put("beat_in_bar_onehot", onehot)

    bounds = np.append(beat_times_s, duration_seconds)
    bounds[0] = 0.0
    durations = np.diff(bounds)
    intervals = np.diff(beat_times_s)
    if intervals.size:
        padded = np.pad(intervals, 4, mode="edge")
        from numpy.lib.stride_tricks import sliding_window_view

        local = np.median(sliding_window_view(padded, 9), axis=1)  # centred on interval k
        local_tempo = 60.0 / np.maximum(np.append(local, local[-1]), 1e-3)
    else:
        local_tempo = np.zeros(n_beats)
    put(
        "timing",
        np.stack([durations, local_tempo / 200.0, beat_times_s / max(duration_seconds, 1e-9)], axis=1),
    )

    timbre_harmony = np.concatenate([out[:, GROUP_SLICES["mfcc_mean"]][:, 1:], chroma_mean], axis=1)
    put(
        "structure",
        structure_features(timbre_harmony, rms_mean_db, downbeat_confidence, beat_confidence),
    )
    return out.astype(np.float32)

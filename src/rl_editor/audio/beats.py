"""Beats, tempo and bar positions.

Beats come from librosa's dynamic-programming beat tracker run on the song's
onset envelope, with a second opinion on the metrical level (``choose_beat_level``):
the grid at 3/2 its tempo replaces it when its beats carry more onset strength
(fast music tracked at two thirds of its tempo), and a level nearly as likely is
reported so analysis can warn that the grid is doubtful. librosa has no downbeat tracker, so the meter and the bar
phase are estimated here from per-beat evidence:

- **harmonic change**: chords tend to change on bar lines, so the chroma of the
  two beats starting at ``k`` differs from the two beats before ``k``;
- **low-frequency onsets**: kick drums and bass notes land on the strong beats;
- **accent**: the full-band onset strength, as loud as the bar's first beat.

The meter (3 or 4 beats per bar, 4 unless 3 fits clearly better) is the one
whose comb of bar lines gathers the most evidence (``meter_score``). The bar
phase then comes from a small hidden Markov model: the z-scored evidence of each
beat is the log-likelihood of "beat ``k`` is a downbeat"; states are the
position in a bar (0 .. beats_per_bar - 1), each moving to the next position
with high probability, so one bar phase explains a section unless the evidence
keeps contradicting it (a dropped or doubled beat, a bar of another length).

Measured on rendered MIDI with exact ground truth (``benchmarks/bench_beats_midi.py``).
An alternative tracker, madmom's, is in ``rl_editor.audio.beats_madmom``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BEATS_PER_BAR = 4
METERS = (3, 4)  # beats per bar the bar model chooses between; the last is the default
METER_WINDOW_BARS = 8
METER_MARGIN = 0.1  # mean-evidence units another meter must beat the default by
# Weights of the z-scored cues in bar_evidence. Harmony weighs least: melodies move
# the chroma on any beat, and hymns and ballads change chord on every beat; low
# onsets and accents mark bar lines more often (see benchmarks/bench_beats_midi.py).
HARMONIC_WEIGHT, LOW_ONSET_WEIGHT, ACCENT_WEIGHT = 0.25, 1.0, 1.0
HARMONIC_WINDOW_BEATS = 2
EVIDENCE_SCALE = 1.0  # log-likelihood units per standard deviation of evidence
PHASE_SLIP_PROB = 0.002


def parse_bpm_range(text: str) -> tuple[float, float]:
    """``"160-200"`` -> (160, 200); one tempo ``"174"`` -> within ``TEMPO_HINT_TOLERANCE`` of it.

    Raises
    ------
    ValueError
        Not a tempo or a range of tempi between ``MIN_HINT_BPM`` and ``MAX_HINT_BPM``.
    """
    parts = text.strip().split("-")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = [values[0] * (1 - TEMPO_HINT_TOLERANCE), values[0] * (1 + TEMPO_HINT_TOLERANCE)]
    if len(values) != 2 or not MIN_HINT_BPM <= values[0] < values[1] <= MAX_HINT_BPM:
        raise ValueError(
            f"{text!r}: not a tempo (174) or a range of tempi (160-200) between "
            f"{MIN_HINT_BPM:g} and {MAX_HINT_BPM:g} BPM"
        )
    return values[0], values[1]


TEMPO_HINT_TOLERANCE = 0.05
MIN_HINT_BPM, MAX_HINT_BPM = 30.0, 320.0


def track_beats(
    onset_envelope: np.ndarray,
    *,
    sr: int,
    hop_length: int,
    start_bpm: float = 120.0,
    bpm_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Beat frames and global tempo with librosa's beat tracker.

    Parameters
    ----------
    onset_envelope : ndarray, shape (n_frames,)
        Onset strength per analysis frame.
    sr : int
        Analysis sample rate (Hz).
    hop_length : int
        Samples per analysis frame.
    start_bpm : float
        Tempo prior centre (BPM).
    bpm_range : (float, float), optional
        The tempo lies in this range (BPM): the tracker's tempo prior is flat over it
        and zero outside, which settles the metrical level (170 rather than 85 or 113).

    Returns
    -------
    beat_frames : ndarray of int, shape (n_beats,)
        Strictly increasing frame indices.
    tempo_bpm : float
    """
    from rl_editor.audio.features import import_librosa

    librosa = import_librosa()
    prior = None
    if bpm_range is not None:
        import scipy.stats

        low, high = bpm_range
        prior, start_bpm = scipy.stats.uniform(low, high - low), (low + high) / 2
    tempo, beat_frames = librosa.beat.beat_track(
        onset_envelope=onset_envelope, sr=sr, hop_length=hop_length, start_bpm=start_bpm, prior=prior, units="frames"
    )
    beat_frames = np.unique(np.asarray(beat_frames, dtype=np.int64))
    return beat_frames, float(np.atleast_1d(tempo)[0])


# The metrical-level second opinion (choose_beat_level). librosa's tempo prior (centred on 120 BPM)
# tracks fast music at half or two thirds of its tempo. Grids at 3/2 and 2 times the tracked tempo
# are tracked too and compared by onset salience (the mean onset strength on their beats over the
# song's median). On fast recordings and rendered MIDI (benchmarks/bench_beats_fof.py --stretch-to,
# bench_beats_midi.py print the salience ratios) a 3/2 grid stands clearly above the tracked grid's
# salience only where it is the true beat, so it replaces the tracked grid from THREE_HALVES_SWITCH
# up. A doubled grid scores alike where it is the true beat and where it is not, so doubling is
# never automatic: it is only named as a rival level in a warning.
MAX_LEVEL_BPM = 210.0  # no candidate level faster than this
LEVEL_TOLERANCE = 0.04  # each candidate is tracked with its tempo pinned within this fraction
THREE_HALVES_SWITCH = 1.0  # salience ratio of the 3/2 grid from which it replaces the tracked grid
THREE_HALVES_DOUBT = 0.85  # from here to THREE_HALVES_SWITCH + SWITCH_DOUBT_MARGIN the level is doubtful
SWITCH_DOUBT_MARGIN = 0.15
DOUBLE_DOUBT = 0.75  # salience ratio of the doubled grid from which the level is doubtful


@dataclass(frozen=True)
class BeatLevel:
    """The beat grid the second opinion settled on.

    Attributes
    ----------
    beat_frames : ndarray of int, shape (n_beats,)
        Strictly increasing frame indices.
    tempo_bpm : float
    tracked_bpm : float
        The tempo of the tracker's own grid (equal to ``tempo_bpm`` unless the level changed).
    rival_bpm : float or None
        Another level's tempo that fits the onsets nearly as well: the grid is doubtful.
    """

    beat_frames: np.ndarray
    tempo_bpm: float
    tracked_bpm: float
    rival_bpm: float | None = None


def onset_salience(onset_envelope: np.ndarray, beat_frames: np.ndarray) -> float:
    """Mean onset strength on the beats (the peak within one frame of each) above the song's median."""
    if beat_frames.size == 0:
        return 0.0
    n = onset_envelope.size
    window = np.clip(np.asarray(beat_frames)[:, None] + np.arange(-1, 2)[None, :], 0, n - 1)
    return float(onset_envelope[window].max(axis=1).mean() - np.median(onset_envelope))


def choose_beat_level(
    onset_envelope: np.ndarray, beat_frames: np.ndarray, tempo_bpm: float, *, sr: int, hop_length: int
) -> BeatLevel:
    """A second opinion on the metrical level of a tracked grid: keep it, or take the grid at 3/2 its tempo.

    The grids at 3/2 and twice ``tempo_bpm`` (up to ``MAX_LEVEL_BPM``) are tracked
    with their tempo pinned, and each is scored by :func:`onset_salience` relative to
    the tracked grid. The 3/2 grid replaces the tracked one when its ratio reaches
    ``THREE_HALVES_SWITCH``: the tracked grid then puts every other beat on an
    off-beat (fast music tracked at two thirds of its tempo). Doubling is never
    automatic (a doubled grid scores alike on slow and on fast music); a doubled
    grid scoring ``DOUBLE_DOUBT`` or more, a 3/2 grid just short of the switch or
    just past it, is returned as ``rival_bpm``: the grid is doubtful.

    Parameters
    ----------
    onset_envelope : ndarray, shape (n_frames,)
    beat_frames : ndarray of int, shape (n_beats,)
        The tracker's beats.
    tempo_bpm : float
        The tracker's tempo.
    sr : int
        Analysis sample rate (Hz).
    hop_length : int
        Samples per analysis frame.

    Returns
    -------
    BeatLevel
    """
    tracked = BeatLevel(beat_frames, tempo_bpm, tempo_bpm)
    base = onset_salience(onset_envelope, beat_frames)
    if base <= 0 or not np.isfinite(tempo_bpm) or tempo_bpm <= 0:
        return tracked

    def pinned(bpm: float) -> tuple[np.ndarray, float, float]:
        frames, found = track_beats(
            onset_envelope,
            sr=sr,
            hop_length=hop_length,
            bpm_range=(bpm * (1 - LEVEL_TOLERANCE), bpm * (1 + LEVEL_TOLERANCE)),
        )
        return frames, found, onset_salience(onset_envelope, frames)

    chosen, rival, chosen_salience = tracked, None, base
    if 1.5 * tempo_bpm <= MAX_LEVEL_BPM:
        frames, found, salience = pinned(1.5 * tempo_bpm)
        ratio = salience / base
        if ratio >= THREE_HALVES_SWITCH:
            chosen, chosen_salience = BeatLevel(frames, found, tempo_bpm), salience
            rival = tempo_bpm if ratio < THREE_HALVES_SWITCH + SWITCH_DOUBT_MARGIN else None
        elif ratio >= THREE_HALVES_DOUBT:
            rival = found
    if 2 * chosen.tempo_bpm <= MAX_LEVEL_BPM:
        _, found, salience = pinned(2 * chosen.tempo_bpm)
        if salience / chosen_salience >= DOUBLE_DOUBT:  # the commoner error: named before a 3/2 rival
            rival = found
    return BeatLevel(chosen.beat_frames, chosen.tempo_bpm, tempo_bpm, rival)


# A stretch without a tracked beat this many beat periods long (two bars of 4) gets a grid; shorter
# ones (a pickup, a fade-out, a held chord) stay one longer beat: filling them lowered beat F on
# rendered MIDI (benchmarks/bench_beats_midi.py prints it).
GAP_FILL_PERIODS = 8.0


def fill_beat_gaps(beat_times_s: np.ndarray, duration_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Put beats on a regular grid through the stretches the tracker left without beats.

    The tracker finds no beats where there are no onsets (a free-time intro, a
    breakdown, a fade-out); each such stretch would otherwise become one long
    "beat". A stretch longer than ``GAP_FILL_PERIODS`` beat periods (the median
    interval between tracked beats) gets beats one period apart: before the
    first beat counting back from it, between two beats evenly spaced so both
    keep their place, after the last beat counting on from it. No filled beat
    lies within half a period of the start or the end of the song.

    Parameters
    ----------
    beat_times_s : ndarray, shape (n_beats,)
        Tracked beats (s), strictly increasing; at least two.
    duration_seconds : float

    Returns
    -------
    times : ndarray, shape (n_beats + n_filled,)
        Strictly increasing beat times (s).
    filled : ndarray of bool, same shape
        True for the beats put in here.

    Examples
    --------
    >>> times, filled = fill_beat_gaps(np.array([5.0, 5.5, 6.0, 6.5, 11.0, 11.5]), 12.0)
    >>> times[filled].tolist()
    [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 10.5]
    """
    times = np.asarray(beat_times_s, dtype=np.float64)
    if times.size < 2:
        return times, np.zeros(times.size, dtype=bool)
    period = float(np.median(np.diff(times)))
    added: list[np.ndarray] = []
    if times[0] > GAP_FILL_PERIODS * period:
        added.append(times[0] - period * np.arange(int((times[0] - 0.5 * period) // period), 0, -1))
    gaps = np.flatnonzero(np.diff(times) > GAP_FILL_PERIODS * period)
    for k in gaps:
        steps = int(round((times[k + 1] - times[k]) / period))
        added.append(np.linspace(times[k], times[k + 1], steps + 1)[1:-1])
    tail = duration_seconds - times[-1]
    if tail > GAP_FILL_PERIODS * period:
        added.append(times[-1] + period * np.arange(1, int((tail - 0.5 * period) // period) + 1))
    if not added:
        return times, np.zeros(times.size, dtype=bool)
    new = np.concatenate(added)
    order = np.argsort(np.concatenate([times, new]), kind="stable")
    filled = np.concatenate([np.zeros(times.size, dtype=bool), np.ones(new.size, dtype=bool)])[order]
    return np.concatenate([times, new])[order], filled


def filled_stretches(times: np.ndarray, filled: np.ndarray, duration_seconds: float) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of each run of filled beats: from the tracked beat before it (or 0 s) to the
    one after it (or the end of the song)."""
    stretches = []
    k = 0
    while k < filled.size:
        if not filled[k]:
            k += 1
            continue
        end = k
        while end < filled.size and filled[end]:
            end += 1
        start_s = float(times[k - 1]) if k > 0 else 0.0
        stretches.append((start_s, float(times[end]) if end < times.size else float(duration_seconds)))
        k = end
    return stretches


ATTACK_SEARCH_S = (-0.07, 0.03)  # where to look for a beat's attack, relative to the tracked beat
ATTACK_WINDOW = 256  # samples of the trailing energy window (11.6 ms at 22050 Hz)
ATTACK_HOP = 32  # samples between energy readings (1.5 ms)
ATTACK_MIN_RISE_DB = 4.0  # a rise of log energy below this is no clear attack
ATTACK_PREROLL_S = 0.002
ATTACK_MAX_DEVIATION_S = 0.015


def refine_to_attacks(y: np.ndarray, beat_times_s: np.ndarray, *, sr: int) -> np.ndarray:
    """Move each beat to the start of its attack, so splices do not cut into drum hits.

    The tracker's beats sit where the onset envelope peaks, typically 20-40 ms
    after the hit starts (the analysis frames are 93 ms wide). For each beat this
    looks for the steepest rise of a short (11.6 ms) trailing energy window in
    ``ATTACK_SEARCH_S`` around it and puts the beat ``ATTACK_PREROLL_S`` before
    that rise. Beats without a clear attack (rise below ``ATTACK_MIN_RISE_DB``),
    or whose attack lies more than ``ATTACK_MAX_DEVIATION_S`` from the song's
    median shift, move by that median shift.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
        Mono audio at ``sr``.
    beat_times_s : ndarray, shape (n_beats,)
    sr : int
        Sample rate (Hz).

    Returns
    -------
    ndarray, shape (n_beats,)
        Strictly increasing refined beat times (s), never negative.
    """
    n = beat_times_s.size
    if n == 0:
        return beat_times_s
    before, after = int(-ATTACK_SEARCH_S[0] * sr), int(ATTACK_SEARCH_S[1] * sr)
    pad = before + ATTACK_WINDOW
    power = np.concatenate([np.zeros(pad), np.asarray(y, dtype=np.float64) ** 2, np.zeros(after + 1)])
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    centres = np.round(beat_times_s * sr).astype(np.int64) + pad
    readings = np.arange(-before, after + 1, ATTACK_HOP)  # offsets of the window's leading edge
    ends = centres[:, None] + readings[None, :]
    energy = (cumulative[ends] - cumulative[ends - ATTACK_WINDOW]) / ATTACK_WINDOW
    log_energy = 10.0 * np.log10(energy + 1e-10)
    rise = np.diff(log_energy, axis=1)
    steepest = rise.argmax(axis=1)
    clear = rise[np.arange(n), steepest] >= ATTACK_MIN_RISE_DB
    # rise[k] is from reading k to k + 1: the attack starts between their leading edges
    shift_s = (readings[steepest] / sr) - ATTACK_PREROLL_S
    typical = float(np.median(shift_s[clear])) if clear.any() else 0.0
    # an attack far from the song's typical lag is another instrument's hit (a pickup, a flam)
    trusted = clear & (np.abs(shift_s - typical) <= ATTACK_MAX_DEVIATION_S)
    refined = beat_times_s + np.where(trusted, shift_s, typical)
    refined = np.maximum(refined, 0.0)
    # keep the order strict even if two neighbouring beats moved towards each other
    min_gap = 2 * ATTACK_HOP / sr
    for k in range(1, n):
        if refined[k] <= refined[k - 1] + min_gap:
            refined[k] = refined[k - 1] + min_gap
    return refined


def beat_confidence(onset_envelope: np.ndarray, beat_frames: np.ndarray, *, window: int = 2) -> np.ndarray:
    """Per-beat confidence in [0, 1]: onset strength near the beat over the song's 95th percentile."""
    if beat_frames.size == 0:
        return np.zeros(0)
    n = onset_envelope.size
    offsets = np.arange(-window, window + 1)
    idx = np.clip(beat_frames[:, None] + offsets[None, :], 0, n - 1)
    peak = onset_envelope[idx].max(axis=1)
    scale = np.percentile(onset_envelope, 95) + 1e-9
    return np.clip(peak / scale, 0.0, 1.0)


def _zscore(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


def _viterbi_bar_phase(log_downbeat: np.ndarray, beats_per_bar: int) -> np.ndarray:
    """Most likely position in bar per beat given per-beat downbeat log-likelihoods."""
    n, m = log_downbeat.size, beats_per_bar
    emission = np.zeros((n, m))
    emission[:, 0] = log_downbeat
    advance = np.roll(np.eye(m), 1, axis=1)  # state s -> s + 1 (mod m)
    transition = np.log(np.where(advance > 0, 1.0 - PHASE_SLIP_PROB, PHASE_SLIP_PROB / (m - 1)))
    score = emission[0] - np.log(m)
    back = np.zeros((n, m), dtype=np.int64)
    for k in range(1, n):
        cand = score[:, None] + transition  # (from, to)
        back[k] = cand.argmax(axis=0)
        score = cand.max(axis=0) + emission[k]
    states = np.empty(n, dtype=np.int64)
    states[-1] = int(score.argmax())
    for k in range(n - 1, 0, -1):
        states[k - 1] = back[k, states[k]]
    return states


def harmonic_change(chroma_per_beat: np.ndarray, window_beats: int) -> np.ndarray:
    """Shape (n_beats,): cosine distance between the chroma of the ``window_beats`` beats from ``k`` and before ``k``."""
    n = chroma_per_beat.shape[0]
    cumulative = np.concatenate([np.zeros((1, chroma_per_beat.shape[1])), np.cumsum(chroma_per_beat, axis=0)])
    k = np.arange(n)
    after = cumulative[np.minimum(k + window_beats, n)] - cumulative[k]
    before = cumulative[k] - cumulative[np.maximum(k - window_beats, 0)]
    after = after / np.maximum(np.linalg.norm(after, axis=1, keepdims=True), 1e-9)
    before = before / np.maximum(np.linalg.norm(before, axis=1, keepdims=True), 1e-9)
    change = 1.0 - np.einsum("kd,kd->k", after, before)
    change[0] = 0.0  # nothing comes before the first beat: no evidence either way
    return change


def bar_evidence(chroma_per_beat: np.ndarray, low_onset_per_beat: np.ndarray, onset_per_beat: np.ndarray) -> np.ndarray:
    """Shape (n_beats,): z-scored evidence that each beat starts a bar.

    Parameters
    ----------
    chroma_per_beat : ndarray, shape (n_beats, 12)
    low_onset_per_beat, onset_per_beat : ndarray, shape (n_beats,)
        Low-band and full-band onset strength at each beat's start.
    """
    evidence = (
        HARMONIC_WEIGHT * _zscore(harmonic_change(chroma_per_beat, HARMONIC_WINDOW_BEATS))
        + LOW_ONSET_WEIGHT * _zscore(np.log1p(np.maximum(low_onset_per_beat, 0.0)))
        + ACCENT_WEIGHT * _zscore(np.log1p(np.maximum(onset_per_beat, 0.0)))
    )
    return _zscore(evidence)


def meter_score(evidence: np.ndarray, beats_per_bar: int) -> float:
    """How well bars of ``beats_per_bar`` beats explain ``evidence``: mean evidence on the best phase.

    The song is cut into windows of ``METER_WINDOW_BARS`` bars (half overlapping) and
    each window picks its own phase, so a dropped beat or a new section does not
    blur the comb. With the wrong meter the downbeats fall on every position of the
    comb in turn (3 and 4 share no factor), so the best phase's mean stays near 0.
    """
    n, m = evidence.size, beats_per_bar
    if n < 2 * m:
        return float("-inf")  # not even two bars: no evidence for this meter
    width = m * METER_WINDOW_BARS
    starts = range(0, max(n - width, 0) + 1, max(width // 2, 1))
    return float(np.mean([max(evidence[s + p : s + width : m].mean() for p in range(m)) for s in starts]))


def _bar_confidence(evidence: np.ndarray, beat_in_bar: np.ndarray) -> np.ndarray:
    """Per beat, shared by its bar: how strongly the evidence favours the chosen downbeat (0.5 = undecided)."""
    n = evidence.size
    bar_id = np.cumsum(beat_in_bar == 0)
    confidence = np.zeros(n)
    for b in np.unique(bar_id):
        members = np.flatnonzero(bar_id == b)
        down = members[beat_in_bar[members] == 0]
        others = members[beat_in_bar[members] != 0]
        if down.size == 0 or others.size == 0:
            confidence[members] = 0.5
            continue
        margin = evidence[down[0]] - evidence[others].max()
        confidence[members] = 1.0 / (1.0 + np.exp(-EVIDENCE_SCALE * margin))
    return confidence


def estimate_bars(
    chroma_per_beat: np.ndarray,
    low_onset_per_beat: np.ndarray,
    onset_per_beat: np.ndarray,
    *,
    meters: tuple[int, ...] = METERS,
) -> tuple[np.ndarray, int, np.ndarray]:
    """The meter, each beat's position in its bar, and a per-beat downbeat confidence.

    Parameters
    ----------
    chroma_per_beat : ndarray, shape (n_beats, 12)
        Mean chroma of each beat.
    low_onset_per_beat : ndarray, shape (n_beats,)
        Low-frequency (< 150 Hz) onset strength at each beat's start.
    onset_per_beat : ndarray, shape (n_beats,)
        Full-band onset strength at each beat's start.
    meters : tuple of int
        Bar lengths (beats) to choose from; the last is the default when the
        evidence does not favour another by ``METER_MARGIN``.

    Returns
    -------
    beat_in_bar : ndarray of int, shape (n_beats,)
        0 on downbeats.
    beats_per_bar : int
    downbeat_confidence : ndarray, shape (n_beats,)
        In [0, 1], one value per bar shared by its beats: how strongly the evidence
        favours the chosen downbeat over the bar's other beats (0.5 = undecided).

    Examples
    --------
    >>> beat_in_bar, beats_per_bar, confidence = estimate_bars(chroma, low, onset)  # doctest: +SKIP
    >>> beats_per_bar  # doctest: +SKIP
    3
    """
    n = chroma_per_beat.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), meters[-1], np.zeros(0)
    evidence = bar_evidence(chroma_per_beat, low_onset_per_beat, onset_per_beat)
    default = meters[-1]
    scores = {m: meter_score(evidence, m) for m in meters}
    best = max(meters, key=lambda m: scores[m])
    beats_per_bar = best if scores[best] > scores[default] + METER_MARGIN else default
    beat_in_bar = _viterbi_bar_phase(EVIDENCE_SCALE * evidence, beats_per_bar)
    return beat_in_bar, beats_per_bar, _bar_confidence(evidence, beat_in_bar)

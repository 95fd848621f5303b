"""Analyse songs: decode, track beats and bars, compute per-beat features, cache.

``analyze_song`` is the one entry point for one file; ``analyze_many`` runs it
over many files in a process pool and reports what it skipped and why;
``extract_features`` returns just the (n_beats, 125) feature matrix of a file
or of decoded audio.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rl_editor.audio import cache
from rl_editor.audio.beats import (
    MAX_HINT_BPM,
    METERS,
    MIN_HINT_BPM,
    BeatLevel,
    beat_confidence,
    choose_beat_level,
    estimate_bars,
    fill_beat_gaps,
    filled_stretches,
    refine_to_attacks,
    track_beats,
)
from rl_editor.audio.features import (
    ANALYSIS_SR,
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    beat_edges,
    beat_features,
    beat_mean,
    frame_features,
    segment_starts,
)
from rl_editor.audio.io import (
    AnalysisError,
    AudioClip,
    find_songs,
    header_duration_seconds,
    load_audio,
)
from rl_editor.audio.song import SongAnalysis
from rl_editor.io_utils import file_sha256


class AnalysisWarning(UserWarning):
    """Something about a song's analysis its user should know (beats filled in, a doubtful tempo)."""


MIN_BEATS = 8
MIN_DURATION_SECONDS = 2.0
# Analysis holds the song's spectrograms in memory, about 1 GB per 15 minutes of audio
# (benchmarks/bench_analysis.py --long-minutes), so longer songs are refused before decoding.
DEFAULT_MAX_SONG_MINUTES = 20.0
MAX_SONG_MINUTES_ENV = "RL_EDITOR_MAX_SONG_MINUTES"
SILENCE_PEAK = 1e-4  # -80 dBFS
FILLED_BEATS_TO_WARN = 8  # two bars of filled beats in a row are worth a warning
ANALYSIS_PARAMS: dict = {
    "sr": ANALYSIS_SR,
    "n_fft": N_FFT,
    "hop_length": HOP_LENGTH,
    "n_mels": N_MELS,
    "meters": list(METERS),
    "bar_model": 2,  # meter detection (3 or 4), accent evidence
    "beat_level": 1,  # second opinion on the metrical level (beats.choose_beat_level)
    "beats": "librosa",
}
BAR_MODEL_PARAMS = ("meters", "bar_model")
BEAT_BACKENDS = ("librosa", "madmom")  # madmom: optional, non-commercial models (audio.beats_madmom)
# The modules whose code decides what an analysis holds: a change to any of them misses the cache.
# (Song structure is not stored: it is computed from the loaded analysis, so its changes need no key.)
ANALYSIS_CODE_MODULES: tuple[str, ...] = (
    "rl_editor.audio.analyze",
    "rl_editor.audio.beats",
    "rl_editor.audio.feature_layout",
    "rl_editor.audio.features",
    "rl_editor.audio.io",
    "rl_editor.audio.song",
)
BACKEND_CODE_MODULES: dict[str, tuple[str, ...]] = {"librosa": (), "madmom": ("rl_editor.audio.beats_madmom",)}


@functools.cache
def code_digest(modules: tuple[str, ...]) -> str:
    """Short sha256 of the source files of ``modules`` (importable names), read once per process.

    Raises
    ------
    AnalysisError
        A module cannot be found or has no source file.
    """
    digest = hashlib.sha256()
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None or not Path(spec.origin).is_file():
            raise AnalysisError(f"{name}: no source file to key the analysis cache with; reinstall rl-editor")
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def analysis_params(beats: str = "librosa", bpm_range: tuple[float, float] | None = None) -> dict:
    """The parameters that key the analysis cache: settings, the beat-tracking backend, and a
    digest of the analysis code (``ANALYSIS_CODE_MODULES``), so changed code re-analyses.

    Raises
    ------
    AnalysisError
        ``beats`` is not one of ``BEAT_BACKENDS``.
    """
    if beats not in BEAT_BACKENDS:
        raise AnalysisError(f"beats={beats!r}: unknown beat tracker; use one of {', '.join(BEAT_BACKENDS)}")
    params = {**ANALYSIS_PARAMS, "beats": beats}
    if bpm_range is not None and beats == "librosa":
        params["bpm_range"] = [round(float(bpm_range[0]), 2), round(float(bpm_range[1]), 2)]
    if beats != "librosa":  # the project's bar model is not used, so changing it keeps these (costly) entries
        params = {key: value for key, value in params.items() if key not in BAR_MODEL_PARAMS}
    params["code"] = code_digest(ANALYSIS_CODE_MODULES + BACKEND_CODE_MODULES[beats])
    return params


def check_beat_backend(beats: str) -> None:
    """Fail early, in one line, when ``beats`` is unknown or its backend is not installed."""
    analysis_params(beats)
    if beats == "madmom":
        from rl_editor.audio.beats_madmom import import_madmom

        import_madmom()


def max_song_seconds() -> float:
    """Longest song analysed (s): ``$RL_EDITOR_MAX_SONG_MINUTES`` minutes (0 = no limit), by default
    ``DEFAULT_MAX_SONG_MINUTES``.

    Raises
    ------
    AnalysisError
        The variable is not a number of minutes.
    """
    text = os.environ.get(MAX_SONG_MINUTES_ENV, "").strip()
    try:
        minutes = float(text) if text else DEFAULT_MAX_SONG_MINUTES
    except ValueError:
        minutes = float("nan")
    if not np.isfinite(minutes) or minutes < 0:
        raise AnalysisError(f"{MAX_SONG_MINUTES_ENV}={text!r}: not a number of minutes (0 = no limit)")
    return 60.0 * minutes if minutes > 0 else float("inf")


def check_song_length(path: str | Path, duration_seconds: float | None) -> None:
    """Raise AnalysisError when a song is longer than :func:`max_song_seconds` (None: unknown, let it pass)."""
    limit = max_song_seconds()
    if duration_seconds is not None and duration_seconds > limit:
        raise AnalysisError(
            f"{path}: {duration_seconds / 60:.1f} minutes is longer than the {limit / 60:g}-minute limit of "
            f"analysis (about 1 GB of memory per 15 minutes); set {MAX_SONG_MINUTES_ENV} to raise it"
        )


@dataclass
class AnalysisBatch:
    """What ``analyze_many`` produced.

    Attributes
    ----------
    analyses : list of SongAnalysis
        In the order of the input paths.
    skipped : list of (str, str)
        Path and a one-line reason for each file that could not be analysed.
    warnings : list of str
        One line each (naming the file) about analyses to treat with care (``AnalysisWarning``).
    """

    analyses: list[SongAnalysis] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def analyze_clip(
    clip: AudioClip,
    *,
    song_id: str,
    path: str,
    content_sha256: str,
    source_sample_rate: int | None = None,
    channels: int | None = None,
    beats: str = "librosa",
    bpm_range: tuple[float, float] | None = None,
) -> SongAnalysis:
    """Analyse decoded audio (any rate and channel count).

    ``beats`` picks the beat tracker: ``"librosa"`` (default) or ``"madmom"``
    (optional, see ``rl_editor.audio.beats_madmom``). ``bpm_range`` (librosa only)
    tells the tracker the tempo lies in that range (BPM), which settles the
    metrical level of fast music.

    Raises
    ------
    AnalysisError
        Silent audio, fewer than ``MIN_BEATS`` beats, or an unknown or missing beat tracker.
    """
    source_sample_rate = source_sample_rate or clip.sample_rate
    channels = channels or clip.channels
    duration_seconds = clip.duration_seconds
    if duration_seconds < MIN_DURATION_SECONDS:
        raise AnalysisError(
            f"{path}: too short to hold {MIN_BEATS} beats ({duration_seconds:.1f} s); use a longer song"
        )
    if max(float(clip.samples.max()), -float(clip.samples.min())) < SILENCE_PEAK:
        raise AnalysisError(f"{path}: is silent (peak below -80 dBFS); nothing to analyse")
    y = clip.mono()
    if clip.sample_rate != ANALYSIS_SR:
        from rl_editor.audio.io import resample

        y = resample(y, clip.sample_rate, ANALYSIS_SR)

    analysis_params(beats)  # refuse an unknown tracker before the costly part
    frames = frame_features(y, sr=ANALYSIS_SR)
    if beats == "madmom":
        tracked_s, beat_in_bar, beats_per_bar, downbeat_conf = _madmom_beats(clip)
        beat_frames = np.round(tracked_s * ANALYSIS_SR / HOP_LENGTH).astype(np.int64)
        tempo_bpm = 60.0 / float(np.median(np.diff(tracked_s))) if tracked_s.size > 1 else 0.0
    else:
        beat_frames, tempo_bpm = track_beats(
            frames.onset_envelope, sr=ANALYSIS_SR, hop_length=HOP_LENGTH, bpm_range=bpm_range
        )
        if bpm_range is None:  # a tempo the user vouches for needs no second opinion
            level = choose_beat_level(
                frames.onset_envelope, beat_frames, tempo_bpm, sr=ANALYSIS_SR, hop_length=HOP_LENGTH
            )
            beat_frames, tempo_bpm = level.beat_frames, level.tempo_bpm
            _warn_doubtful_level(path, level)
    beat_frames = beat_frames[beat_frames < frames.n_frames]
    if beat_frames.size < MIN_BEATS:
        raise AnalysisError(
            f"{path}: too short to hold {MIN_BEATS} beats (found {beat_frames.size} in "
            f"{duration_seconds:.1f} s); use a longer song with a steady beat"
        )
    tracked_times_s = beat_frames * HOP_LENGTH / ANALYSIS_SR
    filled = np.zeros(tracked_times_s.size, dtype=bool)
    if beats != "madmom":  # madmom's bar positions belong to its own beats
        grid_times_s, grid_filled = fill_beat_gaps(tracked_times_s, duration_seconds)
        _warn_filled(path, grid_times_s, grid_filled, duration_seconds, applied=bpm_range is not None)
        if bpm_range is not None:  # a tempo the user vouches for: put the grid in
            tracked_times_s, filled = grid_times_s, grid_filled
        else:  # mark the beat that spans each stretch (filling by default lowered beat F on rendered MIDI)
            spanning = np.searchsorted(tracked_times_s, grid_times_s[grid_filled], side="right") - 1
            filled[np.clip(spanning, 0, filled.size - 1)] = True
    beat_times_s = refine_to_attacks(y, tracked_times_s, sr=ANALYSIS_SR)
    # features aggregate over the frames whose centres fall inside each (refined) beat
    beat_frames = np.ceil(beat_times_s * ANALYSIS_SR / HOP_LENGTH).astype(np.int64)
    steps = np.arange(beat_frames.size)
    beat_frames = np.maximum.accumulate(beat_frames - steps) + steps  # strictly increasing
    inside = beat_frames < frames.n_frames
    beat_frames, beat_times_s, filled = beat_frames[inside], beat_times_s[inside], filled[inside]

    starts = segment_starts(beat_frames)
    if beats == "madmom":
        beat_in_bar, downbeat_conf = beat_in_bar[: beat_frames.size], downbeat_conf[: beat_frames.size]
    else:
        chroma_per_beat = beat_mean(frames.chroma, starts, frames.n_frames).T
        window = np.clip(beat_frames[:, None] + np.arange(-1, 3)[None, :], 0, frames.n_frames - 1)
        low_onset_per_beat = frames.low_onset_envelope[window].max(axis=1)
        onset_per_beat = frames.onset_envelope[window].max(axis=1)
        beat_in_bar, beats_per_bar, downbeat_conf = estimate_bars(chroma_per_beat, low_onset_per_beat, onset_per_beat)
    features = beat_features(
        frames,
        beat_frames,
        beat_times_s=beat_times_s,
        beat_in_bar=beat_in_bar,
        duration_seconds=duration_seconds,
        downbeat_confidence=downbeat_conf,
        beat_confidence=np.where(filled, 0.0, beat_confidence(frames.onset_envelope, beat_frames)),
    )
    if not np.all(np.isfinite(features)):  # pragma: no cover - guards the feature code
        raise AnalysisError(f"{path}: analysis produced non-finite features")
    return SongAnalysis(
        song_id=song_id,
        path=path,
        content_sha256=content_sha256,
        sample_rate=ANALYSIS_SR,
        source_sample_rate=int(source_sample_rate),
        channels=int(channels),
        duration_seconds=float(duration_seconds),
        tempo_bpm=float(tempo_bpm),
        beat_times_s=beat_times_s,
        beat_in_bar=beat_in_bar,
        beats_per_bar=beats_per_bar,
        features=features,
        edge_features=beat_edges(frames, beat_frames),
    )


def _warn_doubtful_level(path: str, level: BeatLevel) -> None:
    """Warn, in one line naming the file, when another metrical level fits the onsets nearly as well."""
    if level.rival_bpm is None:
        return
    low = max(MIN_HINT_BPM, 5 * round(0.9 * level.rival_bpm / 5))
    high = min(MAX_HINT_BPM, 5 * round(1.1 * level.rival_bpm / 5))
    warnings.warn(
        f"{path}: the tempo is doubtful: {level.tempo_bpm:.0f} BPM or {level.rival_bpm:.0f} BPM fit the onsets "
        "about equally well, so beats, bars and cuts on bar lines may be off; give the tempo with --bpm-range "
        f"(e.g. --bpm-range {low:.0f}-{high:.0f} for {level.rival_bpm:.0f} BPM)",
        AnalysisWarning,
        stacklevel=2,
    )


def _warn_filled(path: str, times: np.ndarray, filled: np.ndarray, duration_seconds: float, *, applied: bool) -> None:
    """Warn, in one line naming the file, about the stretches where ``fill_beat_gaps`` put at least
    ``FILLED_BEATS_TO_WARN`` beats (a beat or two at a fade-out is no news)."""
    runs = np.split(filled, np.flatnonzero(np.diff(filled.astype(np.int8)) != 0) + 1)
    if max((run.size for run in runs if run.size and run[0]), default=0) < FILLED_BEATS_TO_WARN:
        return
    stretches = filled_stretches(times, filled, duration_seconds)

    def format_time(seconds: float) -> str:
        return f"{int(round(seconds)) // 60}:{int(round(seconds)) % 60:02d}"

    period = float(np.median(np.diff(times)))
    where = ", ".join(f"{format_time(a)}-{format_time(b)}" for a, b in stretches)
    if applied:
        what = (
            f"filled with {int(filled.sum())} beats at {60.0 / period:.0f} BPM (beat confidence 0), so cuts "
            "there follow the tempo, not the music"
        )
    else:
        what = (
            "it is one long beat there (beat confidence 0); give the tempo (--bpm-range) to put beats "
            f"at {60.0 / period:.0f} BPM in it"
        )
    warnings.warn(f"{path}: no beat found in {where}; {what}", AnalysisWarning, stacklevel=2)


def _madmom_beats(clip: AudioClip) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    from rl_editor.audio.beats_madmom import track_beats_and_bars

    return track_beats_and_bars(clip.mono(), sr=clip.sample_rate)


def analyze_song(
    path: str | Path,
    *,
    song_id: str | None = None,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    beats: str = "librosa",
    bpm_range: tuple[float, float] | None = None,
) -> SongAnalysis:
    """Beats, bars and per-beat features of one audio file, from the cache when possible.

    Parameters
    ----------
    path : str or Path
        wav, flac, ogg or mp3 file.
    song_id : str, optional
        Defaults to the file stem.
    use_cache : bool
        Read and write the analysis cache (keyed by the file's content).
    cache_dir : str or Path, optional
        Defaults to ``$RL_EDITOR_CACHE_DIR`` or ``~/.cache/rl-editor/analysis``.
    beats : {"librosa", "madmom"}
        Beat and downbeat tracker. ``"madmom"`` is optional (non-commercial
        models, about 11x real time; see ``rl_editor.audio.beats_madmom``); it
        is part of the cache key.
    bpm_range : (float, float), optional
        The song's tempo lies in this range (BPM); part of the cache key. Fast
        music is often tracked at half or two thirds of its tempo without it.

    Returns
    -------
    SongAnalysis

    Raises
    ------
    AnalysisError
        Missing, unsupported, corrupt, silent, too-short or too-long file (the message names it;
        songs longer than ``$RL_EDITOR_MAX_SONG_MINUTES``, default 20, are refused: see
        :func:`max_song_seconds`).

    Examples
    --------
    >>> analysis = analyze_song("song.ogg")  # doctest: +SKIP
    >>> analysis.features.shape  # doctest: +SKIP
    (512, 125)
    """
    from rl_editor.audio.io import check_audio_path

    p = check_audio_path(path)
    song_id = song_id if song_id is not None else p.stem
    content_sha256 = file_sha256(p)
    params = analysis_params(beats, bpm_range)
    if use_cache:
        hit = cache.load_cached(content_sha256, params, song_id=song_id, path=str(path), cache_dir=cache_dir)
        if hit is not None:
            return hit
    check_song_length(p, header_duration_seconds(p))
    clip = load_audio(p)
    check_song_length(p, clip.duration_seconds)
    analysis = analyze_clip(
        clip, song_id=song_id, path=str(path), content_sha256=content_sha256, beats=beats, bpm_range=bpm_range
    )
    if use_cache:
        try:
            cache.store(analysis, params, cache_dir)
        except OSError:
            pass  # a read-only cache only costs speed
    return analysis


def extract_features(path_or_clip: str | Path | AudioClip) -> np.ndarray:
    """The (n_beats, 125) float32 per-beat features of a file or of decoded audio.

    Files go through ``analyze_song`` (and its cache); an ``AudioClip`` is analysed directly.
    """
    if isinstance(path_or_clip, AudioClip):
        clip = path_or_clip
        import hashlib

        digest = hashlib.sha256(np.ascontiguousarray(clip.samples).tobytes()).hexdigest()
        label = clip.path or "<audio>"
        return analyze_clip(clip, song_id=Path(label).stem, path=label, content_sha256=digest).features
    return analyze_song(path_or_clip).features


def find_audio_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand folders (recursively) into their audio files.

    Returns
    -------
    files : list of Path
        Files given directly (whatever their suffix; analysis reports bad ones) and
        audio files found in folders, sorted within each folder.
    missing : list of (str, str)
        Paths that do not exist, with a reason.
    """
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            try:
                files.extend(song.path for song in find_songs(p))
            except AnalysisError:
                missing.append((str(p), "folder holds no audio files"))
        elif p.exists():
            files.append(p)
        else:
            missing.append((str(p), "no such file; check the path"))
    return files, missing


def _analyze_or_reason(
    path: str,
    use_cache: bool,
    cache_dir: str | None,
    beats: str = "librosa",
    bpm_range: tuple[float, float] | None = None,
) -> tuple[str, SongAnalysis | None, str, list[str]]:
    """``(path, analysis or None, reason it failed, the analysis warnings)``; runs in worker processes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AnalysisWarning)
        try:
            analysis = analyze_song(path, use_cache=use_cache, cache_dir=cache_dir, beats=beats, bpm_range=bpm_range)
            reason = ""
        except AnalysisError as exc:
            analysis, reason = None, _reason(exc, path)
        except Exception as exc:  # any other failure skips the song instead of stopping the batch
            analysis, reason = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    notes = [str(w.message) for w in caught if issubclass(w.category, AnalysisWarning)]
    return path, analysis, reason, notes


def _reason(exc: Exception, path: str) -> str:
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def analyze_many(
    paths: Iterable[str | Path],
    *,
    workers: int | None = None,
    progress: bool = True,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    beats: str = "librosa",
    bpm_range: tuple[float, float] | None = None,
) -> AnalysisBatch:
    """Analyse many files (folders are searched recursively) in a process pool.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders.
    workers : int, optional
        Processes; defaults to the number of cores. Cache hits never start a process.
    progress : bool
        Show a tqdm progress bar.
    use_cache : bool
        Read and write the analysis cache.
    cache_dir : str or Path, optional
        Cache folder (default ``$RL_EDITOR_CACHE_DIR`` or ``~/.cache/rl-editor/analysis``).
    beats : {"librosa", "madmom"}
        Beat tracker (see ``analyze_song``).
    bpm_range : (float, float), optional
        The songs' tempo range (BPM), a hint to the tracker (see ``analyze_song``).

    Returns
    -------
    AnalysisBatch
        Analyses in input order, and the skipped files with one-line reasons.

    Raises
    ------
    AnalysisError
        ``beats`` is unknown or its backend is not installed (before any song is read).
    """
    from tqdm.auto import tqdm

    check_beat_backend(beats)
    params = analysis_params(beats, bpm_range)

    files, skipped = find_audio_files(paths)
    cache_dir_str = str(cache_dir) if cache_dir is not None else None
    results: dict[str, tuple[SongAnalysis | None, str]] = {}
    notes: list[str] = []
    todo: list[str] = []
    for f in files:
        key = str(f)
        if key in results or key in todo:
            continue
        if use_cache:
            try:
                hit = cache.load_cached(file_sha256(f), params, song_id=f.stem, path=key, cache_dir=cache_dir)
            except OSError:
                hit = None
            if hit is not None:
                results[key] = (hit, "")
                continue
        todo.append(key)

    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    with tqdm(total=len(files), desc="analyze", unit="song", disable=not progress, file=sys.stderr) as bar:
        bar.update(len(results))
        if n_workers == 1:
            for key in todo:
                _, analysis, reason, song_notes = _analyze_or_reason(key, use_cache, cache_dir_str, beats, bpm_range)
                results[key] = (analysis, reason)
                notes += song_notes
                bar.update(1)
        else:
            # Not "fork": a parent that has used OpenMP (torch, soxr) can hang its forked children.
            context = multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
                futures = [
                    pool.submit(_analyze_or_reason, key, use_cache, cache_dir_str, beats, bpm_range) for key in todo
                ]
                for future in as_completed(futures):
                    key, analysis, reason, song_notes = future.result()
                    results[key] = (analysis, reason)
                    notes += song_notes
                    bar.update(1)

    batch = AnalysisBatch(skipped=list(skipped), warnings=notes)
    seen: set[str] = set()
    for f in files:
        key = str(f)
        if key in seen:
            continue
        seen.add(key)
        analysis, reason = results[key]
        if analysis is not None:
            batch.analyses.append(analysis)
        else:
            batch.skipped.append((key, reason))
    return batch


def warm_up() -> float:
    """Analyse a short synthetic click track once so numba's on-disk cache is filled.

    Returns the seconds it took. Run it once after installing to make the first
    real analysis fast.
    """
    import time

    start = time.perf_counter()
    sr = ANALYSIS_SR
    t = np.arange(int(12 * sr)) / sr
    y = 0.1 * np.sin(2 * np.pi * 220 * t)
    clicks = (np.arange(t.size) % (sr // 2)) < 200
    y = (y + 0.5 * clicks * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)
    analyze_clip(AudioClip(y, sr), song_id="warm-up", path="<warm-up>", content_sha256="0" * 64)
    return time.perf_counter() - start

"""Beat and downbeat accuracy on real recordings with beat-synced charts (Frets on Fire songs).

Usage::

    apt-get install fretsonfire-songs-sectoid      # 4 songs by Sectoid with notes.mid charts
    pip install 'rl-editor[bench]'                 # pretty_midi reads the charts
    python benchmarks/bench_beats_fof.py [--songs-dir DIR] [--bpm-range 120-200] [--backends librosa,madmom]
    python benchmarks/bench_beats_fof.py --stretch-to 170,175,180,190 --bpm-range 160-200  # fast music

Each song folder holds the recording in stems (``song.ogg``, ``guitar.ogg``,
sometimes ``rhythm.ogg``), mixed here into one file, and a ``notes.mid`` chart
whose tempo map follows the audio: its beats (``pretty_midi.get_beats``) and
bar lines (``get_downbeats``, 4/4 when the chart names no meter) are the truth,
shifted by a constant per song that lines the chart up with the recording's
onsets (``chart_offset``: charts are timed against the game's audio path).
Every song is analysed by each tracker: ``librosa`` (the default), ``librosa``
with the ``--bpm-range`` hint (when given), and ``madmom`` (when installed).
Prints per song the chart's tempo, each tracker's tempo and beat F and
downbeat F (``mir_eval.beat.f_measure``, 70 ms window, first 5 s trimmed), then
the mean per tracker.

``--stretch-to`` makes a fast-music set with exact truth: each mix is
time-stretched (``rubberband`` when installed, else ``librosa.effects.time_stretch``;
both deterministic) so its chart tempo becomes the given BPM (the list is
used in turn, one tempo per song), and the chart's beats are scaled by the same
factor, so the truth stays exact.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

DEFAULT_SONGS_DIR = Path("/usr/share/games/fretsonfire/data/songs/sectoid")
STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")


def chart_songs(songs_dir: Path) -> list[Path]:
    """Song folders under ``songs_dir`` that hold a chart and at least one stem."""
    return sorted(p.parent for p in songs_dir.rglob("notes.mid") if any((p.parent / s).is_file() for s in STEMS))


def mix_stems(folder: Path, out: Path) -> Path:
    """Sum the song's stems (at the first stem's rate) into one wav; the mix is scaled to peak at 0.9."""
    import numpy as np

    from rl_editor.audio.io import load_audio, save_audio

    clips = [load_audio(folder / s) for s in STEMS if (folder / s).is_file()]
    rate = clips[0].sample_rate
    stems = [load_audio(c.path or "", sample_rate=rate, mono=True).samples[:, 0] for c in clips]
    n = max(s.size for s in stems)
    mix = np.zeros(n, dtype=np.float32)
    for stem in stems:
        mix[: stem.size] += stem
    return save_audio(out, 0.9 * mix / max(float(np.abs(mix).max()), 1e-9), rate)


def stretch_to_tempo(audio: Path, rate: float, out: Path) -> tuple[Path, str]:
    """``audio`` played ``rate`` times as fast at the same pitch, and the stretcher used.

    The rubberband command-line tool (R3 engine) when it is on the PATH, else librosa's
    phase vocoder; both are deterministic.
    """
    import shutil
    import subprocess

    from rl_editor.audio.io import load_audio, save_audio

    if shutil.which("rubberband"):
        subprocess.run(
            ["rubberband", "-q", "-3", "--tempo", f"{rate:.6f}", str(audio), str(out)], check=True, capture_output=True
        )
        return out, "rubberband"
    import librosa

    clip = load_audio(audio, mono=True)
    stretched = librosa.effects.time_stretch(clip.samples[:, 0], rate=rate)
    return save_audio(out, stretched, clip.sample_rate), "librosa"


def chart_truth(folder: Path, duration_s: float) -> tuple[list[float], list[float], float]:
    """Beats, downbeats (s, within the audio) and the chart's first tempo (BPM)."""
    import pretty_midi

    chart = pretty_midi.PrettyMIDI(str(folder / "notes.mid"))
    beats = [float(t) for t in chart.get_beats() if t < duration_s]
    downbeats = [float(t) for t in chart.get_downbeats() if t < duration_s]
    return beats, downbeats, float(chart.get_tempo_changes()[1][0])


MAX_CHART_OFFSET_S, OFFSET_STEP_S = 0.3, 0.005


def chart_offset(audio: Path, beats: list[float]) -> float:
    """Seconds to add to the chart's times to line them up with the recording.

    Charts are timed against the game's audio path, typically a constant 0.1-0.2 s
    off the file. The offset that puts the most onset strength on the chart's
    beats (within ``MAX_CHART_OFFSET_S``) wins; it uses the audio and the chart
    only, never a tracker's output.
    """
    import librosa
    import numpy as np

    from rl_editor.audio.io import load_audio

    sr, hop = 22050, 128
    y = load_audio(audio, sample_rate=sr, mono=True).samples[:, 0]
    envelope = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
    offsets = np.arange(-MAX_CHART_OFFSET_S, MAX_CHART_OFFSET_S + 1e-9, OFFSET_STEP_S)
    frames = np.round((np.asarray(beats)[None, :] + offsets[:, None]) * sr / hop).astype(int)
    inside = (frames >= 0) & (frames < envelope.size)
    strength = np.where(inside, envelope[np.clip(frames, 0, envelope.size - 1)], 0.0).sum(axis=1)
    return float(offsets[int(np.argmax(strength))])


def score(truth_beats: list[float], truth_downbeats: list[float], analysis) -> tuple[float, float]:
    """Beat F and downbeat F of one analysis."""
    import mir_eval
    import numpy as np

    trim = mir_eval.beat.trim_beats
    return (
        mir_eval.beat.f_measure(trim(np.asarray(truth_beats)), trim(analysis.beat_times_s)),
        mir_eval.beat.f_measure(trim(np.asarray(truth_downbeats)), trim(analysis.downbeat_times_s)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs-dir", type=Path, default=DEFAULT_SONGS_DIR)
    parser.add_argument("--bpm-range", default="", help="also run librosa with this tempo hint (e.g. 120-200)")
    parser.add_argument("--backends", default="librosa,madmom", help="comma-separated: librosa, madmom")
    parser.add_argument(
        "--stretch-to",
        default="",
        help="time-stretch each song so its chart tempo is this BPM (list: one per song, in turn)",
    )
    parser.add_argument(
        "--songs", default="", help="only the song folders whose name contains one of these (comma-separated)"
    )
    args = parser.parse_args()
    if not args.songs_dir.is_dir():
        sys.exit(
            f"bench_beats_fof: {args.songs_dir} not found; apt-get install fretsonfire-songs-sectoid "
            "(or give --songs-dir a folder of Frets on Fire songs)"
        )
    try:
        import pretty_midi  # noqa: F401
    except ImportError:
        sys.exit("bench_beats_fof: needs pretty_midi to read the charts: pip install 'rl-editor[bench]'")

    import numpy as np

    from rl_editor.audio.analyze import AnalysisWarning, analyze_song
    from rl_editor.audio.beats import parse_bpm_range

    trackers: list[tuple[str, str, tuple[float, float] | None]] = []
    for backend in args.backends.split(","):
        if backend == "madmom":
            from importlib.util import find_spec

            if find_spec("madmom") is None:
                print("madmom not installed: skipped (pip install 'rl-editor[madmom]')")
                continue
        trackers.append((backend, backend, None))
        if backend == "librosa" and args.bpm_range:
            trackers.append((f"librosa {args.bpm_range}", "librosa", parse_bpm_range(args.bpm_range)))

    import warnings

    songs = chart_songs(args.songs_dir)
    if args.songs:
        wanted = [w.strip().lower() for w in args.songs.split(",") if w.strip()]
        songs = [s for s in songs if any(w in s.name.lower() for w in wanted)]
    targets = [float(t) for t in args.stretch_to.split(",") if t.strip()]
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    if not songs:
        sys.exit(f"bench_beats_fof: no song folders with notes.mid under {args.songs_dir}")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in trackers}
    print(
        f"{'song':<24} {'chart':>6} {'offset':>6}  "
        + "  ".join(f"{name + ' bpm/beatF/downF':>34}" for name, _, _ in trackers)
    )
    stretched_by: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for song in songs:
            mixed = mix_stems(song, Path(folder) / f"{song.name}.wav")
            all_beats, _, chart_bpm = chart_truth(song, float("inf"))
            rate = 1.0
            if targets:
                rate = targets[len(stretched_by) % len(targets)] / chart_bpm
                mixed, stretcher = stretch_to_tempo(mixed, rate, Path(folder) / f"{song.name} x{rate:.3f}.wav")
                stretched_by.append(stretcher)
            all_beats = [t / rate for t in all_beats]
            offset = chart_offset(mixed, all_beats)
            row = []
            for name, backend, bpm_range in trackers:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", AnalysisWarning)
                    analysis = analyze_song(mixed, beats=backend, bpm_range=bpm_range, use_cache=False)
                truth_beats, truth_downbeats, chart_bpm = chart_truth(song, rate * (analysis.duration_seconds - offset))
                truth_beats = [t / rate + offset for t in truth_beats]
                truth_downbeats = [t / rate + offset for t in truth_downbeats]
                chart_bpm *= rate
                beat_f, down_f = score(truth_beats, truth_downbeats, analysis)
                results[name].append((beat_f, down_f))
                doubtful = "?" if any("doubtful" in str(w.message) for w in caught) else " "
                row.append(f"{analysis.tempo_bpm:>23.1f}{doubtful} {beat_f:5.3f} {down_f:5.3f}")
            print(f"{song.name[:24]:<24} {chart_bpm:6.1f} {offset:+6.3f}  " + "  ".join(row))
    print("(? = the analysis warned that its tempo is doubtful)")
    if stretched_by:
        print(f"time-stretched with {', '.join(sorted(set(stretched_by)))}; chart = the stretched chart's tempo")
    for name, figures in results.items():
        beat_f, down_f = np.mean(figures, axis=0)
        print(f"{name}: mean beat F {beat_f:.3f}, downbeat F {down_f:.3f} over {len(figures)} songs")


if __name__ == "__main__":
    main()

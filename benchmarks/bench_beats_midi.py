"""Beat and downbeat accuracy against exact ground truth: MIDI pieces rendered with fluidsynth.

Usage::

    python benchmarks/bench_beats_midi.py [--backends librosa,madmom] [--seconds 50] [--cache-dir .cache/bench-midi]

Builds the corpus of ``benchmarks/midi_corpus.py`` (24 composed pieces in 4/4,
3/4 and 6/8 with and without drums, pickups and tempo changes, plus 7 Bach
chorales from music21's corpus), renders it once with fluidsynth into
``--cache-dir`` and analyses every piece with each backend: ``librosa`` (the
project's default: librosa beats and the project's bar model) and ``madmom``
(the optional RNN + DBN downbeat tracker, non-commercial models). Prints beat
F and downbeat F (``mir_eval.beat.f_measure``, 70 ms window, first 5 s
trimmed; downbeat F is the same measure on downbeats) and how often the meter
(beats per bar) is right, per meter and drums group and overall. The beat of
6/8 is the dotted quarter, two per bar; both trackers choose between 3 and 4
beats per bar, so on 6/8 the meter is never right and, where the dotted
quarters are tracked, every other downbeat is found (downbeat F about 0.67).

librosa analyses are recomputed every run (they take about a second per
piece); madmom's, at about 11x real time, are kept in the analysis cache under
``--cache-dir``. Targets for the default tracker: beat F >= 0.90, downbeat F >= 0.80.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from midi_corpus import Piece, build_corpus, missing_tools  # noqa: E402

TARGET_BEAT_F, TARGET_DOWNBEAT_F = 0.90, 0.80


def score_piece(piece: Piece, beat_times_s, downbeat_times_s, beats_per_bar: int) -> dict:
    """Beat F, downbeat F and whether the meter is right, for one analysis of one piece."""
    import mir_eval
    import numpy as np

    trim = mir_eval.beat.trim_beats
    truth_beats, truth_downbeats = np.asarray(piece.beat_times_s), np.asarray(piece.downbeat_times_s)
    truth_meter = len(truth_beats) / max(len(truth_downbeats), 1)
    return {
        "beat_f": mir_eval.beat.f_measure(trim(truth_beats), trim(np.asarray(beat_times_s))),
        "downbeat_f": mir_eval.beat.f_measure(trim(truth_downbeats), trim(np.asarray(downbeat_times_s))),
        "meter_ok": float(beats_per_bar == round(truth_meter)),
    }


def analyse(audio: Path, backend: str, cache_dir: Path) -> tuple[dict, float]:
    """The analysis of one piece with one backend, and the seconds it took."""
    from rl_editor.audio.analyze import analyze_song

    start = time.perf_counter()
    analysis = analyze_song(audio, beats=backend, use_cache=backend != "librosa", cache_dir=cache_dir / "analysis")
    return analysis, time.perf_counter() - start


def group_of(piece: Piece) -> str:
    return f"{piece.meter} {'drums' if piece.drums else 'no drums'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="librosa,madmom", help="comma-separated: librosa, madmom")
    parser.add_argument("--seconds", type=float, default=50.0, help="length of each composed piece")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/bench-midi"))
    parser.add_argument("--per-piece", action="store_true", help="also print every piece's figures")
    args = parser.parse_args()

    missing = missing_tools()
    if missing:
        sys.exit("bench_beats_midi: cannot render MIDI without " + "; ".join(missing))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "madmom" in backends:
        from rl_editor.audio.analyze import check_beat_backend
        from rl_editor.errors import RlEditorError

        try:
            check_beat_backend("madmom")
        except RlEditorError as exc:
            print(f"skipping madmom: {exc}")
            backends.remove("madmom")

    import numpy as np

    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    pieces = build_corpus(args.cache_dir, seconds=args.seconds)
    audio_seconds = 0.0
    scores: dict[str, dict[str, list[dict]]] = {b: defaultdict(list) for b in backends}
    elapsed = {b: 0.0 for b in backends}
    for audio, piece in pieces:
        row = [f"{audio.stem:<22} {group_of(piece):<14}"]
        for backend in backends:
            analysis, seconds = analyse(audio, backend, args.cache_dir)
            elapsed[backend] += seconds
            s = score_piece(piece, analysis.beat_times_s, analysis.downbeat_times_s, analysis.beats_per_bar)
            scores[backend][group_of(piece)].append(s)
            scores[backend]["all"].append(s)
            row.append(f"{backend} {s['beat_f']:.2f}/{s['downbeat_f']:.2f}/{analysis.beats_per_bar}")
        audio_seconds += float(piece.beat_times_s[-1])
        if args.per_piece:
            print("  ".join(row))

    groups = sorted({group_of(p) for _, p in pieces}) + ["all"]
    header = f"{'group':<16} {'n':>3}" + "".join(f"  {b + ' beat F':>14} {'down F':>7} {'meter':>6}" for b in backends)
    print(header)
    for group in groups:
        n = len(scores[backends[0]][group]) if backends else 0
        line = f"{group:<16} {n:>3}"
        for backend in backends:
            rows = scores[backend][group]
            line += "  " + f"{np.mean([r['beat_f'] for r in rows]):14.3f} "
            line += f"{np.mean([r['downbeat_f'] for r in rows]):7.3f} {np.mean([r['meter_ok'] for r in rows]):6.2f}"
        print(line)
    for backend in backends:
        print(
            f"{backend}: {len(pieces)} pieces, {audio_seconds / 60:.1f} min of audio, "
            f"analysis {elapsed[backend]:.1f} s ({'cached when repeated' if backend != 'librosa' else 'fresh'})"
        )
    print(
        f"targets for the default tracker (librosa): beat F >= {TARGET_BEAT_F:.2f}, downbeat F >= {TARGET_DOWNBEAT_F:.2f}"
    )
    print(
        "6/8 is counted in dotted quarters: 2 beats per bar, the downbeat on the first; both trackers choose "
        "3 or 4 beats per bar, so their 6/8 meter is never right"
    )


if __name__ == "__main__":
    main()

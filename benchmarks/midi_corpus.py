"""A corpus of MIDI pieces with exact beats and downbeats, rendered to audio with fluidsynth.

Two sources, both free to use:

- **composed pieces** (``compose_piece``): pop-like arrangements written note by
  note in seconds on a known beat grid, in 4/4, 3/4 and 6/8, with or without
  drums, some with a pickup (anacrusis) and some with a tempo change (a step
  or a ritardando). The beat grid is the ground truth by construction.
- **Bach chorales** from music21's bundled corpus (public domain), in 4/4 and
  3/4, several with a pickup. Beats and downbeats come from the score's
  measures and time signature at a fixed tempo.

The beat of 6/8 is the dotted quarter (two beats per bar), as music21's
``TimeSignature.beatDuration`` and pretty_midi's ``get_beats`` count it; a
tracker that follows the eighth notes scores poorly on 6/8, which is the point.

Audio is rendered once with the ``fluidsynth`` program and a General MIDI
soundfont (Debian: ``fluidsynth``, ``fluid-soundfont-gm``) into a cache folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
RENDER_SR = 44100
CORPUS_VERSION = "1"
CHORALES = (  # (music21 corpus name, quarter notes per minute, GM program)
    ("bach/bwv66.6", 66, 0),
    ("bach/bwv1.6", 88, 19),
    ("bach/bwv10.7", 96, 0),
    ("bach/bwv26.6", 70, 48),
    ("bach/bwv11.6", 104, 0),
    ("bach/bwv130.6", 88, 19),
    ("bach/bwv17.7", 100, 0),
)
METERS = {"4/4": (4, 1.0), "3/4": (3, 1.0), "6/8": (2, 1.5)}  # beats per bar, quarter notes per beat


@dataclass
class Piece:
    """One benchmark piece and its ground truth.

    Attributes
    ----------
    name : str
    meter : str
        "4/4", "3/4" or "6/8" (beat = dotted quarter in 6/8).
    drums : bool
        Whether a drum kit plays.
    pickup_beats : int
        Beats before the first downbeat (0 = none).
    tempo_change : str
        "none", "step" or "ritardando".
    beat_times_s, downbeat_times_s : list of float
        Ground truth.
    """

    name: str
    meter: str
    drums: bool
    pickup_beats: int
    tempo_change: str
    beat_times_s: list[float]
    downbeat_times_s: list[float]


def find_soundfont() -> str | None:
    """The first General MIDI soundfont installed, or None."""
    return next((path for path in SOUNDFONTS if Path(path).is_file()), None)


def missing_tools() -> list[str]:
    """What the renderer needs and cannot find, as install hints (empty when all is there)."""
    missing = []
    if shutil.which("fluidsynth") is None:
        missing.append("the fluidsynth program (apt-get install -y fluidsynth)")
    if find_soundfont() is None:
        missing.append("a General MIDI soundfont (apt-get install -y fluid-soundfont-gm)")
    for module, package in (("pretty_midi", "pretty_midi"), ("music21", "music21")):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the Python package {package} (pip install 'rl-editor[bench]')")
    return missing


def beat_grid(n_beats: int, bpm: float, tempo_change: str, rng: np.random.Generator) -> np.ndarray:
    """Times (s) of ``n_beats + 1`` beats, the last closing the piece, under a tempo plan."""
    periods = np.full(n_beats, 60.0 / bpm)
    if tempo_change == "step":
        at = n_beats // 2
        periods[at:] = 60.0 / (bpm * rng.choice([0.85, 1.15]))
    elif tempo_change == "ritardando":
        last = max(n_beats // 4, 8)
        periods[-last:] *= np.linspace(1.0, 1.35, last)
    return np.concatenate([[0.0], np.cumsum(periods)])


_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_PROGRESSIONS = ([0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 4, 5, 3], [0, 0, 3, 4])


def _triad(root_degree: int, key: int) -> list[int]:
    degrees = [root_degree, root_degree + 2, root_degree + 4]
    return [int(key + 12 * (d // 7) + _SCALE[d % 7]) for d in degrees]


def compose_piece(
    name: str, *, meter: str, drums: bool, pickup_beats: int, tempo_change: str, seconds: float, seed: int
):
    """A pop-like arrangement on a known beat grid.

    Returns
    -------
    midi : pretty_midi.PrettyMIDI
    piece : Piece
        With the exact beats and downbeats.
    """
    import pretty_midi

    rng = np.random.default_rng(seed)
    beats_per_bar, quarters_per_beat = METERS[meter]
    bpm = float(rng.uniform(55, 80) if meter == "6/8" else rng.uniform(80, 150))
    n_bars = max(int(seconds * bpm / 60.0 / beats_per_bar), 8)
    n_beats = pickup_beats + n_bars * beats_per_bar
    grid = beat_grid(n_beats, bpm, tempo_change, rng) + 0.25  # a short silence before the first note
    subdivisions = 3 if meter == "6/8" else 2

    def at(beat: float) -> float:  # beat index (may be fractional) -> seconds
        k = min(int(np.floor(beat)), n_beats - 1)
        return float(grid[k] + (beat - k) * (grid[k + 1] - grid[k]))

    key = int(rng.integers(45, 57))
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    chord_program, lead_program = int(rng.choice([0, 4, 24, 48])), int(rng.choice([73, 65, 80, 56, 11]))
    bass = pretty_midi.Instrument(program=int(rng.choice([33, 34, 32])))
    chords = pretty_midi.Instrument(program=chord_program)
    lead = pretty_midi.Instrument(program=lead_program)
    kit = pretty_midi.Instrument(program=0, is_drum=True)

    def note(inst, pitch: int, start_beat: float, length_beats: float, velocity: int) -> None:
        inst.notes.append(pretty_midi.Note(velocity, int(pitch), at(start_beat), at(start_beat + length_beats) - 0.01))

    arpeggio = bool(rng.integers(2))
    for bar in range(n_bars):
        first = pickup_beats + bar * beats_per_bar
        root = progression[bar % len(progression)]
        triad = _triad(root, key + 12)
        note(bass, key - 12 + _SCALE[root % 7], first, beats_per_bar * 0.5 if beats_per_bar > 2 else 1.0, 100)
        if beats_per_bar == 4:
            note(bass, key - 12 + _SCALE[(root + 4) % 7], first + 2, 1.5, 85)
        elif beats_per_bar == 2:
            note(bass, key - 12 + _SCALE[(root + 4) % 7], first + 1, 0.9, 85)
        for b in range(beats_per_bar):
            for s in range(subdivisions if arpeggio else 1):
                position = first + b + s / subdivisions
                pitches = [triad[(b * subdivisions + s) % 3]] if arpeggio else triad
                for pitch in pitches:
                    note(chords, pitch, position, 1.0 / subdivisions if arpeggio else 0.9, 70 if b else 82)
        if drums:
            for b in range(beats_per_bar):
                for s in range(subdivisions):
                    note(kit, 42, first + b + s / subdivisions, 0.1, 60 if s else 75)  # closed hi-hat
            note(kit, 36, first, 0.2, 110)  # kick on the downbeat
            backbeats = {4: [1, 3], 3: [1, 2], 2: [1]}[beats_per_bar]
            for b in backbeats:
                note(kit, 38, first + b, 0.2, 95 if beats_per_bar != 3 else 70)
            if beats_per_bar == 4:
                note(kit, 36, first + 2.5 if rng.random() < 0.5 else first + 2, 0.2, 95)
            if bar % 8 == 0:
                note(kit, 49, first, 0.5, 90)  # crash
    # melody: phrases over the grid, starting in the pickup when there is one
    for beat in range(n_beats):
        for s in range(subdivisions):
            if rng.random() < (0.55 if s == 0 else 0.2):
                degree = int(rng.integers(0, 9))
                pitch = key + 24 + 12 * (degree // 7) + _SCALE[degree % 7]
                note(lead, pitch, beat + s / subdivisions, 1.0 / subdivisions, int(rng.integers(70, 100)))
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    midi.instruments.extend([bass, chords, lead] + ([kit] if drums else []))
    beats = grid[:n_beats]
    downbeats = beats[pickup_beats::beats_per_bar]
    piece = Piece(name, meter, drums, pickup_beats, tempo_change, beats.tolist(), downbeats.tolist())
    return midi, piece


def chorale_piece(name: str, corpus_name: str, qpm: float, program: int):
    """A Bach chorale from music21's corpus as MIDI, with beats and downbeats from its measures."""
    import pretty_midi
    from music21 import corpus

    score = corpus.parse(corpus_name)
    part = score.parts[0]
    measures = list(part.getElementsByClass("Measure"))
    signature = measures[0].timeSignature or score.recurse().getElementsByClass("TimeSignature")[0]
    seconds_per_quarter = 60.0 / qpm
    offset_s = 0.25
    beat_q = float(signature.beatDuration.quarterLength)
    pickup_q = float(measures[0].barDuration.quarterLength - measures[0].duration.quarterLength)
    pickup_q = pickup_q if measures[0].paddingLeft > 0 or pickup_q > 0 else 0.0
    first_downbeat_q = float(measures[1].offset) if pickup_q > 0 else 0.0
    end_q = float(score.highestTime)
    beats_q = np.arange(first_downbeat_q % beat_q, end_q - 1e-6, beat_q)
    downbeats_q = np.array([float(m.offset) for m in measures[(1 if pickup_q > 0 else 0) :]])
    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for voice in score.parts:
        instrument = pretty_midi.Instrument(program=program)
        for n in voice.flatten().notes:
            start = offset_s + float(n.offset) * seconds_per_quarter
            end = start + float(n.quarterLength) * seconds_per_quarter - 0.02
            for p in n.pitches:
                instrument.notes.append(pretty_midi.Note(80, int(p.midi), start, end))
        midi.instruments.append(instrument)
    meter = signature.ratioString
    pickup_beats = int(round((first_downbeat_q - beats_q[0]) / beat_q)) if pickup_q > 0 else 0
    piece = Piece(
        name,
        meter,
        False,
        pickup_beats,
        "none",
        (offset_s + beats_q * seconds_per_quarter).tolist(),
        (offset_s + downbeats_q * seconds_per_quarter).tolist(),
    )
    return midi, piece


def corpus_plan(seconds: float = 50.0) -> list[dict]:
    """Keyword arguments of every composed piece: 3 meters x drums or not x 4 variations."""
    plan = []
    variations = (("none", 0), ("step", 1), ("ritardando", 0), ("none", 2))
    for meter in METERS:
        for drums in (True, False):
            for v, (tempo_change, pickup) in enumerate(variations):
                pickup = min(pickup, METERS[meter][0] - 1)
                name = f"{meter.replace('/', '-')}-{'drums' if drums else 'nodrums'}-{v}"
                plan.append(
                    dict(
                        name=name,
                        meter=meter,
                        drums=drums,
                        pickup_beats=pickup,
                        tempo_change=tempo_change,
                        seconds=seconds,
                        seed=len(plan),
                    )
                )
    return plan


def render(midi_path: Path, audio_path: Path) -> None:
    """Render ``midi_path`` to a FLAC file with fluidsynth (44.1 kHz, stereo)."""
    command = [
        "fluidsynth",
        "-ni",
        "-g",
        "0.5",
        "-r",
        str(RENDER_SR),
        "-T",
        "flac",
        "-F",
        str(audio_path),
        find_soundfont(),
        str(midi_path),
    ]
    subprocess.run(command, check=True, capture_output=True)


def build_corpus(folder: Path, *, seconds: float = 50.0) -> list[tuple[Path, Piece]]:
    """Compose, convert and render every piece into ``folder`` (reusing what is there).

    Returns
    -------
    list of (audio path, Piece)
    """
    folder = folder / f"v{CORPUS_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    makers = [(kw["name"], lambda kw=kw: compose_piece(**kw)) for kw in corpus_plan(seconds)]
    for corpus_name, qpm, program in CHORALES:
        name = "chorale-" + corpus_name.split("/")[-1]
        makers.append((name, lambda c=corpus_name, q=qpm, p=program, n=name: chorale_piece(n, c, q, p)))
    pieces = []
    for name, make in makers:
        audio, truth = folder / f"{name}.flac", folder / f"{name}.json"
        if not (audio.is_file() and truth.is_file()):
            midi, piece = make()
            midi_path = folder / f"{name}.mid"
            midi.write(str(midi_path))
            render(midi_path, audio)
            truth.write_text(json.dumps(asdict(piece)))
        pieces.append((audio, Piece(**json.loads(truth.read_text()))))
    return pieces

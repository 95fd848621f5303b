"""Demo songs rl-editor makes itself: varied pop-like songs with exact ground truth.

Each song is synthesised from a seed (no network, no sample files): drums (kick on
beats 1 and 3, snare on 2 and 4, hats, fills and a crash at section starts), a bass
line and a chord progression that change on bar lines, and a lead melody, arranged
as intro / verse / chorus / bridge / outro with the chorus loudest and fullest.
The ground truth (beats, downbeats, tempo, key, sections) is where the drums and
bar lines really are, so beat and bar trackers can be scored against it.

Example
-------
>>> from rl_editor.audio.demo_songs import synthesize_song
>>> song = synthesize_song(3, duration_s=20.0)
>>> song.samples.shape[1], song.truth.beats_per_bar
(2, 4)
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rl_editor.config import config_to_json
from rl_editor.errors import RlEditorError
from rl_editor.io_utils import write_bytes_atomic

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# Chord progressions as 0-based scale degrees, one chord per bar.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4), (0, 5, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 6, 2), (0, 6, 5, 6), (0, 5, 3, 4)),
}
BRIDGE_PROGRESSIONS = {"major": ((3, 4, 5, 5), (5, 2, 3, 4)), "minor": ((3, 4, 5, 6), (5, 6, 3, 4))}
SECTION_ENERGY = {"intro": 0.3, "verse": 0.5, "chorus": 0.9, "bridge": 0.6, "outro": 0.35}
MIDDLE_PATTERN = ("verse", "chorus", "verse", "chorus", "bridge", "chorus")
BEATS_PER_BAR = 4
MIN_DURATION_S = 8.0
PEAK_LEVEL = 0.89  # about -1 dBFS, so 16-bit rounding never clips
TAIL_S = 1.2  # ring-out after the final hit
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 80.0, 160.0


class DemoSongError(RlEditorError):
    """A demo-song request that cannot be met (bad duration, tempo, key or folder)."""


@dataclass(frozen=True)
class Section:
    """One part of a song: ``name`` is intro/verse/chorus/bridge/outro; times in seconds."""

    name: str
    start_s: float
    end_s: float
    energy: float


@dataclass(frozen=True)
class SongTruth:
    """Ground truth of a demo song; ``config_to_json`` of it is the ``demo_<k>.json`` format."""

    beats: list[float]
    downbeats: list[float]
    beats_per_bar: int
    tempo_bpm: float
    key: str
    sections: list[Section]
    seed: int
    duration_seconds: float


@dataclass
class DemoSong:
    """A synthesised song: ``samples`` float32 (n_frames, 2) in [-1, 1], its rate and truth."""

    samples: np.ndarray
    sample_rate: int
    truth: SongTruth

    @property
    def duration_seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True)
class SongSpec:
    """What to synthesise for one corpus entry (chosen so a corpus spreads tempos and keys)."""

    index: int
    seed: int
    duration_s: float
    tempo_bpm: float
    key: str


@dataclass
class _Buses:
    """Mono mix buses; panned to stereo at the end."""

    n_frames: int
    names: tuple[str, ...] = ("kick", "snare", "hats", "crash", "bass", "chord_l", "chord_r", "lead")
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = {name: np.zeros(self.n_frames, dtype=np.float32) for name in self.names}

    def add(self, name: str, sample: np.ndarray, start: int, gain: float) -> None:
        bus = self.data[name]
        if start >= self.n_frames or start < 0:
            return
        stop = min(self.n_frames, start + sample.shape[0])
        bus[start:stop] += np.float32(gain) * sample[: stop - start]


# Stereo placement (left gain, right gain) of each bus.
PANS = {
    "kick": (1.0, 1.0),
    "snare": (0.95, 1.0),
    "hats": (0.75, 1.0),
    "crash": (1.0, 0.85),
    "bass": (1.0, 1.0),
    "chord_l": (1.0, 0.45),
    "chord_r": (0.45, 1.0),
    "lead": (1.0, 0.8),
}


def parse_key(key: str) -> tuple[int, str]:
    """``"A minor"`` -> (9, "minor"). Raises `DemoSongError` for anything else."""
    parts = key.split()
    if len(parts) != 2 or parts[0] not in PITCH_NAMES or parts[1] not in ("major", "minor"):
        raise DemoSongError(f"key {key!r}: expected '<tonic> major|minor' with tonic in {', '.join(PITCH_NAMES)}")
    return PITCH_NAMES.index(parts[0]), parts[1]


def _midi_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _envelope(n: int, sr: int, attack_s: float, release_s: float, decay_per_s: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-decay_per_s * t)
    n_rel = min(n, max(1, int(release_s * sr)))
    env[n - n_rel :] *= np.linspace(1.0, 0.0, n_rel)
    return env


def _tone(
    midi: float,
    n: int,
    sr: int,
    harmonics: tuple[float, ...],
    attack_s: float,
    release_s: float,
    decay_per_s: float = 0.0,
    detune_cents: float = 0.0,
) -> np.ndarray:
    """A note: a sum of harmonics with an attack/decay/release envelope, float32 (n,)."""
    t = np.arange(n) / sr
    f0 = float(_midi_hz(midi)) * 2.0 ** (detune_cents / 1200.0)
    wave = np.zeros(n)
    for k, amp in enumerate(harmonics, start=1):
        if amp and f0 * k < sr / 2:
            wave += amp * np.sin(2 * np.pi * f0 * k * t)
    return (wave * _envelope(n, sr, attack_s, release_s, decay_per_s)).astype(np.float32)


def _drum_kit(rng: np.random.Generator, sr: int) -> dict[str, np.ndarray]:
    """One-shot drum samples (float32, peak about 1), made once per song."""

    def noise(seconds: float) -> np.ndarray:
        return rng.standard_normal(int(seconds * sr))

    t_kick = np.arange(int(0.35 * sr)) / sr
    freq = 45.0 + 110.0 * np.exp(-t_kick * 28.0)
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t_kick * 9.0)
    kick[: int(0.004 * sr)] += 0.5 * noise(0.004)  # beater click: a sharp onset
    t_snare = np.arange(int(0.22 * sr)) / sr
    snare = 0.55 * np.sin(2 * np.pi * 185.0 * t_snare) * np.exp(-t_snare * 25.0)
    snare += 0.7 * noise(0.22) * np.exp(-t_snare * 18.0)
    hat_noise = np.diff(noise(0.05), prepend=0.0)  # first difference: a crude high-pass
    hat = hat_noise * np.exp(-np.arange(hat_noise.size) / sr * 80.0)
    open_noise = np.diff(noise(0.3), prepend=0.0)
    open_hat = open_noise * np.exp(-np.arange(open_noise.size) / sr * 12.0)
    crash_noise = np.diff(noise(1.8), prepend=0.0)
    crash = crash_noise * np.exp(-np.arange(crash_noise.size) / sr * 2.2)
    tom_t = np.arange(int(0.25 * sr)) / sr
    tom = np.sin(2 * np.pi * np.cumsum(140.0 + 60.0 * np.exp(-tom_t * 20.0)) / sr) * np.exp(-tom_t * 14.0)
    kit = {"kick": kick, "snare": snare, "hat": hat, "open_hat": open_hat, "crash": crash, "tom": tom}
    return {name: (s / np.max(np.abs(s))).astype(np.float32) for name, s in kit.items()}


def plan_sections(n_bars: int, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Split ``n_bars`` into (name, first_bar, n_bars) sections: intro, verse/chorus/bridge..., outro."""
    edge = max(1, min(4, n_bars // 8))
    middle = n_bars - 2 * edge
    block = 8 if middle >= 40 else 4 if middle >= 12 else 2 if middle >= 4 else 1
    n_blocks = max(2, middle // block)
    names = [MIDDLE_PATTERN[i % len(MIDDLE_PATTERN)] for i in range(n_blocks)]
    lengths = [block] * n_blocks
    lengths[-1] += middle - block * n_blocks
    if names[-1] == "verse" and n_blocks > 2:  # end the body on a (longer) chorus, as pop songs do
        names.pop()
        lengths[-2] += lengths.pop()
    plan, bar = [("intro", 0, edge)], edge
    for name, length in zip(names, lengths, strict=True):
        plan.append((name, bar, length))
        bar += length
    plan.append(("outro", bar, n_bars - bar))
    return [p for p in plan if p[2] > 0]


def _chord_pitches(tonic: int, mode: str, degree: int) -> list[int]:
    """MIDI pitches of the diatonic triad on ``degree`` (root in octave 3)."""
    scale = MAJOR_SCALE if mode == "major" else MINOR_SCALE
    pitches = []
    for step in (0, 2, 4):
        idx = degree + step
        pitches.append(48 + tonic + scale[idx % 7] + 12 * (idx // 7))
    return pitches


def synthesize_song(
    seed: int,
    *,
    duration_s: float | None = None,
    sample_rate: int = 22050,
    tempo_bpm: float | None = None,
    key: str | None = None,
) -> DemoSong:
    """Synthesise one demo song, deterministic in all its arguments.

    Parameters
    ----------
    seed : int
        Chooses everything not given: duration (60-180 s), tempo (80-160 BPM), key,
        progression, melody, humanisation.
    duration_s : float, optional
        Length of the song in seconds (>= 8).
    sample_rate : int
        Output rate in Hz.
    tempo_bpm : float, optional
        Tempo in beats per minute (80-160).
    key : str, optional
        ``"<tonic> major"`` or ``"<tonic> minor"``, e.g. ``"A minor"``.

    Returns
    -------
    DemoSong
        Stereo float32 samples peak-normalised to about -1 dBFS and the ground truth.
    """
    rng = np.random.default_rng(seed)
    if duration_s is None:
        duration_s = round(float(rng.uniform(60.0, 180.0)), 2)
    if tempo_bpm is None:
        tempo_bpm = round(float(rng.uniform(MIN_TEMPO_BPM, MAX_TEMPO_BPM)), 1)
    if key is None:
        key = f"{PITCH_NAMES[int(rng.integers(12))]} {('major', 'minor')[int(rng.integers(2))]}"
    if not np.isfinite(duration_s) or duration_s < MIN_DURATION_S:
        raise DemoSongError(f"duration_s={duration_s}: demo songs must be at least {MIN_DURATION_S:g} s long")
    if not MIN_TEMPO_BPM <= tempo_bpm <= MAX_TEMPO_BPM:
        raise DemoSongError(f"tempo_bpm={tempo_bpm}: choose a tempo between 80 and 160 BPM")
    tonic, mode = parse_key(key)
    sr = int(sample_rate)
    beat_s = 60.0 / tempo_bpm
    bar_s = BEATS_PER_BAR * beat_s
    first_beat_s = round(float(rng.uniform(0.2, 0.6)), 3)
    n_bars = int((duration_s - first_beat_s - TAIL_S) // bar_s)
    if n_bars < 3:
        raise DemoSongError(f"duration_s={duration_s}: too short for 3 bars at {tempo_bpm} BPM; give a longer duration")
    n_frames = int(round(duration_s * sr))
    beats = first_beat_s + beat_s * np.arange(n_bars * BEATS_PER_BAR + 1)  # last: the final hit
    plan = plan_sections(n_bars, rng)
    progression = PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    bridge_progression = BRIDGE_PROGRESSIONS[mode][int(rng.integers(2))]
    kit = _drum_kit(rng, sr)
    buses = _Buses(n_frames)
    sections: list[Section] = []
    melodies = {name: _motif(rng) for name in ("verse", "chorus", "bridge")}

    def at(t: float) -> int:
        return int(round(t * sr))

    for s_index, (name, first_bar, length) in enumerate(plan):
        energy = float(np.clip(SECTION_ENERGY[name] + rng.uniform(-0.05, 0.05), 0.0, 1.0))
        start_s = 0.0 if s_index == 0 else float(beats[first_bar * BEATS_PER_BAR])
        end_s = duration_s if s_index == len(plan) - 1 else float(beats[(first_bar + length) * BEATS_PER_BAR])
        sections.append(Section(name, start_s, end_s, energy))
        gain = 0.35 + 0.65 * energy
        prog = bridge_progression if name == "bridge" else progression
        for b in range(length):
            bar = first_bar + b
            t0 = float(beats[bar * BEATS_PER_BAR])
            degree = prog[bar % len(prog)] if name != "bridge" else prog[b % len(prog)]
            chord = _chord_pitches(tonic, mode, degree)
            last_bar = b == length - 1 and s_index < len(plan) - 1
            _drums(
                buses,
                kit,
                rng,
                name,
                t0,
                beat_s,
                sr,
                gain,
                crash=(b == 0 and s_index > 0),
                fill=last_bar and length > 1,
            )
            _bass(buses, name, chord[0] - 12, t0, beat_s, sr, gain)
            _chords(buses, name, chord, t0, bar_s, sr, gain)
            if name in melodies:
                _lead(
                    buses,
                    rng,
                    melodies[name][b % 2],
                    chord,
                    tonic,
                    mode,
                    t0,
                    beat_s,
                    sr,
                    gain * (1.3 if name == "chorus" else 0.8),
                )
    # the final hit on the downbeat after the last bar: kick, crash and the tonic chord ringing out
    end_t = float(beats[-1])
    tail = max(0.2, duration_s - end_t)
    buses.add("kick", kit["kick"], at(end_t), 0.9)
    buses.add("crash", kit["crash"], at(end_t), 0.5)
    final = _chord_pitches(tonic, mode, 0)
    for i, midi in enumerate(final + [final[0] - 12]):
        note = _tone(midi, at(tail), sr, (1.0, 0.4, 0.2), 0.01, min(tail, 0.5), decay_per_s=1.5)
        buses.add("bass" if i == 3 else ("chord_l" if i % 2 else "chord_r"), note, at(end_t), 0.35)

    left = sum(PANS[n][0] * buses.data[n] for n in buses.names)
    right = sum(PANS[n][1] * buses.data[n] for n in buses.names)
    stereo = np.stack([left, right], axis=1).astype(np.float64)
    stereo *= PEAK_LEVEL / max(float(np.max(np.abs(stereo))), 1e-9)
    downbeats = beats[::BEATS_PER_BAR]
    truth = SongTruth(
        beats=[float(t) for t in beats],
        downbeats=[float(t) for t in downbeats],
        beats_per_bar=BEATS_PER_BAR,
        tempo_bpm=float(tempo_bpm),
        key=key,
        sections=sections,
        seed=int(seed),
        duration_seconds=n_frames / sr,
    )
    return DemoSong(samples=stereo.astype(np.float32), sample_rate=sr, truth=truth)


def _motif(rng: np.random.Generator) -> list[list[tuple[int, int, int]]]:
    """Two bars of melody: (eighth-note slot, length in eighths, chord-tone step) per note."""
    bars = []
    for _ in range(2):
        starts = sorted({0, *rng.choice(np.arange(1, 8), size=int(rng.integers(2, 5)), replace=False).tolist()})
        notes = []
        for i, slot in enumerate(starts):
            nxt = starts[i + 1] if i + 1 < len(starts) else 8
            notes.append((slot, nxt - slot, int(rng.integers(0, 5))))
        bars.append(notes)
    return bars


def _drums(
    buses: _Buses,
    kit: dict[str, np.ndarray],
    rng: np.random.Generator,
    name: str,
    t0: float,
    beat_s: float,
    sr: int,
    gain: float,
    *,
    crash: bool,
    fill: bool,
) -> None:
    """One bar of drums from its downbeat ``t0``: kick on 1 and 3, snare on 2 and 4, hats."""
    vel = 1.0 + rng.uniform(-0.06, 0.06, size=16)  # slight human velocity, never timing of beats

    def pos(beat: float) -> int:
        return int(round((t0 + beat * beat_s) * sr))

    buses.add("kick", kit["kick"], pos(0), gain * 1.0 * vel[0])
    buses.add("kick", kit["kick"], pos(2), gain * 0.85 * vel[1])
    buses.add("snare", kit["snare"], pos(1), gain * 0.7 * vel[2])
    if fill:
        for i, beat in enumerate((3.0, 3.25, 3.5, 3.75)):
            buses.add("snare", kit["tom" if i % 2 else "snare"], pos(beat), gain * (0.5 + 0.1 * i) * vel[4 + i])
    else:
        buses.add("snare", kit["snare"], pos(3), gain * 0.7 * vel[3])
    if crash:
        buses.add("crash", kit["crash"], pos(0), gain * 0.45)
    hat_gain = {"intro": 0.18, "verse": 0.22, "chorus": 0.28, "bridge": 0.2, "outro": 0.18}[name]
    steps = (0.0, 1.0, 2.0, 3.0) if name == "bridge" else tuple(0.5 * i for i in range(8))
    jitter_s = rng.uniform(-0.003, 0.003, size=len(steps))
    for i, beat in enumerate(steps):
        if fill and beat >= 3.0:
            break
        offbeat = beat % 1.0 != 0.0
        sample = kit["open_hat"] if (name == "chorus" and offbeat) else kit["hat"]
        start = int(round((t0 + beat * beat_s + (jitter_s[i] if offbeat else 0.0)) * sr))
        buses.add("hats", sample, start, gain * hat_gain * (0.7 if offbeat else 1.0) * vel[8 + i % 8])


def _bass(buses: _Buses, name: str, root: int, t0: float, beat_s: float, sr: int, gain: float) -> None:
    """One bar of bass from the downbeat: longer and louder on beat 1 so bar lines stand out."""
    if name in ("intro", "outro"):
        pattern = [(0.0, 4.0, 0, 1.0)]
    elif name == "chorus":
        pattern = [(0.5 * i, 0.5, 0 if i < 6 else 7, 1.0 if i == 0 else 0.7) for i in range(8)]
    else:
        pattern = [(0.0, 2.0, 0, 1.0), (2.0, 1.5, 7 if name == "bridge" else 0, 0.75), (3.5, 0.5, 12, 0.6)]
    for beat, length, interval, accent in pattern:
        n = int(round(length * beat_s * sr))
        note = _tone(root + interval, n, sr, (1.0, 0.5, 0.25, 0.1), 0.005, 0.03, decay_per_s=1.2)
        buses.add("bass", note, int(round((t0 + beat * beat_s) * sr)), gain * 0.55 * accent)


def _chords(buses: _Buses, name: str, chord: list[int], t0: float, bar_s: float, sr: int, gain: float) -> None:
    """A sustained chord for the whole bar, struck on the downbeat; fuller in the chorus."""
    n = int(round(bar_s * sr))
    timbre = (1.0, 0.35, 0.2, 0.1) if name == "chorus" else (1.0, 0.2)
    pitches = chord + ([chord[0] + 12, chord[1] + 12] if name in ("chorus", "bridge") else [])
    level = {"intro": 0.14, "verse": 0.13, "chorus": 0.15, "bridge": 0.13, "outro": 0.14}[name]
    for i, midi in enumerate(pitches):
        note = _tone(midi, n, sr, timbre, 0.012, 0.06, decay_per_s=0.6, detune_cents=(-4.0 if i % 2 else 4.0))
        buses.add("chord_l" if i % 2 else "chord_r", note, int(round(t0 * sr)), gain * level)


def _lead(
    buses: _Buses,
    rng: np.random.Generator,
    notes: list[tuple[int, int, int]],
    chord: list[int],
    tonic: int,
    mode: str,
    t0: float,
    beat_s: float,
    sr: int,
    gain: float,
) -> None:
    """One bar of lead melody over ``chord``: chord tones an octave or two up."""
    tones = [p + 24 for p in chord] + [chord[0] + 36, chord[1] + 36]
    for slot, length, step in notes:
        start_s = t0 + slot * beat_s / 2 + rng.uniform(-0.004, 0.004)
        n = int(round(length * beat_s / 2 * sr * 0.95))
        note = _tone(tones[step], n, sr, (1.0, 0.0, 0.11, 0.0, 0.04), 0.015, 0.04, decay_per_s=0.8)
        buses.add("lead", note, int(round(start_s * sr)), gain * 0.16)


def corpus_plan(
    n_songs: int = 8, seed: int = 0, duration_range_s: tuple[float, float] = (60.0, 180.0)
) -> list[SongSpec]:
    """Choose each corpus song's seed, duration, tempo and key.

    Tempos are stratified over 80-160 BPM and keys cycle through shuffled tonics with
    alternating major/minor, so even a small corpus is varied.
    """
    low, high = (float(x) for x in duration_range_s)
    if n_songs < 1:
        raise DemoSongError(f"n_songs={n_songs}: ask for at least one song")
    if not (MIN_DURATION_S <= low <= high):
        raise DemoSongError(f"duration range {low:g}-{high:g} s: need {MIN_DURATION_S:g} <= min <= max")
    rng = np.random.default_rng([int(seed), 7919])
    tempo_order = rng.permutation(n_songs)
    tonics = rng.permutation(12)
    first_mode = int(rng.integers(2))
    specs = []
    for k in range(n_songs):
        tempo = MIN_TEMPO_BPM + (MAX_TEMPO_BPM - MIN_TEMPO_BPM) * (tempo_order[k] + rng.uniform(0.1, 0.9)) / n_songs
        key = f"{PITCH_NAMES[int(tonics[k % 12])]} {('major', 'minor')[(k + first_mode) % 2]}"
        song_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
        duration = round(float(rng.uniform(low, high)), 2)
        specs.append(SongSpec(k, song_seed, duration, round(float(tempo), 1), key))
    return specs


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly these bytes."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    write_bytes_atomic(path, data)
    return True


def write_song(song: DemoSong, wav_path: str | Path) -> tuple[Path, Path]:
    """Write ``song`` as 16-bit stereo wav plus its ground-truth JSON beside it (same stem)."""
    import soundfile as sf

    wav_path = Path(wav_path)
    buffer = io.BytesIO()
    sf.write(buffer, song.samples, song.sample_rate, format="WAV", subtype="PCM_16")
    json_path = wav_path.with_suffix(".json")
    _write_if_changed(wav_path, buffer.getvalue())
    _write_if_changed(json_path, (json.dumps(config_to_json(song.truth), indent=2) + "\n").encode())
    return wav_path, json_path


def synthesize_spec(spec: SongSpec, sample_rate: int = 22050) -> DemoSong:
    """Synthesise the song a `SongSpec` describes."""
    return synthesize_song(
        spec.seed, duration_s=spec.duration_s, sample_rate=sample_rate, tempo_bpm=spec.tempo_bpm, key=spec.key
    )


def synthesize_corpus(
    out_dir: str | Path,
    n_songs: int = 8,
    seed: int = 0,
    duration_range_s: tuple[float, float] = (60.0, 180.0),
    sample_rate: int = 22050,
    *,
    progress: bool = False,
) -> list[Path]:
    """Write ``demo_<k>.wav`` and ``demo_<k>.json`` for k in 0..n_songs-1 into ``out_dir``.

    Same arguments give byte-identical files; files already holding those bytes are
    left untouched. Returns the wav paths.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoSongError(f"{out}: cannot create the output folder ({exc.strerror}); choose a writable path") from exc
    specs = corpus_plan(n_songs, seed, duration_range_s)
    if progress:
        from tqdm import tqdm

        specs = tqdm(specs, desc="demo songs", unit="song")
    paths = []
    for spec in specs:
        wav_path, _ = write_song(synthesize_spec(spec, sample_rate), out / f"demo_{spec.index}.wav")
        paths.append(wav_path)
    return paths

"""How far splices stand out from a song's own beat-to-beat changes, heard on the rendered audio.

Usage::

    python benchmarks/bench_splice_detectability.py --manifest cands/manifest.json
    python benchmarks/bench_splice_detectability.py --policy policy.pt --songs DIR
    RL_EDITOR_MUSIC_DIR=DIR python benchmarks/bench_splice_detectability.py [--quick] [--targets 0.4,0.55,0.7,0.85]

Edits come from a ``rl-editor generate`` manifest, from a policy sampled on a
folder of songs, or (with neither) from a small iteration-1 policy trained here
on a few songs of ``--songs`` (default ``$RL_EDITOR_MUSIC_DIR``) and sampled on
the others, which it never saw: at its own length, or trimmed to each of
``--targets``.

Every edit is rendered twice: with the plain renderer (fixed 10 ms equal-power
crossfades at the beat boundaries: ``SpliceConfig.plain()``) and with the
default one (entry slid to line up with the outgoing audio's continuation,
coherent crossfade length, loudness match). On each render, with features the
policy never sees (log-mel and chroma frames every 11.6 ms at 22.05 kHz, not
the 125 per-beat features), four changes are measured at every boundary
between two played beats (natural ones within 265 ms of a splice are left out):

- ``step``: the largest sample-to-sample difference within 3 ms of the boundary
  (a click or a sharp transient), at the render's own rate;
- ``flux``: the largest rise of the log-mel spectrum from one frame to the next
  within 35 ms of the boundary (how abrupt it is);
- ``timbre``: distance between the mean log-mel spectra of the 230 ms before and
  after the boundary (outside the 35 ms around it);
- ``harmony``: cosine distance between the mean chroma of the same two spans.

(The policy chooses its splice points from its own analysis: means of 20 MFCCs and
chroma over each beat's first and last 232 ms, from 46 ms frames at its own
hop, ``rl_editor.audio.jumps.seam_cost``. This benchmark recomputes everything
from the render, at another resolution and with another spectrum, so it
measures what the splices sound like, not what the policy scored.)

Each is divided by its median over the edit's natural boundaries (where playback
goes on to the source's next beat), and a boundary's score is the mean log of
the four ratios. The ROC AUC of telling splices from natural boundaries by that
score (Mann-Whitney U / (n1 n2)) is 0.5 when splices are indistinguishable from
the song's own beat-to-beat changes and 1 when every splice stands out more than
every natural boundary. Printed per song and in total for both renders, with
a bootstrap interval (over whole edits) for the difference, and per component.
Also printed: splices per minute of output, and the
share of cuts (runs of cut beats) that remove whole phrases (start and end on a
phrase start) or end on a section boundary, from
``rl_editor.audio.structure.song_structure`` when the project has it, else
whole multiples of 4 bars starting and ending on a downbeat; and the share of
cuts that span a multiple of 4 bars or end on a section boundary (the
project's target, ``rl_editor.audio.structure.cut_alignment``). For scale, the
AUC of the song's own phrase entries against its other natural boundaries:
about what splices that sounded exactly like the song entering a phrase would score.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

FEATURE_SR = 22050
HOP = 256  # 11.6 ms frames
N_MELS = 96
GUARD_S = 0.035  # the span around a boundary that is judged for abruptness and left out of the context spans
CONTEXT_S = 0.23
COMPONENTS = ("step", "flux", "timbre", "harmony")
STEP_RADIUS_S = 0.003


@dataclass
class EditToMeasure:
    song_id: str
    song_path: Path
    actions: np.ndarray


@dataclass
class BoundaryScores:
    """Per-boundary component values of one render, and which boundaries are splices."""

    values: dict[str, np.ndarray]
    is_splice: np.ndarray

    def normalised_score_of(self, name: str) -> np.ndarray:
        """Log ratio of one component to its median over the edit's natural boundaries."""
        v = self.values[name]
        reference = float(np.median(v[~self.is_splice])) if (~self.is_splice).any() else 1.0
        return np.log(np.maximum(v, 1e-6) / max(reference, 1e-6))

    def normalised_score(self) -> np.ndarray:
        """Mean over the components of their log ratios to the natural boundaries' medians."""
        return np.mean([self.normalised_score_of(name) for name in COMPONENTS], axis=0)


@dataclass
class SongTally:
    edits: int = 0
    output_seconds: float = 0.0
    splices: int = 0
    cuts: int = 0
    phrase_cuts: int = 0
    four_bar_or_section_cuts: int = 0
    scores: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"off": [], "on": []})
    labels: list[np.ndarray] = field(default_factory=list)
    on_phrase: list[np.ndarray] = field(default_factory=list)
    components: dict[str, dict[str, list[np.ndarray]]] = field(
        default_factory=lambda: {m: {c: [] for c in COMPONENTS} for m in ("off", "on")}
    )
    slides_ms: list[np.ndarray] = field(default_factory=list)
    crossfades_ms: list[np.ndarray] = field(default_factory=list)
    predicted_seams: list[np.ndarray] = field(default_factory=list)  # the policy's seam cost of each splice


def auc(splice_scores: np.ndarray, natural_scores: np.ndarray) -> float:
    """ROC AUC of splices scoring above natural boundaries (ties count half)."""
    from scipy.stats import mannwhitneyu

    if len(splice_scores) == 0 or len(natural_scores) == 0:
        return float("nan")
    u = mannwhitneyu(splice_scores, natural_scores, alternative="two-sided").statistic
    return float(u) / (len(splice_scores) * len(natural_scores))


def frame_features(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel (N_MELS, frames) in dB and chroma (12, frames) of a render, at FEATURE_SR with hop HOP."""
    import librosa

    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    y = librosa.resample(mono.astype(np.float32), orig_sr=sample_rate, target_sr=FEATURE_SR, res_type="soxr_hq")
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    log_mel = librosa.power_to_db(
        librosa.feature.melspectrogram(S=power, sr=FEATURE_SR, n_mels=N_MELS), ref=1.0, amin=1e-8, top_db=None
    )
    chroma = librosa.feature.chroma_stft(S=power, sr=FEATURE_SR, tuning=0.0, norm=None)
    return log_mel, chroma


def boundary_scores(log_mel: np.ndarray, chroma: np.ndarray, boundaries_s: np.ndarray) -> dict[str, np.ndarray]:
    """``flux``, ``timbre`` and ``harmony`` change at each boundary (seconds of the render)."""
    frames_per_s = FEATURE_SR / HOP
    guard = max(int(round(GUARD_S * frames_per_s)), 1)
    context = max(int(round(CONTEXT_S * frames_per_s)), 1)
    n = log_mel.shape[1]
    rise = np.concatenate([[0.0], np.maximum(np.diff(log_mel, axis=1), 0.0).mean(axis=0)])
    cumulative_mel = np.concatenate([np.zeros((log_mel.shape[0], 1)), np.cumsum(log_mel, axis=1)], axis=1)
    cumulative_chroma = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    centre = np.clip(np.round(boundaries_s * frames_per_s).astype(int), context + guard, n - context - guard)

    def span_mean(cumulative: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return ((cumulative[:, hi] - cumulative[:, lo]) / (hi - lo)).T

    before_lo, before_hi = centre - guard - context, centre - guard
    after_lo, after_hi = centre + guard, centre + guard + context
    mel_before = span_mean(cumulative_mel, before_lo, before_hi)
    mel_after = span_mean(cumulative_mel, after_lo, after_hi)
    chroma_before = span_mean(cumulative_chroma, before_lo, before_hi)
    chroma_after = span_mean(cumulative_chroma, after_lo, after_hi)
    cosine = (chroma_before * chroma_after).sum(axis=1) / np.maximum(
        np.linalg.norm(chroma_before, axis=1) * np.linalg.norm(chroma_after, axis=1), 1e-12
    )
    flux = np.array([rise[c - guard : c + guard + 1].max() for c in centre])
    return {
        "flux": flux,
        "timbre": np.sqrt(((mel_after - mel_before) ** 2).mean(axis=1)),
        "harmony": 1.0 - cosine,
    }


def sample_steps(samples: np.ndarray, sample_rate: int, boundaries_s: np.ndarray) -> np.ndarray:
    """Largest sample-to-sample difference (any channel) within STEP_RADIUS_S of each boundary."""
    radius = max(int(round(STEP_RADIUS_S * sample_rate)), 1)
    centre = np.round(boundaries_s * sample_rate).astype(int)
    return np.array([np.abs(np.diff(samples[max(c - radius, 0) : c + radius + 1], axis=0)).max() for c in centre])


def edit_boundaries(
    analysis, actions: np.ndarray, sample_rate: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Output times (s) of the boundaries between played beats, whether each is a splice, whether
    playback lands on the start of a phrase there (``rl_editor.audio.structure``), and the source beats
    each joins (shape (n, 2): the beat played before, the beat played after).

    Natural boundaries closer than the context span to a splice are left out (their spans hear the splice).
    """
    from rl_editor.edit import beat_sequence

    seq = beat_sequence(actions)
    starts = np.round(np.concatenate([[0.0], np.cumsum(analysis.beat_durations_s[seq])]) * sample_rate) / sample_rate
    times = starts[1:-1]
    is_splice = seq[1:] != seq[:-1] + 1
    structure = structure_or_none(analysis)
    phrase_starts = (
        set(structure.phrase_start_beats.tolist())
        if structure is not None
        else set(np.flatnonzero(analysis.beat_in_bar == 0).tolist())
    )
    on_phrase = np.isin(seq[1:], list(phrase_starts))
    joins = np.stack([seq[:-1], seq[1:]], axis=1)
    splice_times = times[is_splice]
    if splice_times.size:
        nearest = np.abs(times[:, None] - splice_times[None, :]).min(axis=1)
        keep = is_splice | (nearest > CONTEXT_S + GUARD_S)
        times, is_splice, on_phrase, joins = times[keep], is_splice[keep], on_phrase[keep], joins[keep]
    edge = CONTEXT_S + GUARD_S
    inside = (times > edge) & (times < starts[-1] - edge)
    return times[inside], is_splice[inside], on_phrase[inside], joins[inside]


def cut_runs(actions: np.ndarray) -> list[tuple[int, int]]:
    """Runs of cut beats as ``(first, end)``: beats ``first .. end - 1`` are cut."""
    from rl_editor.edit import CUT

    edges = np.diff(np.concatenate([[0], (np.asarray(actions) == CUT).astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def structure_or_none(analysis):
    """``rl_editor.audio.structure.song_structure(analysis)``, or None when the project has no such module."""
    try:
        from rl_editor.audio.structure import song_structure
    except ImportError:
        return None
    return song_structure(analysis)


def predicted_seam_costs(analysis, joins: np.ndarray) -> np.ndarray:
    """``rl_editor.audio.jumps.seam_cost`` of each splice (NaN when the project has no such function)."""
    try:
        from rl_editor.audio.jumps import seam_cost
    except ImportError:
        return np.full(len(joins), np.nan)
    return np.asarray(seam_cost(analysis, joins[:, 0], joins[:, 1]), dtype=np.float64).reshape(-1)


def musical_cut_count(analysis, actions: np.ndarray) -> tuple[int, int, str]:
    """Cuts, how many remove whole phrases or end on a section start, and the definition used."""
    runs = cut_runs(actions)
    n = analysis.n_beats
    structure = structure_or_none(analysis)
    if structure is not None:
        phrases = set(np.asarray(structure.phrase_start_beats).tolist()) | {n}
        sections = set(np.asarray(structure.section_start_beats).tolist())
        aligned = sum((a in phrases and b in phrases) or b in sections for a, b in runs)
        return len(runs), aligned, "whole phrases or ending on a section start (rl_editor.audio.structure)"
    downbeat = np.asarray(analysis.beat_in_bar) == 0
    bar_at = np.concatenate([np.cumsum(downbeat) - 1, [int(downbeat.sum())]])  # bar index of each beat, and the end
    on_bar = np.append(downbeat, True)
    aligned = sum(on_bar[a] and on_bar[b] and (bar_at[b] - bar_at[a]) % 4 == 0 for a, b in runs)
    return len(runs), aligned, "from a downbeat to a downbeat, a multiple of 4 bars (no song structure module)"


def editorial_cut_count(analysis, actions: np.ndarray) -> int:
    """Cuts spanning a multiple of 4 bars or ending on a section boundary (0 without a structure module)."""
    structure = structure_or_none(analysis)
    if structure is None:
        return 0
    from rl_editor.audio.structure import cut_alignment

    alignment = cut_alignment(structure, actions)
    return 0 if alignment["n_cuts"] == 0 else int(round(alignment["n_cuts"] * alignment["four_bar_or_section_share"]))


def edits_from_manifest(path: Path, per_song: int) -> list[EditToMeasure]:
    from rl_editor.generate.manifest import Manifest

    manifest = Manifest.load(path)
    edits = []
    for entry in manifest.songs:
        for cand in entry.candidates[:per_song]:
            edits.append(EditToMeasure(entry.song_id, manifest.resolve(entry.song), np.asarray(cand.actions)))
    return edits


def edits_from_policy(
    trainer, songs: list[Path], per_song: int, seed: int, targets: list[float] | None = None
) -> list[EditToMeasure]:
    """``per_song`` edits of each song at the policy's own length, or with ``targets`` one edit per target
    (temperature 0.5), trimmed to it."""
    from rl_editor.audio import analyze_song

    if targets:
        per_song, temperatures = len(targets), [0.5] * len(targets)
    else:
        temperatures = [0.5, 1.0][:per_song] + [0.7] * max(0, per_song - 2)
    edits = []
    for path in songs:
        analysis = analyze_song(path)
        seeds = [seed + k for k in range(per_song)]
        sampled = (
            trainer.generate_edits(analysis, temperatures, seeds, targets)
            if targets
            else trainer.generate_edits(analysis, temperatures, seeds)
        )
        edits += [EditToMeasure(analysis.song_id, path, actions) for actions in sampled]
    return edits


def trained_here(songs: list[Path], n_train: int, episodes: int, seed: int):
    """A small iteration-1 policy trained on ``n_train`` of ``songs``; returns it and the held-out songs."""
    from rl_editor.audio import analyze_song
    from rl_editor.policy import PolicyConfig, PPOTrainer

    step = max(len(songs) // max(n_train, 1), 1)
    train = songs[::step][:n_train]
    held_out = [p for p in songs if p not in train]
    print(f"training an iteration-1 policy for {episodes} episodes on {[p.stem for p in train]}", file=sys.stderr)
    trainer = PPOTrainer(PolicyConfig(seed=seed))
    trainer.train(episodes, analyses=[analyze_song(p) for p in train], progress=False)
    return trainer, held_out


def measure(edits: list[EditToMeasure]) -> dict[str, SongTally]:
    from rl_editor.audio import analyze_song, load_audio
    from rl_editor.audio.render import plan_splices, render_edit
    from rl_editor.audio.splice import SpliceConfig
    from rl_editor.edit import Edit

    renders = {"off": SpliceConfig.plain(), "on": SpliceConfig()}
    tallies: dict[str, SongTally] = {}
    by_song: dict[Path, list[EditToMeasure]] = {}
    for e in edits:
        by_song.setdefault(e.song_path, []).append(e)
    for path, song_edits in by_song.items():
        analysis = analyze_song(path)
        source = load_audio(path)
        for e in song_edits:
            tally = tallies.setdefault(e.song_id, SongTally())
            times, is_splice, on_phrase, joins = edit_boundaries(analysis, e.actions, source.sample_rate)
            for mode, config in renders.items():
                clip = render_edit(source, analysis, e.actions, splices=config)
                values = boundary_scores(*frame_features(clip.samples, clip.sample_rate), times)
                values["step"] = sample_steps(clip.samples, clip.sample_rate, times)
                scores = BoundaryScores(values, is_splice)
                tally.scores[mode].append(scores.normalised_score())
                for name in COMPONENTS:
                    tally.components[mode][name].append(scores.normalised_score_of(name))
            points = plan_splices(source, analysis, e.actions)
            tally.slides_ms.append(points.offsets / source.sample_rate * 1e3)
            tally.crossfades_ms.append(points.crossfades / source.sample_rate * 1e3)
            tally.labels.append(is_splice)
            tally.predicted_seams.append(predicted_seam_costs(analysis, joins[is_splice]))
            tally.on_phrase.append(on_phrase)
            tally.edits += 1
            tally.output_seconds += Edit(e.song_id, e.actions).duration_seconds(analysis.beat_durations_s)
            tally.splices += len(points.offsets)
            n_cuts, aligned, definition = musical_cut_count(analysis, e.actions)
            tally.cuts += n_cuts
            tally.phrase_cuts += aligned
            tally.four_bar_or_section_cuts += editorial_cut_count(analysis, e.actions)
            _DEFINITIONS.add(definition)
    return tallies


_DEFINITIONS: set[str] = set()


def auc_of(scores: list[np.ndarray], labels: list[np.ndarray]) -> float:
    s, y = np.concatenate(scores), np.concatenate(labels)
    return auc(s[y], s[~y])


BOOTSTRAP_DRAWS = 300


def bootstrap_difference(
    off: list[np.ndarray], on: list[np.ndarray], labels: list[np.ndarray], seed: int = 0
) -> tuple[float, float]:
    """95% interval of AUC(on) - AUC(off), resampling whole edits (both renders of an edit stay paired)."""
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(BOOTSTRAP_DRAWS):
        pick = rng.integers(0, len(labels), size=len(labels))
        y = [labels[i] for i in pick]
        if not any(v.any() for v in y):
            continue
        differences.append(auc_of([on[i] for i in pick], y) - auc_of([off[i] for i in pick], y))
    return float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))


def print_table(tallies: dict[str, SongTally]) -> None:
    header = (
        f"{'song':<22} {'edits':>5} {'out min':>7} {'splices/min':>11} {'AUC off':>8} {'AUC on':>7} "
        f"{'musical cuts':>12}"
    )
    print(header)
    print("-" * len(header))
    for song_id, t in sorted(tallies.items()):
        share = f"{t.phrase_cuts}/{t.cuts}"
        print(
            f"{song_id[:22]:<22} {t.edits:>5} {t.output_seconds / 60:>7.1f} "
            f"{t.splices / (t.output_seconds / 60):>11.1f} {auc_of(t.scores['off'], t.labels):>8.3f} "
            f"{auc_of(t.scores['on'], t.labels):>7.3f} {share:>12}"
        )
    everything = list(tallies.values())
    labels = [y for t in everything for y in t.labels]
    minutes = sum(t.output_seconds for t in everything) / 60
    n_splices = sum(t.splices for t in everything)
    n_natural = int(sum((~y).sum() for y in labels))
    cuts, musical = sum(t.cuts for t in everything), sum(t.phrase_cuts for t in everything)
    print("-" * len(header))
    print(
        f"{'all':<22} {sum(t.edits for t in everything):>5} {minutes:>7.1f} {n_splices / minutes:>11.1f} "
        f"{auc_of([s for t in everything for s in t.scores['off']], labels):>8.3f} "
        f"{auc_of([s for t in everything for s in t.scores['on']], labels):>7.3f} {cuts and musical / cuts:>12.1%}"
    )
    print(f"\nboundaries: {int(sum(y.sum() for y in labels))} splices, {n_natural} natural")
    off = [x for t in everything for x in t.scores["off"]]
    on = [x for t in everything for x in t.scores["on"]]
    low, high = bootstrap_difference(off, on, labels)
    print(
        f"AUC lined-up minus plain: {auc_of(on, labels) - auc_of(off, labels):+.3f} "
        f"(95% interval {low:+.3f} to {high:+.3f}, {BOOTSTRAP_DRAWS} bootstrap draws of whole edits)"
    )
    for mode, label in (("off", "plain render (10 ms equal-power crossfades)"), ("on", "lined-up render (default)")):
        parts = ", ".join(
            f"{name} {auc_of([s for t in everything for s in t.components[mode][name]], labels):.3f}"
            for name in COMPONENTS
        )
        print(f"AUC by component, {label}: {parts}")
    splice_mask = np.concatenate(labels)
    ratios = {
        mode: float(
            np.exp(np.median(np.concatenate([s for t in everything for s in t.components[mode]["step"]])[splice_mask]))
        )
        for mode in ("off", "on")
    }
    print(
        f"sample step at a splice over the median natural boundary's (median over splices): "
        f"plain {ratios['off']:.2f}x, lined-up {ratios['on']:.2f}x"
    )
    predicted = np.concatenate([p for t in everything for p in t.predicted_seams])
    heard = np.concatenate([x for t in everything for x in t.scores["on"]])[splice_mask]
    if predicted.size > 2 and np.all(np.isfinite(predicted)):
        from scipy.stats import spearmanr

        print(
            f"rank correlation of the policy's seam cost (rl_editor.audio.jumps.seam_cost, from the analysis) "
            f"with each splice's score here, lined-up render: {spearmanr(predicted, heard).statistic:.2f} "
            f"over {predicted.size} splices"
        )
    slides = np.abs(np.concatenate([s for t in everything for s in t.slides_ms]))
    fades = np.concatenate([s for t in everything for s in t.crossfades_ms])
    print(
        f"lined-up render: |slide| median {np.median(slides):.1f} ms "
        f"(90th percentile {np.percentile(slides, 90):.1f}); "
        f"crossfades "
        + ", ".join(
            f"{ms:.0f} ms {np.mean(np.isclose(fades, ms, atol=0.5)):.0%}"
            for ms in sorted(set(np.round(fades).tolist()))
        )
    )
    print(f"musical cuts: {cuts and musical / cuts:.1%} of {cuts} cuts ({'; '.join(sorted(_DEFINITIONS))})")
    editorial = sum(t.four_bar_or_section_cuts for t in everything)
    print(
        f"cuts spanning a multiple of 4 bars or ending on a section boundary: {cuts and editorial / cuts:.1%} of {cuts}"
    )
    on_phrase = np.concatenate([p for t in everything for p in t.on_phrase])
    for mode, label in (("off", "plain"), ("on", "lined-up")):
        values = np.concatenate([x for t in everything for x in t.scores[mode]])
        print(
            f"AUC against natural boundaries where the song itself enters a phrase "
            f"({int((on_phrase & ~splice_mask).sum())} of them), {label} render: "
            f"{auc(values[splice_mask], values[~splice_mask & on_phrase]):.3f}"
        )
    natural_entries = on_phrase & ~splice_mask
    for mode, label in (("off", "plain"), ("on", "lined-up")):
        values = np.concatenate([x for t in everything for x in t.scores[mode]])
        print(
            f"for scale: AUC of the song's own phrase entries against its other natural boundaries, {label} render: "
            f"{auc(values[natural_entries], values[~splice_mask & ~on_phrase]):.3f} "
            f"(about what splices that sound exactly like phrase entries would score on the headline AUC)"
        )
    print("AUC 0.5: splices indistinguishable from the song's own beat-to-beat changes; 1: every splice stands out")
    print("(every splice of a phrase-level edit enters a phrase, where songs change more than between other beats;")
    print(" the AUC against the song's own phrase entries asks whether a splice sounds like one of those)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, help="a rl-editor generate manifest.json (or its folder)")
    parser.add_argument("--policy", type=Path, help="a policy checkpoint to sample edits from (with --songs)")
    parser.add_argument("--songs", type=Path, default=None, help="folder of songs (default $RL_EDITOR_MUSIC_DIR)")
    parser.add_argument("--edits-per-song", type=int, default=6)
    parser.add_argument("--train-songs", type=int, default=4, help="songs the policy trained here learns on")
    parser.add_argument("--episodes", type=int, default=300, help="episodes of the policy trained here")
    parser.add_argument("--max-songs", type=int, default=0, help="measure at most this many songs (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--targets",
        default="",
        help="sample one edit per song at each of these lengths (shares, e.g. 0.4,0.55,0.7,0.85) "
        "instead of --edits-per-song at the policy's own length",
    )
    parser.add_argument("--quick", action="store_true", help="3 measured songs, 1 edit each, 100 episodes")
    args = parser.parse_args()
    print("command: " + " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv))
    if args.quick:
        args.edits_per_song, args.episodes, args.max_songs = 1, 100, args.max_songs or 3
    started = time.perf_counter()
    if args.manifest is not None:
        edits = edits_from_manifest(args.manifest, args.edits_per_song)
        source = f"manifest {args.manifest}"
    else:
        from rl_editor.audio.io import find_songs
        from rl_editor.policy import PPOTrainer

        music_dir = os.environ.get("RL_EDITOR_MUSIC_DIR")
        folder = args.songs or (Path(music_dir) if music_dir else None)
        if folder is None:
            parser.error("give --manifest, or --songs (or set RL_EDITOR_MUSIC_DIR)")
        songs = [song.path for song in find_songs(folder)]
        if args.policy is not None:
            trainer, measured = PPOTrainer.from_checkpoint(args.policy), songs
            source = f"policy {args.policy} on {len(songs)} songs"
        else:
            trainer, measured = trained_here(songs, args.train_songs, args.episodes, args.seed)
            source = (
                f"iteration-1 policy trained here ({args.episodes} episodes on {args.train_songs} songs), "
                f"sampled on {len(measured)} held-out songs"
            )
        if args.max_songs:
            measured = measured[: args.max_songs]
        targets = [float(t) for t in args.targets.split(",")] if args.targets else None
        edits = edits_from_policy(trainer, measured, args.edits_per_song, args.seed, targets)
        if targets:
            source += f", one edit per target {args.targets} (T 0.5)"
    print(f"edits: {len(edits)} from {source}")
    tallies = measure(edits)
    print_table(tallies)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Candidate edits of one song: seeds, batched generation, de-duplication, rendering.

The unit of work is one song (:func:`process_song`): analyse it (cached), ask
the policy for ``len(temperatures) * per_temperature`` edits in one batched
call, keep each distinct action sequence once, render and write its audio, and
return the song's manifest entry. The orchestrator in
:mod:`rl_editor.generate.run` farms songs out to a process pool or a Ray
cluster and writes the manifest.

The same building blocks serve a hand-written loop in the style of the system
description::

    from pathlib import Path
    from rl_editor.audio import analyze_song, load_audio
    from rl_editor.generate import Manifest, candidate_seed, new_song_entry, write_candidate
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint("models/policy_final.pt")
    manifest = Manifest(root=Path("eval_outputs").resolve())
    for song_path in sorted(Path("songs").glob("*.wav")):
        analysis = analyze_song(song_path)
        source = load_audio(song_path)
        entry = new_song_entry(analysis, song_path, manifest.root)
        for temp in [0.1, 0.3, 0.5, 0.7, 0.9]:
            seed = candidate_seed(0, analysis.song_id, temp, 0)
            actions = policy.generate_edit(analysis, temperature=temp, seed=seed)
            write_candidate(entry, manifest.root, analysis, source, actions,
                            temperature=temp, seed=seed, policy=policy.meta.version)
        manifest.songs.append(entry)
        manifest.save()
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rl_editor.audio.io import find_songs  # noqa: F401  re-exported: rl_editor.generate.find_songs is the same function
from rl_editor.edit import Edit, validate_actions
from rl_editor.errors import RlEditorError
from rl_editor.generate.diversity import song_diversity
from rl_editor.generate.manifest import Candidate, SongEntry

DEFAULT_TEMPERATURES: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
SONGS_DIR_KEY = "songs_dir"  # a song entry's record of the folder ``generate --songs`` read it from


class GenerateError(RlEditorError):
    """Candidate generation cannot go on (bad settings, an output folder made by other settings...)."""


class _Versioned(Protocol):
    version: str


@runtime_checkable
class EditGenerator(Protocol):
    """Anything that rolls out edits of a song; ``PPOTrainer`` is one.

    ``generate_edits(analysis, temperatures, seeds, targets)`` returns one int
    action array of shape ``(analysis.n_beats,)`` per (temperature, seed,
    target) triple (a target is a length share of the song, or None for the
    generator's own choice; ``targets`` is left out when every target is None,
    so a generator without length control works too; ``content_noise`` is
    passed only when content variants are asked for), and ``meta.version``
    names the model (written into every candidate).
    """

    meta: _Versioned

    def generate_edits(
        self,
        analysis: Any,
        temperatures: list[float],
        seeds: list[int],
        targets: list[float | None] = ...,
        content_noise: float | list[float] = ...,
    ) -> list[np.ndarray]: ...


@dataclass
class GenerateConfig:
    """Settings of one generation run; the CLI flags map to these one to one.

    Parameters
    ----------
    policy_path : path
        Policy checkpoint (one model file, see ``rl_editor.registry``).
    songs_dir : path
        Folder of songs (wav, flac, ogg, mp3), searched recursively.
    out_dir : path
        Where ``manifest.json`` and ``<song_id>/<edit_id>.wav`` go.
    temperatures : sequence of float
        Sampling temperatures (0 is greedy).
    targets : sequence of float or None
        Edit lengths as shares of each song; None lets the policy choose. Every
        temperature is combined with every target.
    per_temperature : int
        Candidates sampled at each (temperature, target) (``k = 0 .. per_temperature-1``).
    content_variants : int
        Further candidates at each target, sampled at temperature 1 with ``content_noise``
        (:meth:`~rl_editor.policy.trainer.PPOTrainer.generate_edits`): at the same length they
        remove different sections, so a judgment between two of them is about material, not length.
    content_noise : float
        Spread (nats) of the content variants' random preference for cutting each section.
    content_targets : sequence of float or None, optional
        The targets that get content variants (default: every target).
    limit : int, optional
        Use only the first ``limit`` songs (sorted by path).
    workers : int, optional
        Worker processes (default: all cores); 1 runs in this process. Workers
        are started with ``spawn``, so a script calling this with more than one
        worker needs the usual ``if __name__ == "__main__":`` guard.
    ray_address : str, optional
        Run on Ray instead: a cluster address, or ``"auto"`` for a local Ray
        (or the Ray this process already started).
    seed : int
        Base seed; each candidate's seed follows from it, the song id, the
        temperature and ``k`` (see :func:`candidate_seed`).
    render_audio : bool
        Write each candidate's audio. Simulated raters judge from the song's
        analysis and the actions alone, so a loop without people skips the
        audio (durations then come from the beat grid; ``path`` names where
        the audio would go).
    progress : bool
        Show a tqdm bar over songs and, as they happen, one line per skipped
        song and per song whose candidates all came out identical.
    """

    policy_path: str | Path
    songs_dir: str | Path
    out_dir: str | Path
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES
    targets: Sequence[float | None] = (None,)
    per_temperature: int = 1
    content_variants: int = 0
    content_noise: float = 2.0
    content_targets: Sequence[float | None] | None = None
    limit: int | None = None
    workers: int | None = None
    ray_address: str | None = None
    seed: int = 0
    render_audio: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        self.policy_path = Path(self.policy_path)
        self.songs_dir = Path(self.songs_dir)
        self.out_dir = Path(self.out_dir)
        self.temperatures = tuple(float(t) for t in self.temperatures)
        if not self.temperatures:
            raise GenerateError("temperatures: give at least one temperature, e.g. 0.1,0.5,0.9")
        if any(not np.isfinite(t) or t < 0 for t in self.temperatures):
            raise GenerateError(f"temperatures: each must be a number >= 0, got {list(self.temperatures)}")
        self.targets = tuple(None if t is None else float(t) for t in self.targets)
        if not self.targets:
            raise GenerateError("targets: give at least one target length, e.g. 0.4,0.55,0.7 (or auto)")
        if any(t is not None and not (np.isfinite(t) and 0 < t <= 1) for t in self.targets):
            raise GenerateError(
                f"targets: each must be a share of the song in (0, 1] or auto, got {list(self.targets)}"
            )
        if self.per_temperature < 1:
            raise GenerateError(f"per_temperature: must be at least 1, got {self.per_temperature}")
        if self.content_variants < 0 or not (np.isfinite(self.content_noise) and self.content_noise > 0):
            raise GenerateError(
                f"content_variants must be >= 0 and content_noise > 0, got {self.content_variants} "
                f"and {self.content_noise}"
            )
        if self.limit is not None and self.limit < 1:
            raise GenerateError(f"limit: must be at least 1, got {self.limit}")
        if self.workers is not None and self.workers < 1:
            raise GenerateError(f"workers: must be at least 1, got {self.workers}")


@dataclass(frozen=True)
class CandidateSpec:
    """One requested candidate: its temperature, index ``k``, seed, target length (None: the policy's choice)
    and content noise (0: the policy as it is; see :attr:`GenerateConfig.content_variants`)."""

    temperature: float
    k: int
    seed: int
    target: float | None = None
    content_noise: float = 0.0

    def edit_id(self, song_id: str, actions: Sequence[int] | np.ndarray, policy: str) -> str:
        """``<song>-t<temperature>[-L<target>][-c<noise>]-<k>-<digest>``; the digest of the policy version
        and the actions keeps ids of different runs apart when their edits meet in one database."""
        length = "" if self.target is None else f"-L{self.target:g}"
        noise = f"-c{self.content_noise:g}" if self.content_noise else ""
        return f"{song_id}-t{self.temperature:g}{length}{noise}-{self.k}-{edit_digest(actions, policy)}"


def edit_digest(actions: Sequence[int] | np.ndarray, policy: str) -> str:
    """Eight hex digits identifying an edit's actions and the policy version that made them."""
    payload = f"{policy}|{','.join(str(int(a)) for a in actions)}".encode()
    return hashlib.sha256(payload).hexdigest()[:8]


def candidate_seed(base_seed: int, song_id: str, temperature: float, k: int, target: float | None = None) -> int:
    """Seed of one candidate, a pure function of its identity (reruns give the same edits).

    Returns an int in ``[0, 2**31)``.
    """
    length = "" if target is None else f"|{float(target)!r}"
    key = f"{int(base_seed)}|{song_id}|{float(temperature)!r}|{int(k)}{length}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little") & 0x7FFFFFFF


CONTENT_VARIANT_TEMPERATURE = 1.0
CONTENT_VARIANT_K0 = 1000  # content variants count k from here, so their seeds never meet the others'


def plan_candidates(
    song_id: str,
    temperatures: Sequence[float],
    per_temperature: int,
    base_seed: int,
    targets: Sequence[float | None] = (None,),
    content_variants: int = 0,
    content_noise: float = 2.0,
    content_targets: Sequence[float | None] | None = None,
) -> list[CandidateSpec]:
    """The candidates to request for one song: every temperature with every target, ``per_temperature`` each,
    then ``content_variants`` content variants at every target of ``content_targets`` (default ``targets``)."""
    plain = [
        CandidateSpec(float(t), k, candidate_seed(base_seed, song_id, t, k, target), target)
        for target in targets
        for t in temperatures
        for k in range(per_temperature)
    ]
    t = CONTENT_VARIANT_TEMPERATURE
    variants = [
        CandidateSpec(t, k, candidate_seed(base_seed, song_id, t, k, target), target, float(content_noise))
        for target in (targets if content_targets is None else content_targets)
        for k in range(CONTENT_VARIANT_K0, CONTENT_VARIANT_K0 + content_variants)
    ]
    return plain + variants


def dedupe_actions(
    specs: Sequence[CandidateSpec], actions: Sequence[np.ndarray]
) -> list[tuple[CandidateSpec, np.ndarray, list[CandidateSpec]]]:
    """Group identical action sequences.

    Returns ``(first spec, actions, other specs that produced the same actions)``
    per distinct sequence, in the order the sequences first appear.
    """
    groups: dict[bytes, tuple[CandidateSpec, np.ndarray, list[CandidateSpec]]] = {}
    for spec, acts in zip(specs, actions):
        key = acts.tobytes()
        if key in groups:
            groups[key][2].append(spec)
        else:
            groups[key] = (spec, acts, [])
    return list(groups.values())


def new_song_entry(analysis: Any, song_path: str | Path, manifest_root: str | Path) -> SongEntry:
    """An empty manifest entry for one analysed song (``song`` relative to the manifest folder)."""
    from rl_editor.audio.structure import song_structure

    extra: dict[str, Any] = {
        "song_sha256": analysis.content_sha256,
        "tempo_bpm": round(float(analysis.tempo_bpm), 2),
        "beats_per_bar": int(analysis.beats_per_bar),
        "structure": song_structure(analysis).to_json(),
    }
    return SongEntry(
        song=Path(os.path.relpath(Path(song_path).resolve(), Path(manifest_root).resolve())).as_posix(),
        song_id=analysis.song_id,
        duration_seconds=round(float(analysis.duration_seconds), 4),
        beats=[round(float(t), 4) for t in analysis.beat_times_s],
        downbeats=[round(float(t), 4) for t in analysis.downbeat_times_s],
        **extra,
    )


def candidate_path(song_id: str, edit_id: str) -> str:
    """Where a candidate's audio goes, relative to the manifest folder."""
    return f"{song_id}/{edit_id}.wav"


def render_candidate_audio(
    manifest_root: Path, analysis: Any, source: Any, candidate: Candidate, timings: dict[str, float] | None = None
) -> float:
    """Render ``candidate.actions`` of ``source`` and write it to ``candidate.path``; return its seconds."""
    from rl_editor.audio import render_edit, save_audio

    t0 = time.perf_counter()
    clip = render_edit(source, analysis, np.asarray(candidate.actions, dtype=np.int8))
    t1 = time.perf_counter()
    out = Path(manifest_root) / candidate.path
    out.parent.mkdir(parents=True, exist_ok=True)
    save_audio(out, clip)
    t2 = time.perf_counter()
    if timings is not None:
        timings["render"] = timings.get("render", 0.0) + t1 - t0
        timings["write"] = timings.get("write", 0.0) + t2 - t1
    return float(clip.duration_seconds)


def write_candidate(
    entry: SongEntry,
    manifest_root: str | Path,
    analysis: Any,
    source: Any,
    actions: np.ndarray,
    *,
    temperature: float,
    seed: int,
    policy: str,
    k: int = 0,
    edit_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Candidate:
    """Render one edit, write its wav beside the manifest and append it to ``entry``.

    Parameters
    ----------
    entry : SongEntry
        The song's manifest entry (from :func:`new_song_entry`).
    manifest_root : path
        Folder of ``manifest.json``; the wav goes to ``<song_id>/<edit_id>.wav`` in it.
    analysis : SongAnalysis
        The song's analysis (beat grid used for splicing).
    source : AudioClip or path
        The original audio (an ``AudioClip`` avoids decoding it again per candidate).
    actions : ndarray of int, shape (n_beats,)
        0 keep, 1 cut, 2 repeat per beat.
    temperature, seed, policy, k
        How the edit was made (``policy`` is the model version).

    Returns
    -------
    Candidate
        With ``duration`` the rendered length in seconds.
    """
    actions = validate_actions(actions, analysis.n_beats)
    edit_id = edit_id or CandidateSpec(float(temperature), k, seed).edit_id(entry.song_id, actions, policy)
    cand = Candidate(
        edit_id=edit_id,
        temperature=float(temperature),
        path=candidate_path(entry.song_id, edit_id),
        duration=0.0,
        actions=[int(a) for a in actions],
        policy=policy,
        seed=int(seed),
        **{"k": int(k), **(extra or {})},
    )
    cand.duration = round(render_candidate_audio(Path(manifest_root), analysis, source, cand), 4)
    entry.candidates.append(cand)
    return cand


@dataclass
class SongTask:
    """One song's work, sent to a worker (picklable).

    ``existing`` is the song's manifest entry when only missing audio files
    need to be rendered again (its actions are reused, the policy is not run,
    unless the song's content or beat grid has changed since).
    """

    song_id: str
    song_path: str
    out_root: str
    temperatures: tuple[float, ...]
    per_temperature: int
    base_seed: int
    policy_version: str
    generation: dict[str, Any]
    existing: SongEntry | None = None
    targets: tuple[float | None, ...] = (None,)
    render_audio: bool = True
    content_variants: int = 0
    content_noise: float = 2.0
    content_targets: tuple[float | None, ...] | None = None
    songs_dir: str | None = None


@dataclass
class SongOutcome:
    """What a worker did for one song."""

    song_id: str
    song_path: str
    entry: SongEntry | None = None
    skipped_reason: str | None = None
    n_requested: int = 0
    n_rendered: int = 0
    rendered_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def all_identical(self) -> bool:
        return self.entry is not None and self.n_requested > 1 and len(self.entry.candidates) == 1


def _generate_entry(
    task: SongTask, generator: EditGenerator, analysis: Any, timings: dict[str, float]
) -> tuple[SongEntry, int]:
    specs = plan_candidates(
        task.song_id,
        task.temperatures,
        task.per_temperature,
        task.base_seed,
        task.targets,
        task.content_variants,
        task.content_noise,
        task.content_targets,
    )
    t0 = time.perf_counter()
    temperatures, seeds = [s.temperature for s in specs], [s.seed for s in specs]
    targets = [s.target for s in specs]
    if task.content_variants:  # only generators that take content noise are asked for variants
        actions = generator.generate_edits(
            analysis, temperatures, seeds, targets, content_noise=[s.content_noise for s in specs]
        )
    elif all(s.target is None for s in specs):  # generators that know no targets still work
        actions = generator.generate_edits(analysis, temperatures, seeds)
    else:
        actions = generator.generate_edits(analysis, temperatures, seeds, targets)
    timings["policy"] = time.perf_counter() - t0
    if len(actions) != len(specs):
        raise GenerateError(f"policy {task.policy_version}: returned {len(actions)} edits for {len(specs)} requests")
    actions = [validate_actions(a, analysis.n_beats) for a in actions]
    entry = new_song_entry(analysis, task.song_path, task.out_root)
    if task.songs_dir is not None:  # the folder the songs were read from: the feedback server's default library
        entry.extra[SONGS_DIR_KEY] = task.songs_dir
    entry.extra["generation"] = task.generation
    for spec, acts, others in dedupe_actions(specs, actions):
        extra: dict[str, Any] = {"k": spec.k, "target": spec.target}
        if spec.content_noise:
            extra["content_noise"] = spec.content_noise
        if others:
            extra["also_from"] = [
                {"temperature": o.temperature, "k": o.k, "seed": o.seed, "target": o.target} for o in others
            ]
        edit_id = spec.edit_id(task.song_id, acts, task.policy_version)
        entry.candidates.append(
            Candidate(
                edit_id=edit_id,
                temperature=spec.temperature,
                path=candidate_path(task.song_id, edit_id),
                duration=0.0,
                actions=[int(a) for a in acts],
                policy=task.policy_version,
                seed=spec.seed,
                **extra,
            )
        )
    if len(entry.candidates) == 1 and len(specs) > 1:
        entry.extra["identical_candidates"] = True
    return entry, len(specs)


def _same_song_and_beats(entry: SongEntry, analysis: Any) -> bool:
    """Whether an entry's stored actions still fit the song (same file content and beat grid)."""
    if entry.extra.get("song_sha256") != analysis.content_sha256 or len(entry.beats) != analysis.n_beats:
        return False
    return bool(np.allclose(entry.beats, analysis.beat_times_s, atol=1e-3))


def process_song(task: SongTask, generator: EditGenerator | None) -> SongOutcome:
    """Do one song's work: generate (or reuse) its candidates and write the missing audio.

    A song that cannot be analysed or decoded comes back with ``skipped_reason``
    (one line) instead of an entry; other errors propagate.
    """
    from rl_editor.audio import AnalysisError, analyze_song, load_audio

    outcome = SongOutcome(task.song_id, task.song_path)
    timings = outcome.timings
    root = Path(task.out_root)
    try:
        t0 = time.perf_counter()
        analysis = analyze_song(task.song_path, song_id=task.song_id)
        timings["analysis"] = time.perf_counter() - t0
        if task.existing is not None and _same_song_and_beats(task.existing, analysis):
            entry, outcome.n_requested = task.existing, 0
            missing = [c for c in entry.candidates if not (root / c.path).is_file()]
        else:
            # New candidates: render them all, replacing files an interrupted run may have left.
            if generator is None:
                raise GenerateError(f"{task.song_path}: needs new candidates but no policy was loaded")
            entry, outcome.n_requested = _generate_entry(task, generator, analysis, timings)
            missing = list(entry.candidates)
        if outcome.n_requested:
            entry.extra["diversity"] = song_diversity(
                [np.asarray(c.actions) for c in entry.candidates], analysis.beat_durations_s, analysis.duration_seconds
            )
        if not task.render_audio:
            durations = analysis.beat_durations_s
            for cand in entry.candidates:
                cand.duration = round(Edit(entry.song_id, np.asarray(cand.actions)).duration_seconds(durations), 4)
            missing = []
        if missing:
            t0 = time.perf_counter()
            source = load_audio(task.song_path)
            timings["decode"] = time.perf_counter() - t0
            for cand in missing:
                cand.duration = round(render_candidate_audio(root, analysis, source, cand, timings), 4)
                outcome.rendered_seconds += cand.duration
            outcome.n_rendered = len(missing)
    except AnalysisError as exc:
        outcome.skipped_reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return outcome
    outcome.entry = entry
    return outcome

"""The generation run: find songs, skip finished ones, farm the rest out, write the manifest.

A run is resumable: the manifest is rewritten atomically after every song, a
song whose entry and audio files all exist is skipped, and a song whose entry
exists but lost audio files only has those files rendered again (from the
stored actions, without running the policy). Whether audio is written is not
part of a run's settings: a run without audio (for simulated raters) followed
by one with audio renders the same candidates' files.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rl_editor.generate.candidates import (
    EditGenerator,
    GenerateConfig,
    GenerateError,
    SongOutcome,
    SongTask,
    find_songs,
)
from rl_editor.generate.diversity import diversity_line
from rl_editor.generate.manifest import Manifest, ManifestError, SongEntry
from rl_editor.generate.pool import GeneratorLoader, iter_in_process, iter_pool, load_policy

COST_PARTS = ("analysis", "policy", "decode", "render", "write")


@dataclass
class GenerateReport:
    """What a run did (the manifest plus counts, skips and where the time went)."""

    manifest: Manifest
    n_songs: int = 0
    generated: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    already_complete: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    identical: list[str] = field(default_factory=list)
    n_requested: int = 0
    n_rendered: int = 0
    rendered_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COST_PARTS, 0.0))
    elapsed_seconds: float = 0.0

    def add(self, outcome: SongOutcome, was_repair: bool) -> None:
        if outcome.skipped_reason is not None:
            self.skipped.append((outcome.song_path, outcome.skipped_reason))
            return
        (self.repaired if was_repair and outcome.n_requested == 0 else self.generated).append(outcome.song_id)
        if outcome.all_identical:
            self.identical.append(outcome.song_id)
        self.n_requested += outcome.n_requested
        self.n_rendered += outcome.n_rendered
        self.rendered_seconds += outcome.rendered_seconds
        for part, seconds in outcome.timings.items():
            self.timings[part] = self.timings.get(part, 0.0) + seconds

    def summary_lines(self) -> list[str]:
        """Human-readable summary: one line of totals, then skips and identical-candidate songs."""
        unique = sum(len(self.manifest.song(s).candidates) for s in self.generated)
        lines = [
            f"{len(self.generated)} songs generated ({self.n_requested} candidates requested, {unique} distinct), "
            f"{len(self.repaired)} repaired, {len(self.already_complete)} already complete, "
            f"{len(self.skipped)} skipped; {self.n_rendered} audio files written "
            f"({self.rendered_seconds / 60:.1f} min of audio) in {self.elapsed_seconds:.1f} s -> {self.manifest.path}"
        ]
        if self.generated or self.repaired:
            parts = ", ".join(f"{part} {seconds:.1f}" for part, seconds in self.timings.items())
            lines.append(f"time per part (s, summed over workers): {parts}")
        for song_id in self.generated:
            figures = self.manifest.song(song_id).extra.get("diversity")
            if figures:
                lines.append("  " + diversity_line(song_id, figures))
        if self.identical:
            lines.append(
                f"warning: all candidates identical for {len(self.identical)} songs: {', '.join(self.identical)}"
            )
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} songs that could not be read:")
            lines.extend(f"  {_skip_line(path, reason)}" for path, reason in self.skipped)
        return lines


def _skip_line(path: str, reason: str) -> str:
    """``path: reason``, without naming the file twice when the reason already does."""
    return reason if path in reason else f"{path}: {reason}"


def _generation_settings(config: GenerateConfig, policy_version: str) -> dict:
    return {
        "policy": policy_version,
        "temperatures": list(config.temperatures),
        "targets": list(config.targets),
        "per_temperature": config.per_temperature,
        "seed": config.seed,
        **(
            {
                "content_variants": config.content_variants,
                "content_noise": config.content_noise,
                "content_targets": None if config.content_targets is None else list(config.content_targets),
            }
            if config.content_variants
            else {}
        ),
    }


def _load_existing(out_dir: Path, settings: dict) -> Manifest:
    if not (out_dir / "manifest.json").is_file():
        return Manifest(root=out_dir.resolve())
    manifest = Manifest.load(out_dir)
    for entry in manifest.songs:
        made_with = entry.extra.get("generation")
        if made_with != settings:
            differing = sorted(
                k for k in settings if not isinstance(made_with, dict) or made_with.get(k) != settings[k]
            )
            raise GenerateError(
                f"{manifest.path}: song {entry.song_id!r} was generated with other settings "
                f"({', '.join(differing)} differ); write to a new --out folder to keep both"
            )
    return manifest


def _is_complete(manifest: Manifest, entry: SongEntry, render_audio: bool) -> bool:
    """Whether a song needs no work: it has candidates and, when this run renders, all their audio."""
    if not entry.candidates:
        return False
    return not render_audio or all(manifest.resolve(c.path).is_file() for c in entry.candidates)


def _say(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _outcomes(
    config: GenerateConfig, tasks: list[SongTask], generator: EditGenerator | None, loader: GeneratorLoader
) -> Iterator[SongOutcome]:
    workers = config.workers or os.cpu_count() or 1
    if not config.ray_address and (workers == 1 or len(tasks) <= 1):
        return iter_in_process(tasks, generator)
    # Biggest files first, so no worker is left finishing a long song alone at the end.
    tasks = sorted(tasks, key=lambda t: -_file_size(t.song_path))
    if config.ray_address:
        from rl_editor.generate.ray_backend import iter_ray

        return iter_ray(tasks, Path(config.policy_path), config.ray_address, config.workers, loader)
    return iter_pool(tasks, Path(config.policy_path), workers, loader)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def run_generation(config: GenerateConfig, *, loader: GeneratorLoader = load_policy) -> GenerateReport:
    """Generate candidates for every song that lacks them and write the manifest.

    Parameters
    ----------
    config : GenerateConfig
        What to generate and where (see its docstring).
    loader : callable, optional
        ``loader(policy_path) -> EditGenerator``; the default restores a
        ``PPOTrainer``. It must be a module-level function (workers import it).

    Returns
    -------
    GenerateReport
        The manifest (also written to ``out_dir/manifest.json``) and what was done.
    """
    start = time.perf_counter()
    out_dir = Path(config.out_dir).resolve()
    songs = find_songs(config.songs_dir, exclude=out_dir, limit=config.limit)
    if not songs:
        raise GenerateError(f"{config.songs_dir}: no audio files (wav, flac, ogg, mp3) found")
    generator = loader(Path(config.policy_path))
    settings = _generation_settings(config, generator.meta.version)
    manifest = _load_existing(out_dir, settings)
    report = GenerateReport(manifest=manifest, n_songs=len(songs))
    existing = {e.song_id: e for e in manifest.songs}
    order = {song_id: i for i, (song_id, _) in enumerate(songs)}

    tasks: list[SongTask] = []
    for song_id, path in songs:
        entry = existing.get(song_id)
        if entry is not None and manifest.resolve(entry.song) != path.resolve():
            raise GenerateError(
                f"{manifest.path}: song id {song_id!r} already names {entry.song}, not {path}; "
                "write to a new --out folder for another folder of songs"
            )
        if entry is not None and _is_complete(manifest, entry, config.render_audio):
            report.already_complete.append(song_id)
            continue
        tasks.append(
            SongTask(
                song_id=song_id,
                song_path=str(path.resolve()),
                out_root=str(out_dir),
                temperatures=tuple(config.temperatures),
                per_temperature=config.per_temperature,
                base_seed=config.seed,
                policy_version=generator.meta.version,
                generation=settings,
                existing=entry if entry is not None and entry.candidates else None,
                targets=tuple(config.targets),
                render_audio=config.render_audio,
                content_variants=config.content_variants,
                content_noise=config.content_noise,
                content_targets=None if config.content_targets is None else tuple(config.content_targets),
                songs_dir=str(Path(config.songs_dir).resolve()),
            )
        )
    manifest.root.mkdir(parents=True, exist_ok=True)
    if not manifest.path.exists():
        manifest.save()

    from tqdm import tqdm

    bar = tqdm(
        total=len(songs),
        initial=len(report.already_complete),
        unit="song",
        desc="generating",
        disable=not config.progress,
        file=sys.stderr,
    )
    repairs = {t.song_id for t in tasks if t.existing is not None}
    try:
        for outcome in _outcomes(config, tasks, generator, loader):
            report.add(outcome, outcome.song_id in repairs)
            if outcome.entry is not None:
                _put_entry(manifest, outcome.entry, order)
                manifest.save()
                if outcome.all_identical and config.progress:
                    _say(f"warning: {outcome.song_id}: all {outcome.n_requested} candidates are identical")
            elif config.progress:
                _say(f"skipped {_skip_line(outcome.song_path, outcome.skipped_reason or '')}")
            bar.update(1)
    finally:
        bar.close()
    report.elapsed_seconds = time.perf_counter() - start
    return report


def _put_entry(manifest: Manifest, entry: SongEntry, order: dict[str, int]) -> None:
    """Insert or replace a song's entry, keeping songs in path order (songs from earlier runs first)."""
    songs = [e for e in manifest.songs if e.song_id != entry.song_id] + [entry]
    manifest.songs[:] = sorted(songs, key=lambda e: (order.get(e.song_id, -1), e.song_id))


def generate_candidates(config: GenerateConfig, *, loader: GeneratorLoader = load_policy) -> Manifest:
    """Generate candidate edits of every song in ``config.songs_dir``; return the manifest.

    Writes ``config.out_dir/<song_id>/<edit_id>.wav`` and
    ``config.out_dir/manifest.json``. See :func:`run_generation` for the
    report of what was done.

    Examples
    --------
    >>> manifest = generate_candidates(GenerateConfig("policy.pt", "songs", "eval_outputs"))  # doctest: +SKIP
    >>> manifest.songs[0].candidates[0].path  # doctest: +SKIP
    'demo_0/demo_0-t0.1-0-5f3a9c21.wav'
    """
    return run_generation(config, loader=loader).manifest


__all__ = ["GenerateReport", "run_generation", "generate_candidates", "ManifestError"]

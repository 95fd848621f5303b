"""``rl-editor edit``: what an end user runs with a trained policy.

Per song: sample ``best_of`` edits with the policy, rank them by the learned
reward model (:meth:`rl_editor.reward.model.RewardEnsemble.score`, which scores
edits from the song's cached per-beat features without rendering them), render
the best with :func:`rl_editor.audio.render_edit` and write it beside a JSON
file of its actions::

    out/<song_id>.wav
    out/<song_id>.json   song_id, actions, duration_seconds, splices (seconds out of and
                         into the source, and in the edit), the song's bars and sections,
                         target, temperature, policy and reward model versions,
                         reward score, every sampled edit

Without a reward model there is nothing to rank by, so one edit is sampled.
A target length (``--length``) is a share of the song (``0.55``, at most 1) or
a time (``3:30``, ``210s``); :func:`parse_length` turns it into a keep share,
which only a length-conditioned policy can take (a share outside the range it
was trained on is edited with a warning).
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.config import config_to_json
from rl_editor.errors import RlEditorError
from rl_editor.policy.length import format_time, outside_trained_range, target_share


class EditCommandError(RlEditorError):
    """Bad input to ``rl-editor edit``: a length, a song, or options that do not go together."""


def parse_length(text: str, duration_seconds: float) -> float:
    """The keep share (0-1] that ``--length TEXT`` asks for (:func:`rl_editor.policy.length.target_share`).

    Examples
    --------
    >>> parse_length("3:30", 300.0)
    0.7
    """
    return target_share(text, duration_seconds, what="--length", error=EditCommandError)


@dataclass
class EditConfig:
    """Settings of ``rl-editor edit``; its flags map to these.

    Attributes
    ----------
    policy : str
        Policy file (``rl-editor train-policy``).
    out_dir : str
        Folder of the rendered edits and their JSON.
    reward_model : str or None
        Reward model that ranks the sampled edits (None: one edit, unranked).
    best_of : int
        Edits sampled per song when a reward model ranks them.
    length : str or None
        Target length (:func:`parse_length`); None leaves it to the policy.
    temperature : float
        Sampling temperature (0 = greedy).
    content_noise : float
        With ``best_of`` > 1, half the samples get this random preference for cutting each section
        (nats; :meth:`~rl_editor.policy.trainer.PPOTrainer.generate_edits`), so the reward model chooses
        among edits that keep different material, not among copies of the policy's favourite.
    seed : int
        Seeds the sampling (same song, seed and settings, same edits).
    progress : bool
        A progress bar over the songs when there are several.
    bpm_range : (float, float) or None
        The songs' tempo range (BPM), a hint to the beat tracker
        (:func:`rl_editor.audio.analyze.analyze_song`).
    """

    policy: str
    out_dir: str = "edits"
    reward_model: str | None = None
    best_of: int = 4
    length: str | None = None
    temperature: float = 0.7
    content_noise: float = 2.0
    seed: int = 0
    progress: bool = True
    bpm_range: tuple[float, float] | None = None

    @property
    def edits_per_song(self) -> int:
        return self.best_of if self.reward_model else 1


@dataclass
class SampledEdit:
    """One sampled edit of a song and what the reward model made of it."""

    actions: np.ndarray
    seed: int
    duration_seconds: float
    n_splices: int
    reward: float | None = None
    reward_std: float | None = None
    content_noise: float = 0.0


@dataclass
class SongEdit:
    """The chosen edit of one song, the others sampled beside it, and the files written."""

    song_id: str
    song_path: str
    source_duration_seconds: float
    sampled: list[SampledEdit]
    chosen: int
    keep_share_target: float | None
    audio_path: Path | None = None
    json_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def best(self) -> SampledEdit:
        return self.sampled[self.chosen]

    def lines(self) -> list[str]:
        """``song: 2:41 of 3:45 (72%), 5 splices, reward 0.31`` per sampled edit, the chosen one marked."""
        out = [f"{self.song_id} ({format_time(self.source_duration_seconds)}):"]
        out += [f"  warning: {note}" for note in self.warnings]
        for k, edit in enumerate(self.sampled):
            reward = "" if edit.reward is None else f", reward {edit.reward:+.3f}"
            mark = "  <- chosen" if k == self.chosen and len(self.sampled) > 1 else ""
            out.append(
                f"  edit {k + 1}/{len(self.sampled)}: {format_time(edit.duration_seconds)} "
                f"({edit.duration_seconds / self.source_duration_seconds:.0%} of the song), "
                f"{edit.n_splices} splices{reward}{mark}"
            )
        if self.audio_path is not None:
            out.append(f"  wrote {self.audio_path} and {self.json_path}")
        return out


def _song_seeds(song_id: str, n: int, seed: int) -> list[int]:
    base = zlib.crc32(f"edit|{seed}|{song_id}".encode())
    return [int(base + 7919 * k) & 0x7FFFFFFF for k in range(n)]


def takes_target_length(trainer: Any) -> bool:
    """Whether the policy's ``generate_edits`` takes ``targets`` (a length-conditioned policy)."""
    return "targets" in inspect.signature(trainer.generate_edits).parameters


def sample_song_edits(
    trainer: Any,
    analysis: Any,
    n: int,
    temperature: float,
    seed: int,
    keep_share_target: float | None,
    policy_name: str = "the policy",
    content_noise: float = 0.0,
) -> list[SampledEdit]:
    """``n`` edits of one song by the policy, each with its length and splice count (not yet scored).

    With ``content_noise`` and a policy that takes it, the second half of the samples get it."""
    from rl_editor.edit import beat_sequence, splice_pairs

    seeds = _song_seeds(analysis.song_id, n, seed)
    kwargs = {}
    if keep_share_target is not None:
        if not takes_target_length(trainer):
            raise EditCommandError(
                f"{policy_name}: this policy does not take a target length; "
                "leave --length out or use a length-conditioned policy"
            )
        kwargs["targets"] = [keep_share_target] * n
    noise = [0.0] * n
    if content_noise > 0 and n > 1 and "content_noise" in inspect.signature(trainer.generate_edits).parameters:
        noise = [0.0] * (n // 2) + [content_noise] * (n - n // 2)
        kwargs["content_noise"] = noise
    edits = trainer.generate_edits(analysis, [temperature] * n, seeds, **kwargs)
    durations = analysis.beat_durations_s
    return [
        SampledEdit(
            actions=np.asarray(a, dtype=np.int8),
            seed=s,
            duration_seconds=float(durations[beat_sequence(a)].sum()),
            n_splices=len(splice_pairs(a)),
            content_noise=c,
        )
        for a, s, c in zip(edits, seeds, noise)
    ]


def rank_by_reward(ensemble: Any, analysis: Any, sampled: list[SampledEdit]) -> int:
    """Score every sampled edit with the reward ensemble (mean over members); index of the best."""
    mean, std = ensemble.score(analysis, np.stack([e.actions for e in sampled]))
    for edit, m, s in zip(sampled, mean, std):
        edit.reward, edit.reward_std = float(m), float(s)
    return int(np.argmax(mean))


def _unique_song_ids(songs: Sequence[Path]) -> list[str]:
    """File stems, with ``-2``, ``-3``... for stems seen before (the output files are named by them)."""
    seen: dict[str, int] = {}
    ids = []
    for path in songs:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        ids.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return ids


def _check_config(config: EditConfig, songs: Sequence[Path]) -> None:
    if not songs:
        raise EditCommandError("edit needs at least one song")
    for song in songs:
        if not song.is_file():
            raise EditCommandError(f"{song}: no such song file")
    if not Path(config.policy).is_file():
        raise EditCommandError(f"{config.policy}: no such policy file (--policy)")
    if config.reward_model is not None and not Path(config.reward_model).is_file():
        raise EditCommandError(f"{config.reward_model}: no such reward model file (--reward-model)")
    if config.best_of < 1:
        raise EditCommandError(f"--best-of {config.best_of}: must be at least 1")
    if config.reward_model is None and config.best_of > 1:
        raise EditCommandError(f"--best-of {config.best_of} needs --reward-model to rank the edits by")
    if config.edits_per_song > 1 and config.temperature == 0:
        raise EditCommandError(
            f"--best-of {config.best_of} with --temperature 0: greedy edits are all the same; "
            "give a temperature above 0"
        )
    if config.temperature < 0 or not math.isfinite(config.temperature):
        raise EditCommandError(f"--temperature {config.temperature}: must be 0 (greedy) or more")


def expand_song_paths(songs: Sequence[str | Path]) -> list[Path]:
    """Song files given directly, and the audio files of folders given (searched recursively, sorted).

    Raises
    ------
    EditCommandError
        A path that does not exist, or a folder that holds no audio files.
    """
    from rl_editor.audio.io import AnalysisError, find_songs

    paths: list[Path] = []
    for given in songs:
        p = Path(given)
        if p.is_dir():
            try:
                paths.extend(song.path for song in find_songs(p))
            except AnalysisError as exc:
                raise EditCommandError(str(exc)) from None
        elif not p.is_file():
            raise EditCommandError(f"{p}: no such song file or folder")
        else:
            paths.append(p)
    return paths


def _warn_skip(path: str, reason: str) -> None:
    warnings.warn(f"skipped {path}: {reason}", stacklevel=3)


def edit_songs(
    songs: Sequence[str | Path],
    config: EditConfig,
    on_song: Callable[[SongEdit], None] | None = None,
    on_skip: Callable[[str, str], None] = _warn_skip,
) -> list[SongEdit]:
    """Edit each song with the policy, keep the reward model's favourite, render it and write its JSON.

    A song that cannot be decoded or analysed is skipped (``on_skip``) and the
    others are still edited.

    Parameters
    ----------
    songs : sequence of audio paths or folders
        Folders are searched recursively for audio files.
    config : EditConfig
    on_song : callable, optional
        Called with each song's result as soon as it is written (the command prints it).
    on_skip : callable, optional
        Called with the path and a one-line reason of each song that could not be
        analysed; by default a warning.

    Returns
    -------
    list of SongEdit
        One per edited song, in the order given.
    """
    from tqdm.auto import tqdm

    from rl_editor.audio import AnalysisError, analyze_song, render_edit, save_audio
    from rl_editor.audio.beatgrid import splice_times
    from rl_editor.audio.structure import structure_times
    from rl_editor.io_utils import write_json_atomic
    from rl_editor.policy.trainer import PPOTrainer

    paths = expand_song_paths(songs)
    _check_config(config, paths)
    trainer = PPOTrainer.from_checkpoint(config.policy)
    policy_version = trainer.meta.version if trainer.meta else None
    ensemble = None
    if config.reward_model is not None:
        from rl_editor.reward import load_reward_model

        ensemble = load_reward_model(config.reward_model)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    bar = tqdm(
        list(zip(paths, _unique_song_ids(paths))),
        desc="editing",
        unit="song",
        file=sys.stderr,
        disable=not config.progress or len(paths) < 2,
    )
    for path, song_id in bar:
        try:
            analysis = analyze_song(path, song_id=song_id, bpm_range=config.bpm_range)
            target = None if config.length is None else parse_length(config.length, analysis.duration_seconds)
            sampled = sample_song_edits(
                trainer,
                analysis,
                config.edits_per_song,
                config.temperature,
                config.seed,
                target,
                policy_name=config.policy,
                content_noise=config.content_noise,
            )
            chosen = rank_by_reward(ensemble, analysis, sampled) if ensemble is not None else 0
            song = SongEdit(
                song_id=song_id,
                song_path=str(path),
                source_duration_seconds=analysis.duration_seconds,
                sampled=sampled,
                chosen=chosen,
                keep_share_target=target,
            )
            if target is not None and (note := outside_trained_range(target, trainer.config.env.target_range)):
                song.warnings.append(note)
            song.audio_path = save_audio(out_dir / f"{song_id}.wav", render_edit(path, analysis, song.best.actions))
        except AnalysisError as exc:  # this song cannot be read: say so in one line and edit the others
            on_skip(str(path), str(exc).removeprefix(f"{path}: "))
            continue
        song.json_path = write_json_atomic(
            out_dir / f"{song_id}.json",
            {
                "song_id": song_id,
                "song_path": str(path.resolve()),
                "audio": song.audio_path.name,
                "actions": [int(x) for x in song.best.actions],
                "duration_seconds": song.best.duration_seconds,
                "source_duration_seconds": analysis.duration_seconds,
                "n_splices": song.best.n_splices,
                "splices": splice_times(analysis, song.best.actions),
                **structure_times(analysis),
                "target": None if target is None else {"length": config.length, "keep_share": target},
                "temperature": config.temperature,
                "seed": song.best.seed,
                "policy": {"path": str(Path(config.policy).resolve()), "version": policy_version},
                "reward_model": None
                if ensemble is None or config.reward_model is None
                else {"path": str(Path(config.reward_model).resolve()), "version": ensemble.version},
                "reward_score": song.best.reward,
                "best_of": config.edits_per_song,
                "sampled": [{k: v for k, v in config_to_json(e).items() if k != "actions"} for e in sampled],
                "chosen": chosen,
            },
            indent=1,
            default=float,
        )
        results.append(song)
        if on_song is not None:
            on_song(song)
    return results


__all__ = [
    "EditCommandError",
    "EditConfig",
    "SampledEdit",
    "SongEdit",
    "edit_songs",
    "expand_song_paths",
    "format_time",
    "parse_length",
    "rank_by_reward",
    "sample_song_edits",
    "takes_target_length",
]

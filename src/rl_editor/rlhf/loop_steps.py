"""The steps of a feedback-loop run, one small function each: songs, policy, candidates, judgments, reward
model, its held-out accuracy, fine-tuning and evaluation. Each writes its output file and returns its path."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.generate.diversity import MIN_DIFFERING_SECONDS
from rl_editor.io_utils import write_json_atomic
from rl_editor.preferences import PreferencePair
from rl_editor.rlhf.errors import RLHFError
from rl_editor.rlhf.layout import IterationLayout, logs_dir_for
from rl_editor.rlhf.loop_config import PAIR_SELECTIONS, LoopConfig


def say(message: str, progress: bool = True) -> None:
    """One progress line (stderr, so it does not mix with tqdm bars' positions)."""
    if progress:
        from tqdm.auto import tqdm

        tqdm.write(message, file=sys.stderr)


# ------------------------------------------------------------------ songs


@dataclass
class SongSplit:
    """Training and held-out songs of a run, analysed."""

    train: list[SongAnalysis]
    heldout: list[SongAnalysis]
    paths: dict[str, Path]


def split_songs(songs_dir: str | Path, heldout_songs: int, progress: bool = True) -> SongSplit:
    """Analyse every song under ``songs_dir``; the last ``heldout_songs`` by name are held out."""
    from rl_editor.audio.io import find_songs
    from rl_editor.audio.load import load_songs

    songs = find_songs(Path(songs_dir))
    if len(songs) < heldout_songs + 1:
        raise RLHFError(
            f"{songs_dir}: {len(songs)} songs; the loop needs at least {heldout_songs + 1} "
            f"({heldout_songs} held out for evaluation)"
        )
    analyses = load_songs(songs, progress=progress)
    cut = len(analyses) - heldout_songs
    return SongSplit(analyses[:cut], analyses[cut:], {sid: p for sid, p in songs})


# ------------------------------------------------------------------ steps


def step_train_policy(out: Path, split: SongSplit, config: LoopConfig, progress: bool = True) -> Path:
    """The iteration-1 policy, trained with PPO on the dense reward."""
    from rl_editor.policy.config import PolicyConfig
    from rl_editor.policy.trainer import PPOTrainer

    trainer = PPOTrainer(PolicyConfig(seed=config.seed, n_envs=config.policy_n_envs))
    trainer.train(config.policy_episodes, analyses=split.train, progress=progress, log_dir=logs_dir_for(out))
    return trainer.save_checkpoint(out)


def step_generate(
    out_dir: Path, policy: Path, config: LoopConfig, iteration: int, audio: bool = False, progress: bool = True
) -> Path:
    """Candidates of every song (held-out songs too, for the reward's held-out accuracy).

    Simulated raters judge from the analysis, so candidates are made without
    audio; ``audio=True`` (for people) renders the audio of the same candidates.
    """
    from rl_editor.generate import GenerateConfig, generate_candidates

    manifest = generate_candidates(
        GenerateConfig(
            policy,
            config.songs_dir,
            out_dir,
            temperatures=config.temperatures,
            per_temperature=config.per_temperature,
            targets=config.targets,
            content_variants=config.content_variants,
            content_targets=(None,),
            workers=1,
            seed=config.seed + 1000 * iteration,
            progress=progress,
            render_audio=audio,
        )
    )
    return manifest.path


def step_render_audio(marker: Path, policy: Path, config: LoopConfig, iteration: int, progress: bool = True) -> Path:
    """The audio of an iteration's candidates (people listen to it); ``marker`` records that it was rendered."""
    manifest = step_generate(marker.parent, policy, config, iteration, audio=True, progress=progress)
    return write_json_atomic(marker, {"manifest": manifest.name, "audio": True})


def _sub_manifest(manifest_path: Path, song_ids: set[str]) -> Any:
    from rl_editor.generate import Manifest

    manifest = Manifest.load(manifest_path)
    return Manifest(root=manifest.root, songs=[e for e in manifest.songs if e.song_id in song_ids])


def choose_loop_pairs(
    manifest: Any,
    songs: Sequence[SongAnalysis],
    n_pairs: int,
    seed: int,
    selection: str,
    reward: Path | None,
    min_differing_s: float,
) -> list:
    """The candidate pairs a rater is asked about (``selection`` as in :class:`LoopConfig`)."""
    from rl_editor.raters.synth import choose_pairs

    if selection not in PAIR_SELECTIONS:
        raise RLHFError(f"pair_selection must be one of {', '.join(PAIR_SELECTIONS)}, got {selection!r}")
    analyses = {a.song_id: a for a in songs}
    rng = np.random.default_rng(seed)
    if selection == "random" or reward is None:
        return choose_pairs(
            manifest, n_pairs, rng, {k: a.beat_durations_s for k, a in analyses.items()}, min_differing_s
        )
    from rl_editor.reward import load_reward_model
    from rl_editor.reward.select import choose_informative_pairs

    return choose_informative_pairs(
        manifest,
        load_reward_model(reward),
        n_pairs,
        analyses,
        rng,
        method=selection,
        min_differing_s=min_differing_s,
        max_per_edit=4,
    )


def step_preferences(
    out: Path,
    manifest_path: Path,
    songs: Sequence[SongAnalysis],
    rater_spec: str,
    n_pairs: int,
    seed: int,
    progress: bool,
    selection: str = "random",
    reward: Path | None = None,
    min_differing_s: float = MIN_DIFFERING_SECONDS,
) -> Path:
    """A rater judges ``n_pairs`` pairs of candidates of ``songs``; written as preference JSON.

    Pairs are chosen by :func:`choose_loop_pairs` (by the ensemble ``reward``'s
    disagreement, or at random). ``song_path`` of each pair is rewritten
    relative to ``out``'s folder so the file can be used on its own
    (``rl-editor train-reward --preferences``).
    """
    from rl_editor.preferences import save_preferences
    from rl_editor.raters import load_rater, synthesize_preferences

    manifest = _sub_manifest(manifest_path, {a.song_id for a in songs})
    chosen = choose_loop_pairs(manifest, songs, n_pairs, seed, selection, reward, min_differing_s)
    pairs = synthesize_preferences(
        manifest,
        load_rater(rater_spec, seed=seed),
        n_pairs=n_pairs,
        seed=seed,
        analyses={a.song_id: a for a in songs},
        progress=progress,
        pairs=chosen,
    )
    if len(pairs) < n_pairs:
        say(
            f"only {len(pairs)} distinct candidate pairs exist for {n_pairs} requested (identical edits are "
            "kept once); ask for more candidates per song (per_temperature) to judge more",
            progress,
        )
    for pair in pairs:
        song = manifest.resolve(str(pair.song_path))
        pair.song_path = os.path.relpath(song, out.parent.resolve())
        for side in (pair.edit_a, pair.edit_b):
            side.path = os.path.relpath(manifest.resolve(side.path), out.parent.resolve())
    save_preferences(out, pairs)
    return out


def step_collect_from_people(
    out: Path,
    manifest_path: Path,
    songs: Sequence[SongAnalysis],
    config: LoopConfig,
    campaign: str,
    progress: bool = True,
) -> Path:
    """Open the iteration's campaign of ``songs``' candidates on the feedback database and wait for its judgments.

    The campaign asks ``config.votes_per_pair`` people per pair, at most
    ``config.rater_quota`` judgments of one person, and is complete at
    ``config.pairs`` judgments. While it waits, a progress bar shows the
    judgments and the campaign's coverage (pairs with all their votes). The
    judgments are then screened (:func:`rl_editor.feedback.screening.screen_for_training`:
    raters failing their gold pairs count at their reliability weight) before
    they are written to ``out``; ``campaign.json`` beside it keeps the
    coverage, the screening and the agreement for the report.
    """
    import math
    import time

    from tqdm.auto import tqdm

    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.feedback.tasks import TaskConfig
    from rl_editor.preferences import save_preferences

    manifest = _sub_manifest(manifest_path, {a.song_id for a in songs})
    votes = max(1, config.votes_per_pair)
    per_song = max(1, math.ceil(config.pairs / votes / max(len(manifest.songs), 1)))
    start = time.monotonic()
    with FeedbackStore.open(config.db, manifest_path) as store:
        store.set_song_library(Path(config.songs_dir), keep_existing=True)
        store.create_tasks_from_manifest(
            manifest,
            TaskConfig(
                pairs_per_song=per_song,
                campaign=campaign,
                seed=config.seed,
                votes_per_pair=votes,
                rater_quota=config.rater_quota,
            ),
        )
        say(
            f"waiting for {config.pairs} judgments in campaign {campaign}: "
            f"rl-editor serve --manifest {manifest_path} --db {config.db}",
            progress,
        )
        with tqdm(total=config.pairs, desc="judgments", unit="pair", disable=not progress) as bar:
            while True:
                pairs = store.export_pairs(campaign=campaign)
                bar.update(min(len(pairs), config.pairs) - bar.n)
                bar.set_postfix_str(coverage_text(store.coverage(), campaign), refresh=False)
                if len(pairs) >= config.pairs:
                    break
                if config.wait_timeout_s is not None and time.monotonic() - start > config.wait_timeout_s:
                    raise RLHFError(
                        f"campaign {campaign}: {len(pairs)} of {config.pairs} judgments after "
                        f"{config.wait_timeout_s:g} s; rerun the loop to keep waiting"
                    )
                time.sleep(config.poll_seconds)
        screened, record = screened_campaign(store, campaign, pairs[: config.pairs])
    say(f"{campaign}: {record['screening_line']}", progress)
    for pair in screened:
        for side in (pair.edit_a, pair.edit_b):
            side.path = os.path.relpath(manifest.resolve(side.path), out.parent.resolve())
    save_preferences(out, screened)
    write_json_atomic(IterationLayout(out.parent).campaign, record, indent=1)
    return out


def coverage_text(coverage: list[dict[str, Any]], campaign: str) -> str:
    """``"12 of 40 pairs have their votes"`` for ``campaign`` (empty when the store does not know it)."""
    row = next((c for c in coverage if c["campaign"] == campaign), None)
    return "" if row is None else f"{row['complete']} of {row['pairs']} pairs have their votes"


def screened_campaign(
    store: Any, campaign: str, pairs: list[PreferencePair]
) -> tuple[list[PreferencePair], dict[str, Any]]:
    """A campaign's judgments screened for reward training, and the record the report shows.

    Raters are screened on everything they judged in the store (their gold
    pairs included), the way ``export --screen`` does.
    """
    from rl_editor.feedback.agreement import alpha_by_campaign
    from rl_editor.feedback.screening import screen_store

    report = screen_store(store)
    screened = report.apply(pairs)
    record = {
        "campaign": campaign,
        "coverage": next((c for c in store.coverage() if c["campaign"] == campaign), None),
        "screening": report.to_json(screened),
        "screening_line": report.summary_line(screened),
        "krippendorff_alpha": alpha_by_campaign(pairs).get(campaign),
        "n_judgments": len(pairs),
    }
    return list(screened.pairs), record


def step_train_reward(
    out: Path, preferences: Path, songs: Sequence[SongAnalysis], init: Path | None, config: LoopConfig, source: str
) -> Path:
    """Train (or fine-tune from ``init``) a reward ensemble on a preference file."""
    from rl_editor.preferences import load_preferences
    from rl_editor.registry import sha256_of_files
    from rl_editor.reward import RewardTrainConfig, load_reward_model, reward_meta, train_reward_model

    pairs = load_preferences(preferences)
    start = load_reward_model(init) if init is not None else None
    train_config = RewardTrainConfig(
        epochs=config.reward_epochs,
        members=config.reward_members,
        seed=config.seed,
        val_frac=config.reward_val_frac,
        progress=False,
    )
    ensemble, report = train_reward_model(pairs, train_config, analyses={a.song_id: a for a in songs}, init=start)
    meta = reward_meta(
        pairs, train_config, report, init=start, source=source, file_sha256=sha256_of_files([preferences])
    )
    meta.metrics["history"] = report.history[-config.reward_epochs * config.reward_members :]
    ensemble.save(out, meta)
    return out


def pair_accuracy(ensemble: Any, pairs: Sequence[Any], analyses: dict[str, SongAnalysis]) -> dict[str, float]:
    """Share of decisive judgments whose winner the reward model scores higher (a zero gap counts half)."""
    correct = []
    for p in pairs:
        if p.preference == "tie":
            continue
        song = analyses[p.song_id]
        mean, _ = ensemble.score(song, np.asarray([p.edit_a.actions, p.edit_b.actions]))
        gap = float(mean[0] - mean[1])
        correct.append(0.5 if gap == 0 else float((gap > 0) == (p.preference == "a")))
    return {"accuracy": float(np.mean(correct)) if correct else float("nan"), "n": len(correct)}


def step_reward_eval(
    out: Path,
    manifest_path: Path,
    heldout: Sequence[SongAnalysis],
    models: dict[str, Path],
    config: LoopConfig,
    iteration: int,
) -> Path:
    """Held-out accuracy of reward models against fresh labels of the rater on held-out songs' candidates."""
    from rl_editor.raters import synthesize_preferences
    from rl_editor.reward import load_reward_model
    from rl_editor.rlhf.evaluate import held_out_raters

    manifest = _sub_manifest(manifest_path, {a.song_id for a in heldout})
    rater = held_out_raters(config.eval_rater or config.rater, 1, seed=50_000 + 100 * iteration + config.seed)[0]
    pairs = synthesize_preferences(
        manifest,
        rater,
        n_pairs=None,
        seed=config.seed + iteration,
        analyses={a.song_id: a for a in heldout},
        progress=False,
    )
    analyses = {a.song_id: a for a in heldout}
    result: dict[str, Any] = {"rater": rater.name, "songs": sorted(analyses), "n_pairs": len(pairs)}
    for name, path in models.items():
        ensemble = load_reward_model(path)
        result[name] = {
            "version": ensemble.version,
            **pair_accuracy(ensemble, pairs, analyses),
            "validation": (ensemble.meta.metrics.get("val", {}) if ensemble.meta else {}),
        }
    return write_json_atomic(out, result, indent=1, default=float)


def step_finetune(
    out: Path,
    init: Path,
    reward: Path,
    songs: Sequence[SongAnalysis],
    config: LoopConfig,
    iteration: int,
    progress: bool = True,
) -> Path:
    """Fine-tune the previous policy on the new reward model."""
    from dataclasses import replace

    from rl_editor.rlhf.acceptance import acceptance_text
    from rl_editor.rlhf.finetune import finetune_policy

    ft = replace(config.finetune, seed=config.seed + iteration)
    trainer = finetune_policy(init, reward, ft, analyses=songs, log_dir=logs_dir_for(out), progress=progress)
    path = trainer.save_checkpoint(out)  # the checkpoint's metadata (and so the decision) exists once saved
    acceptance = trainer.meta.metrics.get("acceptance") if trainer.meta else None
    if acceptance is not None:
        say(f"iteration {iteration}: fine-tuning {acceptance_text(acceptance)}", progress)
    return path


def step_evaluate(
    out: Path,
    old: Path,
    new: Path,
    heldout: Sequence[SongAnalysis],
    config: LoopConfig,
    iteration: int,
    progress: bool = True,
    reward: Path | None = None,
) -> Path:
    """New policy against the previous one on held-out songs, by held-out raters (and the previous
    policy's best-of-N by ``reward`` against it)."""
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

    raters = held_out_raters(
        config.eval_rater or config.rater, config.eval_raters, seed=10_000 + 100 * iteration + config.seed
    )
    result = evaluate_policies(
        old,
        new,
        heldout,
        raters,
        temperature=config.eval_temperature,
        seed=config.seed + iteration,
        edits_per_song=config.eval_edits_per_song,
        reward_model=reward if config.eval_best_of > 0 else None,
        best_of=max(config.eval_best_of, 1),
    )
    say(f"iteration {iteration}: {result.summary()}", progress)
    return result.save(out)


__all__ = [
    "SongSplit",
    "choose_loop_pairs",
    "pair_accuracy",
    "say",
    "split_songs",
    "step_collect_from_people",
    "step_evaluate",
    "step_finetune",
    "step_generate",
    "step_preferences",
    "step_render_audio",
    "step_reward_eval",
    "step_train_policy",
    "step_train_reward",
]

"""The human-feedback loop: generate -> collect -> train reward -> fine-tune -> evaluate, resumable.

Every model and data set of a run lives in one folder::

    run/
      state.json                 completed steps, each with a digest of its settings and inputs
      split.json                 which songs train, which are held out
      bootstrap/policy.pt        iteration-1 policy on the dense reward (when no --policy is given)
      bootstrap/preferences.json dense-taste judgments of iter-01's candidates
      bootstrap/reward.pt        the bootstrap ("v8") reward model
      iter-01/candidates/        manifest.json + audio of every candidate (training and held-out songs)
      iter-01/preferences.json   the rater's judgments (training songs only)
      iter-01/reward.pt          reward model fine-tuned from the previous one
      iter-01/reward_eval.json   held-out accuracy of the new and the previous reward model
      iter-01/policy.pt          policy fine-tuned on the new reward model
      iter-01/eval.json          new policy against the previous one, held-out songs and raters
      report.md, *.png           written by :mod:`rl_editor.rlhf.report`

Each step is a small function; :func:`plan_steps` lists them in order with
what each is made from, and :func:`run_loop` runs the list and records each in ``state.json`` once its outputs are written, with the settings
it read and the identity of its inputs (:mod:`rl_editor.rlhf.run_state`). A
step counts as done only while it is recorded, its outputs exist and it was
made from the same settings and inputs, so after a crash (or after deleting a
step's output) a rerun does exactly the missing steps, and after a change of
settings it redoes the steps that read the changed setting, saying which setting
changed. Either way the steps that read what was redone are redone too (a new
reward model means a new policy). People's judgments cannot be redone by the
loop: a changed setting that would redo them is refused with a message naming
it, before any step runs.

Held-out raters are fresh instances of the rater spec with their own seeds;
held-out songs are never used to train a policy or a reward model.

Preferences come from a rater spec (simulated, or any ``module:callable``),
or, with ``db`` set, from people: the loop creates a campaign of comparison
tasks over the training songs' candidates on the feedback database
(``<run folder name>-iter-01``) and waits until ``pairs`` judgments have
arrived (serve them with ``rl-editor serve --manifest
run/iter-01/candidates/manifest.json --db URL``). If ``wait_timeout_s`` passes
first the run stops with an error; rerunning resumes the wait. Evaluation
stays with simulated held-out raters; with people use ``rl-editor evaluate
--create-campaign`` / ``--campaign``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.generate.diversity import MIN_DIFFERING_SECONDS
from rl_editor.io_utils import write_json_atomic
from rl_editor.rlhf.finetune import FinetuneConfig, RLHFError
from rl_editor.rlhf.run_state import RunState, StepRecord, file_sha256

DEFAULT_CANDIDATE_TEMPERATURES: tuple[float, ...] = (0.3, 0.6, 1.0, 1.5)
DEFAULT_CANDIDATE_TARGETS: tuple[float | None, ...] = (None, 0.3, 0.45, 0.6, 0.75, 0.9)
PAIR_SELECTIONS = ("disagreement", "bald", "random")


@dataclass
class LoopConfig:
    """Settings of a feedback-loop run; ``rl-editor loop`` flags map to these.

    Attributes
    ----------
    songs_dir : str
        Folder of songs; the last ``heldout_songs`` (by name) are held out for evaluation.
    run_dir : str
        Where every model and data set of the run goes.
    iterations : int
        Feedback iterations.
    pairs : int
        Judged pairs per iteration.
    rater : str
        Rater spec (:func:`rl_editor.raters.load_rater`) that makes the training preferences.
    eval_rater : str or None
        Rater spec of the held-out raters (default: ``rater``), as fresh instances.
    policy : str or None
        Policy to start from; None trains one on the dense reward (``bootstrap/policy.pt``).
    bootstrap_reward : str or None
        Reward model to start from; None trains one on ``bootstrap_rater``'s judgments.
    bootstrap_rater : str
        Rater spec of the bootstrap preferences (the dense reward as a taste).
    heldout_songs : int
        Songs held out for evaluation.
    policy_episodes : int
        Episodes of the dense-reward bootstrap policy.
    policy_n_envs : int
        Songs stepping together when training the bootstrap policy.
    temperatures, per_temperature :
        Candidate generation settings.
    targets : tuple of float or None
        Candidate lengths as shares of each song (None: the policy's own choice);
        every temperature is combined with every target, so candidates differ
        in length and structure, not only in which phrases go.
    pair_selection : str
        ``"disagreement"`` (default) or ``"bald"``: ask about the pairs the
        current reward ensemble is least sure of, songs taking turns
        (:func:`rl_editor.reward.select.choose_informative_pairs`);
        ``"random"``: random pairs, songs taking turns.
    min_differing_s : float
        Pairs whose audio differs for this many seconds or less are never asked.
    reward_epochs, reward_members : int
        Reward training settings.
    reward_val_frac : float
        Share of training songs set aside to stop reward training early (0: train every epoch).
        0 by default: with ten songs the validation split is one or two songs, whose noisy
        likelihood stopped members after an epoch or two, still holding the previous model's
        taste (held-out accuracy 0.71 against 0.80 when trained through; the held-out songs
        measure accuracy in ``reward_eval.json`` either way).
    finetune : FinetuneConfig
        Fine-tuning settings (``log_dir`` and ``seed`` are set per iteration).
    eval_raters, eval_edits_per_song : int
        Held-out raters, and edit pairs per held-out song.
    eval_temperature : float
        Sampling temperature of both policies in the evaluation.
    eval_best_of : int
        The evaluation's third arm: the previous policy's best of this many samples, ranked by the
        iteration's reward model, against the previous policy (0 leaves it out).
    seed : int
    progress : bool
    db : str or None
        Feedback database: collect each iteration's preferences from people (module docstring).
    wait_timeout_s : float or None
        Longest wait for people's judgments (None waits for ever).
    poll_seconds : float
        How often the database is checked while waiting.
    """

    songs_dir: str
    run_dir: str = "run"
    iterations: int = 1
    pairs: int = 500
    rater: str = "musician:mistake=0.1"
    eval_rater: str | None = None
    policy: str | None = None
    bootstrap_reward: str | None = None
    bootstrap_rater: str = "dense"
    heldout_songs: int = 3
    policy_episodes: int = 3000
    policy_n_envs: int = 16
    temperatures: tuple[float, ...] = DEFAULT_CANDIDATE_TEMPERATURES
    per_temperature: int = 2
    targets: tuple[float | None, ...] = DEFAULT_CANDIDATE_TARGETS
    pair_selection: str = "disagreement"
    min_differing_s: float = MIN_DIFFERING_SECONDS
    reward_epochs: int = 30
    reward_members: int = 3
    reward_val_frac: float = 0.0
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval_raters: int = 5
    eval_edits_per_song: int = 8
    eval_temperature: float = 0.5
    eval_best_of: int = 4
    seed: int = 0
    progress: bool = True
    db: str | None = None
    wait_timeout_s: float | None = None
    poll_seconds: float = 5.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoopResult:
    """What a run did: the steps run now (others were already done), why each was redone, and each
    iteration's figures. ``redone`` maps a step that had been completed before to the changes that redid it."""

    run_dir: Path
    steps_run: list[str]
    steps_skipped: list[str]
    redone: dict[str, list[str]] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    reward_evaluations: list[dict[str, Any]] = field(default_factory=list)
    final_policy: Path | None = None


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
    from tqdm.auto import tqdm

    from rl_editor.audio import analyze_song
    from rl_editor.audio.io import find_songs

    songs = find_songs(Path(songs_dir))
    if len(songs) < heldout_songs + 1:
        raise RLHFError(f"{songs_dir}: {len(songs)} songs; the loop needs at least {heldout_songs + 1} "
                        f"({heldout_songs} held out for evaluation)")
    analyses = [analyze_song(path, song_id=song_id)
                for song_id, path in tqdm(songs, desc="analysing songs", unit="song", disable=not progress)]
    cut = len(analyses) - heldout_songs
    return SongSplit(analyses[:cut], analyses[cut:], {sid: p for sid, p in songs})


# ------------------------------------------------------------------ steps


def step_train_policy(out: Path, split: SongSplit, config: LoopConfig) -> Path:
    """The iteration-1 policy, trained with PPO on the dense reward."""
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    trainer = PPOTrainer(PolicyConfig(seed=config.seed, n_envs=config.policy_n_envs))
    trainer.train(config.policy_episodes, analyses=split.train, progress=config.progress,
                  log_dir=out.parent / f"{out.stem}_logs")
    return trainer.save_checkpoint(out)


def step_generate(out_dir: Path, policy: Path, config: LoopConfig, iteration: int, audio: bool = False) -> Path:
    """Candidates of every song (held-out songs too, for the reward's held-out accuracy).

    Simulated raters judge from the analysis, so candidates are made without
    audio; ``audio=True`` (for people) renders the audio of the same candidates.
    """
    from rl_editor.generate import GenerateConfig, generate_candidates

    manifest = generate_candidates(GenerateConfig(
        policy, config.songs_dir, out_dir, temperatures=config.temperatures, per_temperature=config.per_temperature,
        targets=config.targets, workers=1, seed=config.seed + 1000 * iteration, progress=config.progress,
        render_audio=audio,
    ))
    return manifest.path


def step_render_audio(marker: Path, policy: Path, config: LoopConfig, iteration: int) -> Path:
    """The audio of an iteration's candidates (people listen to it); ``marker`` records that it was rendered."""
    manifest = step_generate(marker.parent, policy, config, iteration, audio=True)
    return write_json_atomic(marker, {"manifest": manifest.name, "audio": True})


def _sub_manifest(manifest_path: Path, song_ids: set[str]) -> Any:
    from rl_editor.generate import Manifest

    manifest = Manifest.load(manifest_path)
    return Manifest(root=manifest.root, songs=[e for e in manifest.songs if e.song_id in song_ids])


def choose_loop_pairs(manifest: Any, songs: Sequence[SongAnalysis], n_pairs: int, seed: int, selection: str,
                      reward: Path | None, min_differing_s: float) -> list:
    """The candidate pairs a rater is asked about (``selection`` as in :class:`LoopConfig`)."""
    from rl_editor.raters.synth import choose_pairs

    if selection not in PAIR_SELECTIONS:
        raise RLHFError(f"pair_selection must be one of {', '.join(PAIR_SELECTIONS)}, got {selection!r}")
    analyses = {a.song_id: a for a in songs}
    rng = np.random.default_rng(seed)
    if selection == "random" or reward is None:
        return choose_pairs(manifest, n_pairs, rng, {k: a.beat_durations_s for k, a in analyses.items()},
                            min_differing_s)
    from rl_editor.reward import load_reward_model
    from rl_editor.reward.select import choose_informative_pairs

    return choose_informative_pairs(manifest, load_reward_model(reward), n_pairs, analyses, rng, method=selection,
                                    min_differing_s=min_differing_s, max_per_edit=4)


def step_preferences(out: Path, manifest_path: Path, songs: Sequence[SongAnalysis], rater_spec: str,
                     n_pairs: int, seed: int, progress: bool, selection: str = "random",
                     reward: Path | None = None, min_differing_s: float = MIN_DIFFERING_SECONDS) -> Path:
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
    pairs = synthesize_preferences(manifest, load_rater(rater_spec, seed=seed), n_pairs=n_pairs, seed=seed,
                                   analyses={a.song_id: a for a in songs}, progress=progress, pairs=chosen)
    if len(pairs) < n_pairs:
        say(f"only {len(pairs)} distinct candidate pairs exist for {n_pairs} requested (identical edits are "
            "kept once); ask for more candidates per song (per_temperature) to judge more", progress)
    for pair in pairs:
        song = manifest.resolve(pair.extra["song_path"])
        pair.extra["song_path"] = os.path.relpath(song, out.parent.resolve())
        for side in (pair.edit_a, pair.edit_b):
            side.path = os.path.relpath(manifest.resolve(side.path), out.parent.resolve())
    save_preferences(out, pairs)
    return out


def step_collect_from_people(out: Path, manifest_path: Path, songs: Sequence[SongAnalysis], config: LoopConfig,
                             campaign: str) -> Path:
    """Make comparison tasks of ``songs``' candidates on the feedback database; wait for ``config.pairs`` judgments."""
    import math
    import time

    from tqdm.auto import tqdm

    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.feedback.tasks import TaskConfig
    from rl_editor.preferences import save_preferences

    manifest = _sub_manifest(manifest_path, {a.song_id for a in songs})
    per_song = max(1, math.ceil(config.pairs / max(len(manifest.songs), 1)))
    start = time.monotonic()
    with FeedbackStore.open(config.db, manifest_path) as store:
        store.create_tasks_from_manifest(manifest, TaskConfig(pairs_per_song=per_song, campaign=campaign,
                                                              seed=config.seed))
        say(f"waiting for {config.pairs} judgments in campaign {campaign}: "
            f"rl-editor serve --manifest {manifest_path} --db {config.db}", config.progress)
        with tqdm(total=config.pairs, desc="judgments", unit="pair", disable=not config.progress) as bar:
            while True:
                pairs = store.export_pairs(campaign=campaign)
                bar.update(min(len(pairs), config.pairs) - bar.n)
                if len(pairs) >= config.pairs:
                    break
                if config.wait_timeout_s is not None and time.monotonic() - start > config.wait_timeout_s:
                    raise RLHFError(f"campaign {campaign}: {len(pairs)} of {config.pairs} judgments after "
                                    f"{config.wait_timeout_s:g} s; rerun the loop to keep waiting")
                time.sleep(config.poll_seconds)
    for pair in pairs:
        for side in (pair.edit_a, pair.edit_b):
            side.path = os.path.relpath(manifest.resolve(side.path), out.parent.resolve())
    save_preferences(out, pairs[: config.pairs])
    return out


def step_train_reward(out: Path, preferences: Path, songs: Sequence[SongAnalysis], init: Path | None,
                      config: LoopConfig, source: str) -> Path:
    """Train (or fine-tune from ``init``) a reward ensemble on a preference file."""
    from rl_editor.preferences import load_preferences
    from rl_editor.registry import sha256_of_files
    from rl_editor.reward import RewardTrainConfig, load_reward_model, reward_meta, train_reward_model

    pairs = load_preferences(preferences)
    start = load_reward_model(init) if init is not None else None
    train_config = RewardTrainConfig(epochs=config.reward_epochs, members=config.reward_members, seed=config.seed,
                                     val_frac=config.reward_val_frac, progress=False)
    ensemble, report = train_reward_model(pairs, train_config, analyses={a.song_id: a for a in songs}, init=start)
    meta = reward_meta(pairs, train_config, report, init=start, source=source,
                       file_sha256=sha256_of_files([preferences]))
    meta.metrics["history"] = report.history[-config.reward_epochs * config.reward_members:]
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


def step_reward_eval(out: Path, manifest_path: Path, heldout: Sequence[SongAnalysis], models: dict[str, Path],
                     config: LoopConfig, iteration: int) -> Path:
    """Held-out accuracy of reward models against fresh labels of the rater on held-out songs' candidates."""
    from rl_editor.raters import synthesize_preferences
    from rl_editor.reward import load_reward_model
    from rl_editor.rlhf.evaluate import held_out_raters

    manifest = _sub_manifest(manifest_path, {a.song_id for a in heldout})
    rater = held_out_raters(config.eval_rater or config.rater, 1, seed=50_000 + 100 * iteration + config.seed)[0]
    pairs = synthesize_preferences(manifest, rater, n_pairs=None, seed=config.seed + iteration,
                                   analyses={a.song_id: a for a in heldout}, progress=False)
    analyses = {a.song_id: a for a in heldout}
    result: dict[str, Any] = {"rater": rater.name, "songs": sorted(analyses), "n_pairs": len(pairs)}
    for name, path in models.items():
        ensemble = load_reward_model(path)
        result[name] = {"version": ensemble.version, **pair_accuracy(ensemble, pairs, analyses),
                        "validation": (ensemble.meta.metrics.get("val", {}) if ensemble.meta else {})}
    return write_json_atomic(out, result, indent=1, default=float)


def step_finetune(out: Path, init: Path, reward: Path, songs: Sequence[SongAnalysis], config: LoopConfig,
                  iteration: int) -> Path:
    """Fine-tune the previous policy on the new reward model."""
    from dataclasses import replace

    from rl_editor.rlhf.finetune import finetune_policy

    ft = replace(config.finetune, seed=config.seed + iteration, progress=config.progress,
                 log_dir=str(out.parent / f"{out.stem}_logs"))
    trainer = finetune_policy(init, reward, ft, analyses=songs)
    return trainer.save_checkpoint(out)


def step_evaluate(out: Path, old: Path, new: Path, heldout: Sequence[SongAnalysis], config: LoopConfig,
                  iteration: int, reward: Path | None = None) -> Path:
    """New policy against the previous one on held-out songs, by held-out raters (and the previous
    policy's best-of-N by ``reward`` against it)."""
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

    raters = held_out_raters(config.eval_rater or config.rater, config.eval_raters,
                             seed=10_000 + 100 * iteration + config.seed)
    result = evaluate_policies(old, new, heldout, raters, temperature=config.eval_temperature,
                               seed=config.seed + iteration, edits_per_song=config.eval_edits_per_song,
                               reward_model=reward if config.eval_best_of > 0 else None,
                               best_of=max(config.eval_best_of, 1))
    say(f"iteration {iteration}: {result.summary()}", config.progress)
    return result.save(out)


# ------------------------------------------------------------------ orchestration


def loop_summary(result: LoopResult) -> str:
    """Per iteration: the evaluation's headline, decisive win rate, ties and edit change, and the reward
    model's held-out accuracy (what ``rl-editor loop`` and ``rl-editor demo`` print)."""
    from rl_editor.rlhf.evaluate import EvaluationResult

    lines = []
    for it, acc in enumerate(result.reward_evaluations, start=1):
        evaluation = EvaluationResult.load(result.run_dir / f"iter-{it:02d}" / "eval.json")
        lines += [f"iteration {it}: {evaluation.summary()}",
                  f"  reward model held-out accuracy {acc['new']['accuracy']:.1%} "
                  f"(previous {acc['previous']['accuracy']:.1%})"]
    return "\n".join(lines)


def _song_hashes(analyses: Sequence[SongAnalysis]) -> dict[str, str]:
    return {a.song_id: a.content_sha256 for a in analyses}


def _finetune_settings(finetune: FinetuneConfig) -> dict[str, Any]:
    """``finetune.<field>`` of every fine-tuning setting that changes the policy (not where logs go)."""
    return {f"finetune.{k}": v for k, v in asdict(finetune).items() if k not in ("log_dir", "progress", "seed")}


@dataclass
class PlannedStep:
    """One step of a run, before it runs: what it writes, how, and what it is made from.

    ``inputs`` maps a label to the step of this run that writes the input (its
    name) or to a file given from outside (a ``Path``). ``people``: the step
    collects people's judgments, which the loop cannot redo. ``folder``: the
    step's own output folder, emptied before the step is redone with other settings.
    """

    name: str
    outputs: list[Path]
    run: Callable[..., Any]  # called without arguments (lambdas bind their values as defaults)
    settings: dict[str, Any]
    inputs: dict[str, str | Path] = field(default_factory=dict)
    people: bool = False
    folder: Path | None = None


def plan_steps(config: LoopConfig, run: Path, split: SongSplit, policy: Path, reward: Path | None) -> list[PlannedStep]:
    """Every step of a run in order, each with the settings it reads and where its inputs come from.

    ``policy`` and ``reward`` are the starting policy and reward model files
    (``reward`` None: the bootstrap steps train one).
    """
    plan: list[PlannedStep] = []
    train_songs = {"training songs": _song_hashes(split.train), "heldout_songs": config.heldout_songs}
    heldout_songs = {"held-out songs": _song_hashes(split.heldout), "heldout_songs": config.heldout_songs}
    reward_settings = {"reward_epochs": config.reward_epochs, "reward_members": config.reward_members,
                       "reward_val_frac": config.reward_val_frac, "seed": config.seed, **train_songs}
    # where the current policy and reward model come from: a step of this run, or a file given from outside
    policy_source: str | Path = policy
    reward_source: str | Path | None = reward
    if config.policy is None:
        policy_source = "bootstrap/policy"
        plan.append(PlannedStep(policy_source, [policy], lambda policy=policy: step_train_policy(policy, split, config),
                                {"seed": config.seed, "policy_n_envs": config.policy_n_envs,
                                 "policy_episodes": config.policy_episodes, **train_songs}))

    for it in range(1, config.iterations + 1):
        d = run / f"iter-{it:02d}"
        name = lambda what, d=d: f"{d.name}/{what}"  # noqa: E731
        manifest = d / "candidates" / "manifest.json"
        plan.append(PlannedStep(
            name("candidates"), [manifest],
            lambda manifest=manifest, policy=policy, it=it: step_generate(manifest.parent, policy, config, it),
            {"temperatures": list(config.temperatures), "per_temperature": config.per_temperature,
             "targets": list(config.targets), "seed": config.seed,
             "songs": _song_hashes(split.train + split.heldout)},
            {"policy": policy_source}, folder=manifest.parent))
        if reward is None:
            boot = run / "bootstrap"
            prefs0, reward0 = boot / "preferences.json", boot / "reward.pt"
            plan.append(PlannedStep(
                "bootstrap/preferences", [prefs0], lambda manifest=manifest, prefs0=prefs0: step_preferences(
                prefs0, manifest, split.train, config.bootstrap_rater, config.pairs, config.seed + 7, config.progress,
                min_differing_s=config.min_differing_s),
                {"bootstrap_rater": config.bootstrap_rater, "pairs": config.pairs, "seed": config.seed,
                 "min_differing_s": config.min_differing_s, **train_songs}, {"candidates": name("candidates")}))
            plan.append(PlannedStep(
                "bootstrap/reward", [reward0], lambda prefs0=prefs0, reward0=reward0: step_train_reward(
                reward0, prefs0, split.train, None, config, source=f"{config.bootstrap_rater} preferences"),
                {**reward_settings, "bootstrap_rater": config.bootstrap_rater},
                {"preferences": "bootstrap/preferences"}))
            reward, reward_source = reward0, "bootstrap/reward"
        assert reward_source is not None  # given, or trained by the bootstrap steps above
        prefs, new_reward = d / "preferences.json", d / "reward.pt"
        preference_settings = {"rater": None if config.db else config.rater, "db": config.db,
                               "pairs": config.pairs, "seed": config.seed, **train_songs}
        if not config.db:
            preference_settings.update(pair_selection=config.pair_selection, min_differing_s=config.min_differing_s)
        collect: Callable[..., Any]
        if config.db:
            audio = manifest.parent / "audio.json"
            plan.append(PlannedStep(
                name("audio"), [audio],
                lambda audio=audio, policy=policy, it=it: step_render_audio(audio, policy, config, it),
                {}, {"candidates": name("candidates")}))
            collect = lambda prefs=prefs, manifest=manifest, d=d: step_collect_from_people(  # noqa: E731
                prefs, manifest, split.train, config, campaign=f"{run.name}-{d.name}")
        else:
            collect = lambda prefs=prefs, manifest=manifest, it=it, reward=reward: step_preferences(  # noqa: E731
                prefs, manifest, split.train, config.rater, config.pairs, config.seed + 100 * it, config.progress,
                selection=config.pair_selection, reward=reward, min_differing_s=config.min_differing_s)
        preference_inputs: dict[str, str | Path] = {"candidates": name("candidates")}
        if config.db:
            preference_inputs["candidates' audio"] = name("audio")
        if not config.db and config.pair_selection != "random" and reward_source is not None:
            preference_inputs["reward model choosing the pairs"] = reward_source
        plan.append(PlannedStep(name("preferences"), [prefs], collect, preference_settings,
                                preference_inputs, people=bool(config.db)))
        plan.append(PlannedStep(
            name("reward"), [new_reward],
            lambda new_reward=new_reward, prefs=prefs, reward=reward, d=d: step_train_reward(
                new_reward, prefs, split.train, reward, config, source=f"{d.name}/preferences.json"),
            reward_settings, {"preferences": name("preferences"), "previous reward model": reward_source}))
        reward_eval = d / "reward_eval.json"
        plan.append(PlannedStep(
            name("reward_eval"), [reward_eval],
            lambda reward_eval=reward_eval, manifest=manifest, new_reward=new_reward, reward=reward, it=it:
                step_reward_eval(reward_eval, manifest, split.heldout, {"new": new_reward, "previous": reward},
                                 config, it),
            {"eval_rater": config.eval_rater or config.rater, "seed": config.seed, **heldout_songs},
            {"candidates": name("candidates"), "reward model": name("reward"),
             "previous reward model": reward_source}))
        new_policy = d / "policy.pt"
        plan.append(PlannedStep(
            name("policy"), [new_policy],
            lambda new_policy=new_policy, policy=policy, new_reward=new_reward, it=it: step_finetune(
                new_policy, policy, new_reward, split.train, config, it),
            {**_finetune_settings(config.finetune), "seed": config.seed, **train_songs},
            {"policy": policy_source, "reward model": name("reward")}))
        evaluation = d / "eval.json"
        plan.append(PlannedStep(
            name("eval"), [evaluation],
            lambda evaluation=evaluation, policy=policy, new_policy=new_policy, it=it, new_reward=new_reward:
                step_evaluate(evaluation, policy, new_policy, split.heldout, config, it, new_reward),
            {"eval_rater": config.eval_rater or config.rater, "eval_raters": config.eval_raters,
             "eval_edits_per_song": config.eval_edits_per_song, "eval_temperature": config.eval_temperature,
             "eval_best_of": config.eval_best_of, "seed": config.seed, **heldout_songs},
            {"old policy": policy_source, "new policy": name("policy"), "reward model": name("reward")}))
        policy, reward = new_policy, new_reward
        policy_source, reward_source = name("policy"), name("reward")
    return plan


def _refuse_redoing_people(plan: Sequence[PlannedStep], state: RunState, record_of: Callable[..., StepRecord]) -> None:
    """Before anything runs: refuse when a change would redo judgments that people gave (the loop cannot
    ask them again), naming what changed. Steps after a step that will be redone will be redone too."""
    redone: set[str] = set()
    for step in plan:
        upstream = sorted(src for src in step.inputs.values() if isinstance(src, str) and src in redone)
        if upstream:
            changes = [f"{name} would be redone" for name in upstream]
        else:
            record = record_of(step)
            if state.done(step.name, record):
                continue
            changes = state.changes(step.name, record) if state.outputs_exist(step.name) else []
        redone.add(step.name)
        if step.people and changes and state.outputs_exist(step.name):
            raise RLHFError(f"{step.name}: people gave these judgments before {'; '.join(changes)}, and the loop "
                            "cannot ask them again; rerun with the earlier settings or give a new --run-dir")


def run_loop(config: LoopConfig) -> LoopResult:
    """Run (or resume) the feedback loop; see the module docstring for the layout.

    Returns
    -------
    LoopResult
        Which steps ran now and which were already complete, why completed steps were
        redone, and each iteration's figures.

    Raises
    ------
    RLHFError
        For bad settings, missing starting files, and (before any step runs) when a
        changed setting would redo preferences that people gave (``db``).
    """
    if config.iterations < 1:
        raise RLHFError(f"iterations must be at least 1, got {config.iterations}")
    if config.pairs < 1:
        raise RLHFError(f"pairs must be at least 1, got {config.pairs}")
    run = Path(config.run_dir).resolve()
    policy = Path(config.policy).resolve() if config.policy else run / "bootstrap" / "policy.pt"
    if config.policy is not None and not policy.is_file():
        raise RLHFError(f"{policy}: no such policy file (--policy)")
    reward = Path(config.bootstrap_reward).resolve() if config.bootstrap_reward else None
    if reward is not None and not reward.is_file():
        raise RLHFError(f"{reward}: no such reward model file (--reward-model)")
    state = RunState(run)
    split = split_songs(config.songs_dir, config.heldout_songs, config.progress)
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run / "split.json", {"train": [a.song_id for a in split.train],
                                           "heldout": [a.song_id for a in split.heldout],
                                           "config": config.to_json()}, indent=1, default=float)
    file_hashes: dict[Path, str] = {}

    def record_of(step: PlannedStep) -> StepRecord:
        """A step made in this run is named by its completion; a file given from outside by its hash."""
        inputs = {}
        for label, source in step.inputs.items():
            if isinstance(source, Path):
                if source not in file_hashes:
                    file_hashes[source] = file_sha256(source)
                inputs[label] = file_hashes[source]
            else:
                inputs[label] = state.identity(source)
        return StepRecord(step.settings, inputs)

    plan = plan_steps(config, run, split, policy, reward)
    _refuse_redoing_people(plan, state, record_of)
    result = LoopResult(run_dir=run, steps_run=[], steps_skipped=[])
    for number, step in enumerate(plan, start=1):
        where = f"[{number}/{len(plan)}] {step.name}"
        record = record_of(step)
        if state.done(step.name, record):
            result.steps_skipped.append(step.name)
            say(f"{where}: done before, skipped", config.progress)
            continue
        changes = state.changes(step.name, record) if state.outputs_exist(step.name) else []
        if changes:
            result.redone[step.name] = changes
            say(f"{where}: {'; '.join(changes)}; redoing it and the steps that use it", True)
            if step.folder is not None and step.folder.is_dir():
                shutil.rmtree(step.folder)
        else:
            say(f"{where} ...", config.progress)
        step.run()
        state.complete(step.name, step.outputs, record)
        result.steps_run.append(step.name)
    for it in range(1, config.iterations + 1):
        d = run / f"iter-{it:02d}"
        result.evaluations.append(json.loads((d / "eval.json").read_text(encoding="utf-8"))["win"])
        result.reward_evaluations.append(json.loads((d / "reward_eval.json").read_text(encoding="utf-8")))
    result.final_policy = run / f"iter-{config.iterations:02d}" / "policy.pt"
    return result


__all__ = ["LoopConfig", "LoopResult", "PlannedStep", "RunState", "SongSplit", "loop_summary", "pair_accuracy",
           "plan_steps", "run_loop", "split_songs"]

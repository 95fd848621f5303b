"""The human-feedback loop: generate -> collect -> train reward -> fine-tune -> evaluate, resumable.

Every model and data set of a run lives in one folder::

    run/
      state.json                 completed steps (a rerun skips them)
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

Each step is a small function; :func:`run_loop` calls them in order and
records each in ``state.json`` once its outputs are written. A step counts as
done only while it is recorded and its outputs exist, so after a crash (or
after deleting a step's output) a rerun does exactly the missing steps, plus
the steps that read what they redid (a new reward model means a new policy).

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

import datetime as _dt
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.io_utils import write_json_atomic
from rl_editor.rlhf.finetune import FinetuneConfig, RLHFError

DEFAULT_CANDIDATE_TEMPERATURES: tuple[float, ...] = (0.3, 0.6, 1.0, 1.5)


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
    reward_epochs, reward_members : int
        Reward training settings.
    finetune : FinetuneConfig
        Fine-tuning settings (``log_dir`` and ``seed`` are set per iteration).
    eval_raters, eval_edits_per_song : int
        Held-out raters, and edit pairs per held-out song.
    eval_temperature : float
        Sampling temperature of both policies in the evaluation.
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
    policy_episodes: int = 300
    policy_n_envs: int = 16
    temperatures: tuple[float, ...] = DEFAULT_CANDIDATE_TEMPERATURES
    per_temperature: int = 4
    reward_epochs: int = 30
    reward_members: int = 3
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval_raters: int = 5
    eval_edits_per_song: int = 8
    eval_temperature: float = 0.5
    seed: int = 0
    progress: bool = True
    db: str | None = None
    wait_timeout_s: float | None = None
    poll_seconds: float = 5.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoopResult:
    """What a run did: the steps run now (others were already done) and each iteration's figures."""

    run_dir: Path
    steps_run: list[str]
    steps_skipped: list[str]
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    reward_evaluations: list[dict[str, Any]] = field(default_factory=list)
    final_policy: Path | None = None


class RunState:
    """``state.json``: which steps of a run are complete, with their outputs."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "state.json"
        self.run_dir = run_dir
        self.steps: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.steps = json.loads(self.path.read_text(encoding="utf-8")).get("completed", {})
            except (json.JSONDecodeError, AttributeError):
                raise RLHFError(f"{self.path}: damaged run state; delete it to redo the run's steps") from None

    def done(self, name: str) -> bool:
        entry = self.steps.get(name)
        return entry is not None and all((self.run_dir / p).exists() for p in entry.get("outputs", []))

    def complete(self, name: str, outputs: Sequence[Path]) -> None:
        self.steps[name] = {
            "outputs": [str(Path(p).relative_to(self.run_dir)) for p in outputs],
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        write_json_atomic(self.path, {"completed": self.steps}, indent=1, default=float)

    def forget(self, name: str) -> None:
        self.steps.pop(name, None)
        write_json_atomic(self.path, {"completed": self.steps}, indent=1, default=float)


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


def step_generate(out_dir: Path, policy: Path, config: LoopConfig, iteration: int) -> Path:
    """Candidates of every song (held-out songs too, for the reward's held-out accuracy)."""
    from rl_editor.generate import GenerateConfig, generate_candidates

    manifest = generate_candidates(GenerateConfig(
        policy, config.songs_dir, out_dir, temperatures=config.temperatures, per_temperature=config.per_temperature,
        workers=1, seed=config.seed + 1000 * iteration, progress=config.progress,
    ))
    return manifest.path


def _sub_manifest(manifest_path: Path, song_ids: set[str]) -> Any:
    from rl_editor.generate import Manifest

    manifest = Manifest.load(manifest_path)
    return Manifest(root=manifest.root, songs=[e for e in manifest.songs if e.song_id in song_ids])


def step_preferences(out: Path, manifest_path: Path, songs: Sequence[SongAnalysis], rater_spec: str,
                     n_pairs: int, seed: int, progress: bool) -> Path:
    """A rater judges ``n_pairs`` pairs of candidates of ``songs``; written as preference JSON.

    ``song_path`` of each pair is rewritten relative to ``out``'s folder so the
    file can be used on its own (``rl-editor train-reward --preferences``).
    """
    from rl_editor.preferences import save_preferences
    from rl_editor.raters import load_rater, synthesize_preferences

    manifest = _sub_manifest(manifest_path, {a.song_id for a in songs})
    pairs = synthesize_preferences(manifest, load_rater(rater_spec, seed=seed), n_pairs=n_pairs, seed=seed,
                                   analyses={a.song_id: a for a in songs}, progress=progress)
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
                                     progress=False)
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
                  iteration: int) -> Path:
    """New policy against the previous one on held-out songs, by held-out raters."""
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

    raters = held_out_raters(config.eval_rater or config.rater, config.eval_raters,
                             seed=10_000 + 100 * iteration + config.seed)
    result = evaluate_policies(old, new, heldout, raters, temperature=config.eval_temperature,
                               seed=config.seed + iteration, edits_per_song=config.eval_edits_per_song)
    say(f"iteration {iteration}: {result.win.summary()}", config.progress)
    return result.save(out)


# ------------------------------------------------------------------ orchestration


def run_loop(config: LoopConfig) -> LoopResult:
    """Run (or resume) the feedback loop; see the module docstring for the layout.

    Returns
    -------
    LoopResult
        Which steps ran now and which were already complete, and each iteration's figures.
    """
    if config.iterations < 1:
        raise RLHFError(f"iterations must be at least 1, got {config.iterations}")
    if config.pairs < 1:
        raise RLHFError(f"pairs must be at least 1, got {config.pairs}")
    run = Path(config.run_dir).resolve()
    state = RunState(run)
    result = LoopResult(run_dir=run, steps_run=[], steps_skipped=[])
    total_steps = 6 * config.iterations + (0 if config.policy else 1) + (0 if config.bootstrap_reward else 2)
    counter = [0]

    def step(name: str, outputs: list[Path], fn: Callable[[], Any], after: Sequence[str | None] = ()) -> None:
        """Run ``fn`` unless done before; a step whose inputs (steps ``after``) were just redone is redone too."""
        counter[0] += 1
        stale = [dep for dep in after if dep is not None and dep in result.steps_run]
        if state.done(name) and not stale:
            result.steps_skipped.append(name)
            say(f"[{counter[0]}/{total_steps}] {name}: done before, skipped", config.progress)
            return
        say(f"[{counter[0]}/{total_steps}] {name} ...", config.progress)
        fn()
        state.complete(name, outputs)
        result.steps_run.append(name)

    policy = Path(config.policy).resolve() if config.policy else run / "bootstrap" / "policy.pt"
    if config.policy is not None and not policy.is_file():
        raise RLHFError(f"{policy}: no such policy file (--policy)")
    reward = Path(config.bootstrap_reward).resolve() if config.bootstrap_reward else None
    if reward is not None and not reward.is_file():
        raise RLHFError(f"{reward}: no such reward model file (--reward-model)")
    split = split_songs(config.songs_dir, config.heldout_songs, config.progress)
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run / "split.json", {"train": [a.song_id for a in split.train],
                                           "heldout": [a.song_id for a in split.heldout],
                                           "config": config.to_json()}, indent=1, default=float)
    policy_step: str | None = None
    reward_step: str | None = None
    if config.policy is None:
        policy_step = "bootstrap/policy"
        step(policy_step, [policy], lambda: step_train_policy(policy, split, config))

    for it in range(1, config.iterations + 1):
        d = run / f"iter-{it:02d}"
        name = lambda what: f"{d.name}/{what}"  # noqa: E731
        manifest = d / "candidates" / "manifest.json"
        step(name("candidates"), [manifest], lambda: step_generate(manifest.parent, policy, config, it),
             after=[policy_step])
        if reward is None:
            boot = run / "bootstrap"
            prefs0, reward0 = boot / "preferences.json", boot / "reward.pt"
            step("bootstrap/preferences", [prefs0], lambda: step_preferences(
                prefs0, manifest, split.train, config.bootstrap_rater, config.pairs, config.seed + 7, config.progress),
                after=[name("candidates")])
            step("bootstrap/reward", [reward0], lambda: step_train_reward(
                reward0, prefs0, split.train, None, config, source=f"{config.bootstrap_rater} preferences"),
                after=["bootstrap/preferences"])
            reward, reward_step = reward0, "bootstrap/reward"
        prefs, new_reward = d / "preferences.json", d / "reward.pt"
        if config.db:
            step(name("preferences"), [prefs], lambda: step_collect_from_people(
                prefs, manifest, split.train, config, campaign=f"{run.name}-{d.name}"), after=[name("candidates")])
        else:
            step(name("preferences"), [prefs], lambda: step_preferences(
                prefs, manifest, split.train, config.rater, config.pairs, config.seed + 100 * it, config.progress),
                after=[name("candidates")])
        step(name("reward"), [new_reward], lambda: step_train_reward(
            new_reward, prefs, split.train, reward, config, source=f"{d.name}/preferences.json"),
            after=[name("preferences"), reward_step])
        reward_eval = d / "reward_eval.json"
        step(name("reward_eval"), [reward_eval], lambda: step_reward_eval(
            reward_eval, manifest, split.heldout, {"new": new_reward, "previous": reward}, config, it),
            after=[name("candidates"), name("reward"), reward_step])
        new_policy = d / "policy.pt"
        step(name("policy"), [new_policy], lambda: step_finetune(
            new_policy, policy, new_reward, split.train, config, it), after=[policy_step, name("reward")])
        evaluation = d / "eval.json"
        step(name("eval"), [evaluation], lambda: step_evaluate(
            evaluation, policy, new_policy, split.heldout, config, it), after=[policy_step, name("policy")])
        result.evaluations.append(json.loads(evaluation.read_text(encoding="utf-8"))["win"])
        result.reward_evaluations.append(json.loads(reward_eval.read_text(encoding="utf-8")))
        policy, reward = new_policy, new_reward
        policy_step, reward_step = name("policy"), name("reward")
    result.final_policy = policy
    return result


__all__ = ["LoopConfig", "LoopResult", "RunState", "SongSplit", "pair_accuracy", "run_loop", "split_songs"]

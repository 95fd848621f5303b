"""The plan of a feedback-loop run: every step in order, with the settings it reads and where its inputs
come from (what :mod:`rl_editor.rlhf.run_state` records to tell a done step from one to redo)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.audio.song import SongAnalysis
from rl_editor.rlhf.finetune import FinetuneConfig
from rl_editor.rlhf.layout import RunLayout
from rl_editor.rlhf.loop_config import LoopConfig
from rl_editor.rlhf.loop_steps import (
    SongSplit,
    step_collect_from_people,
    step_evaluate,
    step_finetune,
    step_generate,
    step_preferences,
    step_render_audio,
    step_reward_eval,
    step_train_policy,
    step_train_reward,
)


def _song_hashes(analyses: Sequence[SongAnalysis]) -> dict[str, str]:
    return {a.song_id: a.content_sha256 for a in analyses}


def _finetune_settings(finetune: FinetuneConfig) -> dict[str, Any]:
    """``finetune.<field>`` of every fine-tuning setting that changes the policy (the seed is set per iteration)."""
    return {f"finetune.{k}": v for k, v in asdict(finetune).items() if k != "seed"}


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


def plan_steps(
    config: LoopConfig, run: Path, split: SongSplit, policy: Path, reward: Path | None, progress: bool = True
) -> list[PlannedStep]:
    """Every step of a run in order, each with the settings it reads and where its inputs come from.

    ``policy`` and ``reward`` are the starting policy and reward model files
    (``reward`` None: the bootstrap steps train one). ``progress``: the steps show progress bars and lines.
    """
    plan: list[PlannedStep] = []
    layout = RunLayout(run)
    train_songs = {"training songs": _song_hashes(split.train), "heldout_songs": config.heldout_songs}
    heldout_songs = {"held-out songs": _song_hashes(split.heldout), "heldout_songs": config.heldout_songs}
    reward_settings = {
        "reward_epochs": config.reward_epochs,
        "reward_members": config.reward_members,
        "reward_val_frac": config.reward_val_frac,
        "seed": config.seed,
        **train_songs,
    }
    # where the current policy and reward model come from: a step of this run, or a file given from outside
    policy_source: str | Path = policy
    reward_source: str | Path | None = reward
    if config.policy is None:
        policy_source = "bootstrap/policy"
        plan.append(
            PlannedStep(
                policy_source,
                [policy],
                lambda policy=policy: step_train_policy(policy, split, config, progress),
                {
                    "seed": config.seed,
                    "policy_n_envs": config.policy_n_envs,
                    "policy_episodes": config.policy_episodes,
                    **train_songs,
                },
            )
        )

    for it in range(1, config.iterations + 1):
        d = layout.iteration(it)
        name = lambda what, d=d: f"{d.name}/{what}"  # noqa: E731
        manifest = d.manifest
        plan.append(
            PlannedStep(
                name("candidates"),
                [manifest],
                lambda manifest=manifest, policy=policy, it=it: step_generate(
                    manifest.parent, policy, config, it, progress=progress
                ),
                {
                    "temperatures": list(config.temperatures),
                    "per_temperature": config.per_temperature,
                    "targets": list(config.targets),
                    "content_variants": config.content_variants,
                    "seed": config.seed,
                    "songs": _song_hashes(split.train + split.heldout),
                },
                {"policy": policy_source},
                folder=manifest.parent,
            )
        )
        if reward is None:
            prefs0, reward0 = layout.bootstrap_preferences, layout.bootstrap_reward
            plan.append(
                PlannedStep(
                    "bootstrap/preferences",
                    [prefs0],
                    lambda manifest=manifest, prefs0=prefs0: step_preferences(
                        prefs0,
                        manifest,
                        split.train,
                        config.bootstrap_rater,
                        config.pairs,
                        config.seed + 7,
                        progress,
                        min_differing_s=config.min_differing_s,
                    ),
                    {
                        "bootstrap_rater": config.bootstrap_rater,
                        "pairs": config.pairs,
                        "seed": config.seed,
                        "min_differing_s": config.min_differing_s,
                        **train_songs,
                    },
                    {"candidates": name("candidates")},
                )
            )
            plan.append(
                PlannedStep(
                    "bootstrap/reward",
                    [reward0],
                    lambda prefs0=prefs0, reward0=reward0: step_train_reward(
                        reward0, prefs0, split.train, None, config, source=f"{config.bootstrap_rater} preferences"
                    ),
                    {**reward_settings, "bootstrap_rater": config.bootstrap_rater},
                    {"preferences": "bootstrap/preferences"},
                )
            )
            reward, reward_source = reward0, "bootstrap/reward"
        assert reward_source is not None  # given, or trained by the bootstrap steps above
        prefs, new_reward = d.preferences, d.reward
        preference_settings = {
            "rater": None if config.db else config.rater,
            "db": config.db,
            "pairs": config.pairs,
            "seed": config.seed,
            **train_songs,
        }
        if not config.db:
            preference_settings.update(pair_selection=config.pair_selection, min_differing_s=config.min_differing_s)
        collect: Callable[..., Any]
        if config.db:
            audio = d.audio_marker
            plan.append(
                PlannedStep(
                    name("audio"),
                    [audio],
                    lambda audio=audio, policy=policy, it=it: step_render_audio(audio, policy, config, it, progress),
                    {},
                    {"candidates": name("candidates")},
                )
            )
            collect = lambda prefs=prefs, manifest=manifest, d=d: step_collect_from_people(  # noqa: E731
                prefs, manifest, split.train, config, campaign=f"{run.name}-{d.name}", progress=progress
            )
        else:
            collect = lambda prefs=prefs, manifest=manifest, it=it, reward=reward: step_preferences(  # noqa: E731
                prefs,
                manifest,
                split.train,
                config.rater,
                config.pairs,
                config.seed + 100 * it,
                progress,
                selection=config.pair_selection,
                reward=reward,
                min_differing_s=config.min_differing_s,
            )
        preference_inputs: dict[str, str | Path] = {"candidates": name("candidates")}
        if config.db:
            preference_inputs["candidates' audio"] = name("audio")
        if not config.db and config.pair_selection != "random" and reward_source is not None:
            preference_inputs["reward model choosing the pairs"] = reward_source
        plan.append(
            PlannedStep(
                name("preferences"), [prefs], collect, preference_settings, preference_inputs, people=bool(config.db)
            )
        )
        plan.append(
            PlannedStep(
                name("reward"),
                [new_reward],
                lambda new_reward=new_reward, prefs=prefs, reward=reward, d=d: step_train_reward(
                    new_reward, prefs, split.train, reward, config, source=f"{d.name}/preferences.json"
                ),
                reward_settings,
                {"preferences": name("preferences"), "previous reward model": reward_source},
            )
        )
        reward_eval = d.reward_eval
        plan.append(
            PlannedStep(
                name("reward_eval"),
                [reward_eval],
                lambda reward_eval=reward_eval, manifest=manifest, new_reward=new_reward, reward=reward, it=it: (
                    step_reward_eval(
                        reward_eval, manifest, split.heldout, {"new": new_reward, "previous": reward}, config, it
                    )
                ),
                {"eval_rater": config.eval_rater or config.rater, "seed": config.seed, **heldout_songs},
                {
                    "candidates": name("candidates"),
                    "reward model": name("reward"),
                    "previous reward model": reward_source,
                },
            )
        )
        new_policy = d.policy
        plan.append(
            PlannedStep(
                name("policy"),
                [new_policy],
                lambda new_policy=new_policy, policy=policy, new_reward=new_reward, it=it: step_finetune(
                    new_policy, policy, new_reward, split.train, config, it, progress
                ),
                {**_finetune_settings(config.finetune), "seed": config.seed, **train_songs},
                {"policy": policy_source, "reward model": name("reward")},
            )
        )
        evaluation = d.eval
        plan.append(
            PlannedStep(
                name("eval"),
                [evaluation],
                lambda evaluation=evaluation, policy=policy, new_policy=new_policy, it=it, new_reward=new_reward: (
                    step_evaluate(evaluation, policy, new_policy, split.heldout, config, it, progress, new_reward)
                ),
                {
                    "eval_rater": config.eval_rater or config.rater,
                    "eval_raters": config.eval_raters,
                    "eval_edits_per_song": config.eval_edits_per_song,
                    "eval_temperature": config.eval_temperature,
                    "eval_best_of": config.eval_best_of,
                    "seed": config.seed,
                    **heldout_songs,
                },
                {"old policy": policy_source, "new policy": name("policy"), "reward model": name("reward")},
            )
        )
        policy, reward = new_policy, new_reward
        policy_source, reward_source = name("policy"), name("reward")
    return plan


__all__ = ["PlannedStep", "plan_steps"]

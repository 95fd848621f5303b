"""``rl-editor train-policy``: train the editing policy on a folder of songs.

The command is a thin layer over :class:`rl_editor.policy.trainer.PPOTrainer`:
pick the starting policy, pick the reward, train, save. Learning curves
(``learning_curve.csv``) and TensorBoard logs go to ``<out stem>_logs/`` next
to the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rl_editor.rlhf.finetune import FinetuneConfig
from rl_editor.rlhf.loop_config import LoopConfig

# the options' defaults come from the configs
FINETUNE = FinetuneConfig()
DENSE_POLICY_EPISODES = LoopConfig.policy_episodes


def starting_trainer(
    init: Path | None = None, *, seed: int | None = None, target_keep: float | None = None, n_envs: int | None = None
) -> Any:
    """The trainer to train: fresh (``PolicyConfig`` defaults where a setting is ``None``), or
    continued from the policy file ``init``.

    Continuing keeps the checkpoint's settings except those given here (the
    seed and the target length may change; the number of parallel songs is
    part of the saved PPO rollout buffer and may not).
    """
    from rl_editor.policy.config import PolicyConfig
    from rl_editor.policy.errors import PolicyError
    from rl_editor.policy.trainer import PPOTrainer

    if init is None:
        config = PolicyConfig()
        if seed is not None:
            config.seed = int(seed)
        if n_envs is not None:
            config.n_envs = int(n_envs)
        if target_keep is not None:
            config.env.reward.target_keep_share = float(target_keep)
        return PPOTrainer(config)
    trainer = PPOTrainer.from_checkpoint(init)
    if n_envs is not None and n_envs != trainer.config.n_envs:
        raise PolicyError(
            f"--n-envs {n_envs}: {init} was trained with {trainer.config.n_envs} songs in parallel, "
            "and continuing keeps that number"
        )
    if seed is not None:
        trainer.config.seed = int(seed)
    if target_keep is not None:
        trainer.config.env.reward.target_keep_share = float(target_keep)
    return trainer


def train_policy(
    songs: Path = typer.Option(..., "--songs", help="Folder of audio files to train on."),
    episodes: int = typer.Option(
        DENSE_POLICY_EPISODES, "--episodes", min=1, help="Episodes (one song edited once each)."
    ),
    out: Path = typer.Option(..., "--out", help="Policy file to write (.pt)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of torch, numpy and the song order [default: 0]."),
    target_keep: float | None = typer.Option(
        None,
        "--target-keep",
        min=0.05,
        max=1.0,
        help="Edit length the policy picks when none is asked for, as a share of the song "
        "(dense reward) [default: 0.75, or --init's]. Asked-for lengths are trained over 0.3-0.95.",
    ),
    n_envs: int | None = typer.Option(
        None, "--n-envs", min=1, help="Songs edited in parallel during training [default: 16, or --init's]."
    ),
    init: Path | None = typer.Option(
        None, "--init", help="Policy file to continue from (required with --reward-model)."
    ),
    reward_model: Path | None = typer.Option(
        None, "--reward-model", help="Learned reward model: fine-tune --init on it (RLHF) instead of the dense reward."
    ),
    kl_coef: float = typer.Option(
        FINETUNE.kl_coef, "--kl-coef", min=0.0, help="With --reward-model: weight of the KL penalty to --init."
    ),
    uncertainty_coef: float = typer.Option(
        FINETUNE.uncertainty_coef,
        "--uncertainty-coef",
        min=0.0,
        help="With --reward-model: reward = mean - this x ensemble spread.",
    ),
) -> None:
    """Train the editing policy with PPO: on the dense reward, or (--init + --reward-model) on a learned reward."""
    if reward_model is not None:
        from rl_editor.policy.errors import PolicyError
        from rl_editor.rlhf.commands import finetune_from_cli

        if init is None:
            raise PolicyError(
                "--reward-model needs --init POLICY: fine-tuning stays close to the policy it starts from"
            )
        ignored = [flag for flag, value in (("--target-keep", target_keep), ("--n-envs", n_envs)) if value is not None]
        if ignored:
            raise PolicyError(
                f"{' and '.join(ignored)}: not used with --reward-model (fine-tuning keeps --init's "
                "settings; the learned reward decides the length)"
            )
        finetune_from_cli(
            init,
            reward_model,
            songs,
            out,
            episodes=episodes,
            kl_coef=kl_coef,
            uncertainty_coef=uncertainty_coef,
            seed=FINETUNE.seed if seed is None else seed,
        )
        return

    from rl_editor.rlhf.layout import logs_dir_for

    trainer = starting_trainer(init, seed=seed, target_keep=target_keep, n_envs=n_envs)
    log_dir = logs_dir_for(out)
    trainer.train(episodes, songs_dir=songs, progress=True, reward_source="dense", log_dir=log_dir)
    path = trainer.save_checkpoint(out)
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in trainer.meta.metrics.items())
    typer.echo(f"wrote {path} ({trainer.meta.version}); {metrics}")
    typer.echo(f"learning curves: {log_dir / 'learning_curve.csv'}, TensorBoard: {log_dir / 'tensorboard'}")


def register(app: typer.Typer) -> None:
    """Add the policy commands to the ``rl-editor`` app."""
    app.command("train-policy")(train_policy)

"""``rl-editor train-policy``: train the editing policy on a folder of songs.

The command is a thin layer over :class:`rl_editor.policy.trainer.PPOTrainer`:
pick the starting policy, pick the reward, train, save. Learning curves
(``learning_curve.csv``) and TensorBoard logs go to ``<out stem>_logs/`` next
to the checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer


def logs_dir_for(checkpoint: Path) -> Path:
    """Folder beside a checkpoint that holds its learning curves."""
    return checkpoint.with_name(f"{checkpoint.stem}_logs")


def starting_trainer(config: Any, init: Optional[Path] = None) -> Any:
    """The trainer to train: fresh from ``config``, or continued from the policy file ``init``.

    This is where ``--init POLICY`` plugs in (fine-tuning from a checkpoint).
    """
    from rl_editor.policy.trainer import PPOTrainer

    if init is None:
        return PPOTrainer(config)
    return PPOTrainer.from_checkpoint(init)


def episode_reward(reward_model: Optional[Path] = None, **options: Any) -> tuple[Optional[Callable], str]:
    """The learned episode reward and its name for the checkpoint's lineage.

    Returns ``(None, "dense")`` for dense-reward training. This is where
    ``--reward-model REWARD`` (and options such as ``--kl-coef``) plug in: return
    ``(fn, reward_model_version)`` with ``fn(analyses, actions) -> ndarray``.
    """
    if reward_model is None:
        return None, "dense"
    from rl_editor.policy.env import PolicyError

    raise PolicyError(f"{reward_model}: training on a learned reward model is not available in this command yet")


def train_policy(
    songs: Path = typer.Option(..., "--songs", help="Folder of audio files to train on."),
    episodes: int = typer.Option(500, "--episodes", min=1, help="Episodes (one song edited once each)."),
    out: Path = typer.Option(..., "--out", help="Policy file to write (.pt)."),
    seed: int = typer.Option(0, "--seed", help="Seed of torch, numpy and the song order."),
    target_keep: float = typer.Option(0.75, "--target-keep", min=0.05, max=1.0,
                                      help="Wanted edit length as a share of the original."),
    n_envs: int = typer.Option(16, "--n-envs", min=1, help="Songs edited in parallel during training."),
) -> None:
    """Train the editing policy with PPO on the dense reward; writes one policy file."""
    from rl_editor.policy.trainer import PolicyConfig

    config = PolicyConfig(seed=seed, target_keep_share=target_keep, n_envs=n_envs)
    trainer = starting_trainer(config, init=None)
    reward_fn, reward_source = episode_reward(reward_model=None)
    log_dir = logs_dir_for(out)
    trainer.train(
        episodes,
        songs_dir=songs,
        progress=True,
        episode_reward_fn=reward_fn,
        reward_source=reward_source,
        log_dir=log_dir,
    )
    path = trainer.save_checkpoint(out)
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in trainer.meta.metrics.items())
    typer.echo(f"wrote {path} ({trainer.meta.version}); {metrics}")
    typer.echo(f"learning curves: {log_dir / 'learning_curve.csv'}, TensorBoard: {log_dir / 'tensorboard'}")


def register(app: typer.Typer) -> None:
    """Add the policy commands to the ``rl-editor`` app."""
    app.command("train-policy")(train_policy)

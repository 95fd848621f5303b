"""``PolicyConfig``: every knob of policy training, with defaults that work on a laptop.

Written into and read from policy files with :func:`rl_editor.config.config_to_json` /
:func:`rl_editor.config.config_from_json` (unknown keys refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rl_editor.policy.env import EnvConfig


@dataclass
class PolicyConfig:
    """Every knob of policy training, with defaults that work on a laptop.

    Attributes
    ----------
    n_envs, n_steps : int
        Songs stepping together, and steps (phrase decisions) per song per PPO rollout.
    batch_size, n_epochs : int
        PPO minibatch size and passes over each rollout.
    learning_rate, gamma, gae_lambda, clip_range, ent_coef, vf_coef, max_grad_norm : float
        The usual PPO hyperparameters.
    net_arch : list of int
        Hidden layer sizes of the policy and value networks (separate networks).
    seed : int
        Seeds torch, numpy, the song order and the training targets.
    temperature : float
        Default sampling temperature of ``generate_edit`` (0 = greedy).
    preferred_target : float or None
        The length (share of the song) edits get when none is asked for; None
        means the dense reward's ``env.reward.target_keep_share``. Fine-tuning
        sets it to the length the learned reward prefers
        (:func:`rl_editor.rlhf.finetune.preferred_length`).
    torch_threads : int
        Threads torch may use (1 keeps runs reproducible and polite on shared machines).
    env : EnvConfig
        The environment: phrase-level constraints, observation, target lengths,
        dense reward weights (``env.reward.target_keep_share`` is the length
        aimed at when no target is given).
    """

    n_envs: int = 16
    n_steps: int = 64
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.05
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: list[int] = field(default_factory=lambda: [128, 128])
    seed: int = 0
    temperature: float = 0.5
    preferred_target: float | None = None
    torch_threads: int = 1
    env: EnvConfig = field(default_factory=EnvConfig)

    @property
    def target_keep_share(self) -> float:
        """The length aimed at when no target is given (``env.reward.target_keep_share``)."""
        return self.env.reward.target_keep_share


__all__ = ["PolicyConfig"]

"""``EnvConfig`` and ``PolicyConfig``: every knob of the environment and of policy training,
with defaults that work on a laptop.

Written into and read from policy files with :func:`rl_editor.config.config_to_json` /
:func:`rl_editor.config.config_from_json` (unknown keys refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rl_editor.policy.dense_reward import DenseRewardConfig


@dataclass
class EnvConfig:
    """Everything that shapes the environment.

    Attributes
    ----------
    max_cut_phrases : int
        Most phrases cut in a row (one splice removes at most this many).
    n_jump_options : int
        Resume points (phrases ahead) whose splice cost the policy observes.
    editorial_cuts : bool
        Cuts span a multiple of 4 bars or end on a section boundary (masked).
    resume_options : int
        With ``editorial_cuts``, a cut from a phrase may end only at the
        ``resume_options`` editorial ends of cheapest splice-point cost
        (:func:`rl_editor.audio.jumps.splice_point_cost`: a smooth seam into music like
        what would have followed); 0 offers every editorial end.
    allow_repeat : bool
        Whether the repeat action is available at all.
    lookback, lookahead : int
        Phrases before / after the current one whose features are observed.
    target_range : tuple of float
        Target lengths (shares of the song) drawn uniformly for training episodes.
    free_share : float
        Share of training episodes without a target (the policy picks the
        length). 0 by default: the trainer asks for the policy's own length as
        an explicit target (``PolicyConfig.preferred_target``), which one
        decision sets far more reliably than free episodes taught it.
    dense_reward_scale : float
        Multiplies the dense quality terms (splices, bar lines, sections, repeats).
    target_length_scale, free_length_scale : float
        Multiply the length terms in episodes with / without a target.
    reward : DenseRewardConfig
        Weights of the dense terms (its ``target_keep_share`` is the length aimed at without a target).
    """

    max_cut_phrases: int = 24
    n_jump_options: int = 8
    editorial_cuts: bool = True
    resume_options: int = 4
    allow_repeat: bool = True
    lookback: int = 0
    lookahead: int = 1
    target_range: tuple[float, float] = (0.3, 0.95)
    free_share: float = 0.0
    dense_reward_scale: float = 1.0
    target_length_scale: float = 1.0
    free_length_scale: float = 1.0
    reward: DenseRewardConfig = field(default_factory=DenseRewardConfig)


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


__all__ = ["EnvConfig", "PolicyConfig"]

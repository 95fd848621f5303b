"""The editing policy: a batched environment, its dense reward, and PPO training.

- :mod:`~rl_editor.policy.env`: ``EditVecEnv`` (a Stable-Baselines3 ``VecEnv``
  stepping many songs at once, with action masks).
- :mod:`~rl_editor.policy.config`: ``EnvConfig`` and ``PolicyConfig``.
- :mod:`~rl_editor.policy.dense_reward`: ``DenseRewardConfig`` and
  ``score_edit(analysis, actions)``.
- :mod:`~rl_editor.policy.trainer`: ``PPOTrainer``.

Names load on first use, so importing the package (and ``rl-editor --help``)
does not import torch.

>>> from rl_editor.policy import PPOTrainer  # doctest: +SKIP
>>> policy = PPOTrainer.from_checkpoint("models/policy.pt")  # doctest: +SKIP
>>> actions = policy.generate_edit(analysis, temperature=0.5, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rl_editor.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "config": ["EnvConfig", "PolicyConfig"],
        "dense_reward": ["DenseRewardConfig", "score_edit", "edit_stats"],
        "env": ["EditVecEnv"],
        "errors": ["PolicyError"],
        "trainer": ["PPOTrainer"],
    },
)

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.policy.config import EnvConfig, PolicyConfig
    from rl_editor.policy.dense_reward import DenseRewardConfig, edit_stats, score_edit
    from rl_editor.policy.env import EditVecEnv
    from rl_editor.policy.errors import PolicyError
    from rl_editor.policy.trainer import PPOTrainer

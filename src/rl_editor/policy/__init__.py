"""The editing policy: a batched environment, its dense reward, and PPO training.

- :mod:`~rl_editor.policy.env`: ``EditVecEnv`` (a Stable-Baselines3 ``VecEnv``
  stepping many songs at once, with action masks) and ``EnvConfig``.
- :mod:`~rl_editor.policy.dense_reward`: ``DenseRewardConfig`` and
  ``score_edit(analysis, actions)``.
- :mod:`~rl_editor.policy.trainer`: ``PPOTrainer`` and ``PolicyConfig``.

Names load on first use, so importing the package (and ``rl-editor --help``)
does not import torch.

>>> from rl_editor.policy import PPOTrainer  # doctest: +SKIP
>>> policy = PPOTrainer.from_checkpoint("models/policy.pt")  # doctest: +SKIP
>>> actions = policy.generate_edit(analysis, temperature=0.5, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "DenseRewardConfig": "rl_editor.policy.dense_reward",
    "score_edit": "rl_editor.policy.dense_reward",
    "edit_stats": "rl_editor.policy.dense_reward",
    "EditVecEnv": "rl_editor.policy.env",
    "EnvConfig": "rl_editor.policy.env",
    "PolicyError": "rl_editor.policy.env",
    "PPOTrainer": "rl_editor.policy.trainer",
    "PolicyConfig": "rl_editor.policy.trainer",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.policy.dense_reward import DenseRewardConfig, edit_stats, score_edit
    from rl_editor.policy.env import EditVecEnv, EnvConfig, PolicyError
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'rl_editor.policy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

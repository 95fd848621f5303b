"""The learned reward model: score whole edits from their actions, learn from judged pairs.

>>> from rl_editor.reward import load_reward_model  # doctest: +SKIP
>>> mean, std = load_reward_model("models/reward.pt").score(analysis, actions_batch)  # doctest: +SKIP

Names load on first use so ``rl-editor --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "LearnedRewardModel": "rl_editor.reward.model",
    "RewardEnsemble": "rl_editor.reward.model",
    "RewardModelError": "rl_editor.reward.model",
    "Calibration": "rl_editor.reward.model",
    "load_reward_model": "rl_editor.reward.model",
    "edit_context": "rl_editor.reward.features",
    "align_to_song": "rl_editor.reward.features",
    "CONTEXT_NAMES": "rl_editor.reward.features",
    "RewardTrainConfig": "rl_editor.reward.train",
    "TrainReport": "rl_editor.reward.train",
    "RewardTrainingError": "rl_editor.reward.train",
    "train_reward_model": "rl_editor.reward.train",
    "reward_meta": "rl_editor.reward.train",
    "PessimisticScore": "rl_editor.reward.pessimism",
    "pessimistic_reward": "rl_editor.reward.pessimism",
    "RankedPair": "rl_editor.reward.select",
    "select_pairs": "rl_editor.reward.select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rl_editor.reward' has no attribute {name!r}")

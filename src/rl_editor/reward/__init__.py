"""The learned reward model: score whole edits from their actions, learn from judged pairs.

>>> from rl_editor.reward import load_reward_model  # doctest: +SKIP
>>> mean, std = load_reward_model("models/reward.pt").score(analysis, actions_batch)  # doctest: +SKIP

Names load on first use so ``rl-editor --help`` does not import torch.
"""

from __future__ import annotations

from rl_editor.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "model": ["LearnedRewardModel", "RewardEnsemble", "RewardModelError", "Calibration", "load_reward_model"],
        "features": ["edit_context", "CONTEXT_NAMES"],
        "train": ["RewardTrainConfig", "TrainReport", "RewardTrainingError", "train_reward_model", "reward_meta"],
        "pessimism": ["PessimisticScore", "pessimistic_reward"],
        "select": ["RankedPair", "select_pairs"],
    },
)

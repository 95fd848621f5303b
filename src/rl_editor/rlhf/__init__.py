"""RLHF: fine-tune on the learned reward, evaluate old against new, the loop, report, demo, editing songs.

>>> from rl_editor.rlhf import FinetuneConfig, finetune_policy  # doctest: +SKIP
>>> trainer = finetune_policy("policy.pt", "reward.pt", FinetuneConfig(episodes=500), songs_dir="songs")  # doctest: +SKIP

Names load on first use so ``rl-editor --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "FinetuneConfig": "rl_editor.rlhf.finetune",
    "KLRegularizedReward": "rl_editor.policy.episode_reward",
    "FinetuneCurveLogger": "rl_editor.rlhf.finetune_log",
    "LearnedEpisodeReward": "rl_editor.rlhf.finetune",
    "RLHFError": "rl_editor.rlhf.finetune",
    "finetune_policy": "rl_editor.rlhf.finetune",
    "EvaluationResult": "rl_editor.rlhf.evaluate",
    "evaluate_policies": "rl_editor.rlhf.evaluate",
    "held_out_raters": "rl_editor.rlhf.evaluate",
    "create_evaluation_campaign": "rl_editor.rlhf.evaluate",
    "campaign_result": "rl_editor.rlhf.evaluate",
    "LoopConfig": "rl_editor.rlhf.loop",
    "LoopResult": "rl_editor.rlhf.loop",
    "run_loop": "rl_editor.rlhf.loop",
    "write_report": "rl_editor.rlhf.report",
    "DemoConfig": "rl_editor.rlhf.demo",
    "run_demo": "rl_editor.rlhf.demo",
    "EditConfig": "rl_editor.rlhf.edit",
    "edit_songs": "rl_editor.rlhf.edit",
    "parse_length": "rl_editor.rlhf.edit",
    "loop_summary": "rl_editor.rlhf.loop",
    "WinRate": "rl_editor.rlhf.winrate",
    "win_rate": "rl_editor.rlhf.winrate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rl_editor.rlhf' has no attribute {name!r}")

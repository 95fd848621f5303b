"""RLHF: fine-tune on the learned reward, evaluate old against new, the loop, report, demo, editing songs.

>>> from rl_editor.rlhf import FinetuneConfig, finetune_policy  # doctest: +SKIP
>>> trainer = finetune_policy("policy.pt", "reward.pt", FinetuneConfig(episodes=500), songs_dir="songs")  # doctest: +SKIP

Names load on first use so ``rl-editor --help`` does not import torch.
"""

from __future__ import annotations

from rl_editor.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "errors": ["RLHFError"],
        "finetune": ["FinetuneConfig", "LearnedEpisodeReward", "finetune_policy"],
        "finetune_log": ["FinetuneCurveLogger"],
        "evaluation_result": ["EvaluationResult"],
        "evaluate": [
            "evaluate_policies",
            "held_out_raters",
            "create_evaluation_campaign",
            "campaign_result",
        ],
        "loop": ["LoopConfig", "LoopResult", "run_loop", "loop_summary"],
        "report": ["write_report"],
        "demo": ["DemoConfig", "run_demo"],
        "edit": ["EditConfig", "edit_songs", "parse_length"],
        "winrate": ["WinRate", "win_rate"],
    },
)

"""The fine-tuning curve: learned reward, KL, entropy and dense terms of every episode, side by side.

Reward hacking, a learned reward rising while the quality terms fall, shows in
these curves. :class:`FinetuneCurveLogger` is a Stable-Baselines3 callback
that only reads: each finished episode's ``infos`` carry the reward terms that
the episode reward (:class:`~rl_editor.policy.episode_reward.KLRegularizedReward`
over :class:`~rl_editor.rlhf.finetune.LearnedEpisodeReward`) reported. Rows go
to ``finetune_curve.csv``; rollout means go to TensorBoard as ``rlhf/*``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl_editor.audio.song import SongAnalysis
from rl_editor.policy.dense_reward import TERM_NAMES, edit_stats

EDIT_FIGURES = (
    "keep_share",
    "duration_share",
    "splices_per_minute",
    "repeat_share",
    "bar_line_share",
    "mean_splice_quality",
)
"""The :func:`~rl_editor.policy.dense_reward.edit_stats` figures of each episode's edit in the curve."""

FINETUNE_CURVE_FIELDS = (
    "episode",
    "timesteps",
    "song_id",
    "learned_reward",
    "learned_reward_raw",
    "reward_std",
    "kl",
    "kl_penalty",
    "entropy",
    *[f"dense_{k}" for k in TERM_NAMES],
    "dense_total",
    *EDIT_FIGURES,
    "target",
)
REWARD_COLUMNS = ("learned_reward", "learned_reward_raw", "reward_std", "kl", "kl_penalty", "entropy")
TENSORBOARD_COLUMNS = (*REWARD_COLUMNS, "dense_total", "keep_share")


class FinetuneCurveLogger(BaseCallback):
    """One row per finished fine-tuning episode (``FINETUNE_CURVE_FIELDS``), read from the environment's infos.

    Parameters
    ----------
    csv_path : path, optional
        Where the rows go (none written without it; ``rows`` holds them either way).
    """

    def __init__(self, csv_path: str | Path | None = None) -> None:
        super().__init__()
        self.csv_path = Path(csv_path) if csv_path else None
        self.rows: list[dict[str, Any]] = []
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._rollout_rows = 0
        self._analyses: list[SongAnalysis] = []

    def _on_training_start(self) -> None:
        self._analyses = self.training_env.get_attr("analyses")[0]
        if self.csv_path is not None:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=FINETUNE_CURVE_FIELDS)
            self._writer.writeheader()

    def _row(self, info: dict[str, Any]) -> dict[str, Any]:
        terms = info["episode_reward_terms"]
        stats = edit_stats(self._analyses[info["song_index"]], info["episode_actions"])
        return {
            "episode": len(self.rows) + 1,
            "timesteps": self.num_timesteps,
            "song_id": info["song_id"],
            **{name: terms.get(name, float("nan")) for name in REWARD_COLUMNS},
            **{f"dense_{t}": info["dense_terms"][t] for t in TERM_NAMES},
            "dense_total": info["dense_terms"]["total"],
            **{s: stats[s] for s in EDIT_FIGURES},
            "target": info.get("target", float("nan")),
        }

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode_reward_terms" not in info or "dense_terms" not in info:
                continue
            row = self._row(info)
            self.rows.append(row)
            self._rollout_rows += 1
            if self._writer is not None:
                self._writer.writerow(row)
        return True

    def _on_rollout_end(self) -> None:
        recent = self.rows[-self._rollout_rows :] if self._rollout_rows else []
        self._rollout_rows = 0
        if not recent:
            return
        for key in TENSORBOARD_COLUMNS:
            self.logger.record(f"rlhf/{key}", float(np.nanmean([r[key] for r in recent])))
        if self._file is not None:
            self._file.flush()

    def _on_training_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


__all__ = ["FINETUNE_CURVE_FIELDS", "FinetuneCurveLogger"]

"""The learning curve of policy training: one row per finished episode, a progress bar, the stop."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl_editor.policy.dense_reward import TERM_NAMES, edit_stats
from rl_editor.policy.env import EditVecEnv

EDIT_FIGURES = (
    "keep_share",
    "duration_share",
    "cut_share",
    "repeat_share",
    "n_splices",
    "splices_per_minute",
    "bar_line_share",
    "mean_splice_quality",
)
"""The :func:`~rl_editor.policy.dense_reward.edit_stats` figures of each episode's edit in the curve."""

LEARNING_CURVE_FIELDS = (
    "episode",
    "timesteps",
    "song_id",
    "episode_reward",
    *[f"dense_{k}" for k in TERM_NAMES],
    "dense_total",
    "learned_reward",
    "target",
    *EDIT_FIGURES,
    "entropy",
    "approx_kl",
)


class EpisodeLogger(BaseCallback):
    """Counts finished episodes, writes the learning curve, shows progress, stops training.

    Stops at the first step of the rollout after the one in which ``episodes`` was reached,
    so the last full rollout is still trained on.
    """

    def __init__(self, episodes: int, env: EditVecEnv, log_dir: str | Path | None, progress: bool) -> None:
        super().__init__()
        self.episodes, self.env_ref, self.progress = episodes, env, progress
        self.rows: list[dict[str, Any]] = []
        self.n_episodes = 0
        self._stop = False
        self._csv_path = Path(log_dir) / "learning_curve.csv" if log_dir else None
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._bar: Any = None

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.episodes, desc="training policy", unit="episode", disable=not self.progress)
        if self._csv_path is not None:
            self._csv_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=LEARNING_CURVE_FIELDS)
            self._writer.writeheader()

    def _on_rollout_start(self) -> None:
        if self.n_episodes >= self.episodes:
            self._stop = True

    def _on_step(self) -> bool:
        if self._stop:
            return False
        values = self.model.logger.name_to_value
        entropy = -values["train/entropy_loss"] if "train/entropy_loss" in values else float("nan")
        approx_kl = values.get("train/approx_kl", float("nan"))
        for info in self.locals["infos"]:
            if "dense_terms" not in info:
                continue
            self.n_episodes += 1
            terms = info["dense_terms"]
            stats = edit_stats(self.env_ref.analyses[info["song_index"]], info["episode_actions"])
            row = {
                "episode": self.n_episodes,
                "timesteps": self.num_timesteps,
                "song_id": info["song_id"],
                "episode_reward": info["episode"]["r"],
                **{f"dense_{k}": terms[k] for k in TERM_NAMES},
                "dense_total": terms["total"],
                # the learned reward alone, without a penalty the episode reward adds (fine-tuning's KL)
                "learned_reward": info.get("episode_reward_terms", {}).get(
                    "learned_reward", info.get("learned_reward", float("nan"))
                ),
                "target": info.get("target", float("nan")),
                **{k: stats[k] for k in EDIT_FIGURES},
                "entropy": entropy,
                "approx_kl": approx_kl,
            }
            self.rows.append(row)
            if self._writer is not None:
                self._writer.writerow(row)
            if self._bar is not None and self.n_episodes <= self.episodes:
                self._bar.update(1)
        if self._bar is not None and self.rows:
            recent = self.rows[-20:]
            self._bar.set_postfix(
                reward=f"{np.mean([r['episode_reward'] for r in recent]):.2f}",
                keep=f"{np.mean([r['duration_share'] for r in recent]):.2f}",
                refresh=False,
            )
        return True

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._file is not None:
            self._file.close()


__all__ = ["LEARNING_CURVE_FIELDS", "EpisodeLogger"]

"""Settings, errors and report of reward training (:mod:`rl_editor.reward.train`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rl_editor.errors import RlEditorError
from rl_editor.reward.losses import DEFAULT_STRENGTH_WEIGHTS


class RewardTrainingError(RlEditorError):
    """Preference data or settings the reward trainer cannot use."""


@dataclass
class RewardTrainConfig:
    """Every knob of reward training; CLI flags map one to one.

    Attributes
    ----------
    epochs : int
        Passes over the training pairs per member.
    loss : str
        ``"bt-ordinal"`` (default: Rao-Kupper with strength thresholds; the best on
        unseen songs where pairs are few, ``benchmarks/bench_reward_sample_efficiency.py``),
        ``"bt"`` (Davidson Bradley-Terry with strength weights) or
        ``"mse-margin"`` (the pipeline design's v8 regression); see
        :mod:`rl_editor.reward.losses`.
    val_frac : float
        Share of songs (hence pairs) set aside for validation (used for early
        stopping, so not a test set); 0 disables it.
    members : int
        Ensemble size.
    hidden : int
        Width of each member's layers.
    lr, weight_decay : float
        Adam settings.
    batch_size : int
        Pairs per gradient step.
    patience : int
        Epochs without a better validation log-likelihood before a member stops.
    bootstrap : bool
        Resample training pairs with replacement per member.
    strength_weights : tuple of float
        Weight of a pair of strength 1, 2, 3 in the ``bt`` loss.
    rater_weights : dict, optional
        ``{rater: weight}``; raters not listed weigh 1, weight 0 drops a rater.
    manifest : str, optional
        Manifest used to find songs of pairs.
    base_dir : str, optional
        Folder that relative ``song_path`` keys are relative to.
    seed : int
    progress : bool
        Show tqdm bars (song analysis, training) and per-epoch validation lines, on stderr.
    """

    epochs: int = 20
    loss: str = "bt-ordinal"
    val_frac: float = 0.2
    members: int = 5
    hidden: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    patience: int = 5
    bootstrap: bool = True
    strength_weights: tuple[float, float, float] = DEFAULT_STRENGTH_WEIGHTS
    rater_weights: dict[str, float] | None = None
    manifest: str | None = None
    base_dir: str | None = None
    seed: int = 0
    progress: bool = False


@dataclass
class TrainReport:
    """What training did: the split, each member's best epoch, per-epoch history and final figures.

    ``val_*`` is the validation split, which also chose each member's best
    epoch (early stopping); it is not an untouched test set.
    """

    n_train: int
    n_val: int
    train_songs: list[str]
    val_songs: list[str]
    best_epochs: list[int]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_metrics: dict[str, Any] = field(default_factory=dict)
    val_metrics: dict[str, Any] = field(default_factory=dict)

"""A pessimistic learned reward: the ensemble's mean score less its members' spread.

A policy fine-tuned on a learned reward climbs it wherever it can, including
where the reward model is merely guessing: edits unlike any it was trained on.
The members of a bootstrap ensemble agree where the judgments constrain them
and disagree elsewhere, so ``mean - k * std`` over the members is a lower
confidence bound on the score, and an edit gains from it only where the
members agree that it is better (the conservative reward of model-based
offline RL, e.g. Yu et al. 2020, "MOPO", and of reward-model ensembles against
overoptimisation, Coste et al. 2024, "Reward Model Ensembles Help Mitigate
Overoptimization").

Example
-------
>>> score = pessimistic_reward(ensemble, song, actions_batch, uncertainty_coef=1.0)  # doctest: +SKIP
>>> score.reward  # shape (batch,): mean - 1.0 * std
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.reward.model import RewardModelError


@dataclass(frozen=True)
class PessimisticScore:
    """Scores of a batch of edits of one song, each of shape (batch,).

    Attributes
    ----------
    reward : ndarray
        ``mean - uncertainty_coef * std``.
    mean, std : ndarray
        Mean and standard deviation of the members' scores.
    """

    reward: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def pessimistic_reward(
    ensemble: Any,
    analysis: SongAnalysis,
    actions_batch: np.ndarray | Sequence[Sequence[int]],
    uncertainty_coef: float = 1.0,
) -> PessimisticScore:
    """Lower confidence bound of the learned reward of each edit: ensemble mean less ``uncertainty_coef`` stds.

    Parameters
    ----------
    ensemble : RewardEnsemble
        Anything with ``score(analysis, actions_batch) -> (mean, std)``.
    analysis : SongAnalysis
        The song the edits are of.
    actions_batch : array of int, shape (batch, n_beats)
        Per-beat actions (0 keep, 1 cut, 2 repeat) of each edit.
    uncertainty_coef : float
        ``k`` in ``mean - k * std``; 0 gives the plain ensemble mean. Must be >= 0.

    Returns
    -------
    PessimisticScore
        ``reward``, ``mean`` and ``std``, float64 arrays of shape (batch,).
    """
    if not np.isfinite(uncertainty_coef) or uncertainty_coef < 0:
        raise RewardModelError(f"uncertainty_coef must be a number >= 0, got {uncertainty_coef}")
    mean, std = ensemble.score(analysis, actions_batch)
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    return PessimisticScore(reward=mean - uncertainty_coef * std, mean=mean, std=std)


__all__ = ["PessimisticScore", "pessimistic_reward"]

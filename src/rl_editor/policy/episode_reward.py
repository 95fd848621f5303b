"""Rewards of whole edits, paid by the environment at an episode's last step.

:class:`~rl_editor.policy.env.EditVecEnv` calls its ``episode_reward_fn``
once per step with the episodes that ended in it (:class:`FinishedEpisodes`:
the songs, the edits, and what the policy saw and chose at each decision).
The function returns one reward per episode, as an array or as
:class:`EpisodeRewards` with named terms that the environment passes on in
``infos`` (``episode_reward_terms``) for logging.

:class:`KLRegularizedReward` wraps such a reward with the KL penalty of
RLHF fine-tuning (Ziegler et al. 2019, "Fine-Tuning Language Models from
Human Preferences"): the edit's reward minus ``kl_coef`` times how far the
policy being trained has moved from a frozen reference on that edit. The
policy trainer needs nothing else to learn from a reward function: no
callback touches the rewards PPO learns from.

Example
-------
>>> reward = KLRegularizedReward(learned, reference.model.policy, kl_coef=0.05,   # doctest: +SKIP
...                              current_policy=lambda: trainer.model.policy, decisions_per_edit=12.0)
>>> trainer.train(500, analyses=songs, episode_reward_fn=reward)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.policy.errors import PolicyError


@dataclass
class FinishedEpisodes:
    """The episodes that ended in one environment step, in slot order.

    Attributes
    ----------
    analyses : list of SongAnalysis
        The song of each episode.
    actions : list of ndarray of int8, shape (n_beats,)
        Each edit as per-beat actions (0 keep, 1 cut, 2 repeat).
    decisions : list of ndarray of int64, shape (n_decisions,)
        The action chosen at each decision (one per phrase).
    observations : list of ndarray of float32, shape (n_decisions, obs_dim)
        What the policy saw at each decision.
    action_masks : list of ndarray of bool, shape (n_decisions, 3)
        Which actions were allowed at each decision.
    targets : ndarray of float, shape (n_episodes,)
        Each episode's target length share (NaN: none).
    """

    analyses: list[SongAnalysis]
    actions: list[np.ndarray]
    decisions: list[np.ndarray]
    observations: list[np.ndarray]
    action_masks: list[np.ndarray]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.analyses)


@dataclass
class EpisodeRewards:
    """One reward per episode (``total``, what PPO learns from) and named terms to log beside it."""

    total: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)


EpisodeRewardFn = Callable[[FinishedEpisodes], "EpisodeRewards | np.ndarray"]


def as_episode_rewards(value: EpisodeRewards | np.ndarray, n_episodes: int) -> EpisodeRewards:
    """What an episode reward function returned, as :class:`EpisodeRewards` of ``n_episodes`` float64 values."""
    rewards = value if isinstance(value, EpisodeRewards) else EpisodeRewards(np.asarray(value))
    total = np.asarray(rewards.total, dtype=np.float64).reshape(-1)
    if total.size != n_episodes:
        raise PolicyError(f"episode reward function returned {total.size} rewards for {n_episodes} episodes")
    terms = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in rewards.terms.items()}
    return EpisodeRewards(total, terms)


@dataclass
class KLTerms:
    """Per episode: sampled log-ratio sum, exact KL sum and mean entropy of the policy being trained."""

    sampled_log_ratio: np.ndarray
    exact_kl: np.ndarray
    entropy: np.ndarray


def episode_kl(current: Any, reference: Any, episodes: FinishedEpisodes) -> KLTerms:
    """How far ``current`` is from ``reference`` on each episode, both being ``MaskableActorCriticPolicy``.

    ``sampled_log_ratio`` sums ``log pi(a_t|s_t) - log pi_ref(a_t|s_t)`` over the decisions taken
    (an unbiased estimate of KL(pi || pi_ref) over the edit); ``exact_kl`` sums the exact KL of the
    masked action distributions at each decision; ``entropy`` is the mean per-decision entropy of ``current``.
    """
    import torch

    lengths = [len(d) for d in episodes.decisions]
    obs = torch.as_tensor(np.concatenate(episodes.observations), dtype=torch.float32)
    masks = np.concatenate(episodes.action_masks)
    actions = torch.as_tensor(np.concatenate(episodes.decisions), dtype=torch.int64)
    with torch.no_grad():
        cur = current.get_distribution(obs, action_masks=masks)
        ref = reference.get_distribution(obs, action_masks=masks)
        log_ratio = cur.log_prob(actions) - ref.log_prob(actions)
        probs = cur.distribution.probs
        exact = torch.sum(probs * (cur.distribution.logits - ref.distribution.logits), dim=-1)
        entropy = cur.entropy()
    ends = np.cumsum(lengths)[:-1]

    def per_episode(values: Any) -> list[np.ndarray]:
        return np.split(values.numpy().astype(np.float64), ends)

    return KLTerms(
        sampled_log_ratio=np.array([v.sum() for v in per_episode(log_ratio)]),
        exact_kl=np.array([v.sum() for v in per_episode(exact)]),
        entropy=np.array([v.mean() for v in per_episode(entropy)]),
    )


class KLRegularizedReward:
    """An episode reward minus a KL penalty towards a frozen reference policy.

    The penalty of an edit is ``kl_coef * decisions_per_edit * (sampled log-ratio / decisions)``:
    the sampled estimate of the KL per decision, times the typical number of decisions
    of an edit. A long song (many decisions) therefore pays no more than a short one
    for drifting as far per decision, so the penalty stays on the scale of a
    per-edit reward such as the z-scored learned reward; on songs of typical
    length it is the summed log-ratio of the whole edit.

    Parameters
    ----------
    base : callable
        The episode reward being regularized (``fn(FinishedEpisodes)``).
    reference_policy : MaskableActorCriticPolicy
        The frozen policy training started from.
    kl_coef : float
        Weight of the penalty (nats per typical edit).
    current_policy : callable
        Returns the policy being trained (read at each call: the trainer builds its model when training starts).
    decisions_per_edit : float
        Typical number of decisions of an edit (the mean over the training songs).

    Notes
    -----
    Terms passed on for logging: the base reward's terms, ``kl`` (exact KL of the edit, nats),
    ``kl_sampled`` (summed sampled log-ratio), ``kl_penalty`` and ``entropy`` (mean per decision).
    """

    def __init__(
        self,
        base: EpisodeRewardFn,
        reference_policy: Any,
        kl_coef: float,
        current_policy: Callable[[], Any],
        decisions_per_edit: float,
    ) -> None:
        if kl_coef < 0:
            raise PolicyError(f"kl_coef must be >= 0, got {kl_coef}")
        if decisions_per_edit <= 0:
            raise PolicyError(f"decisions_per_edit must be > 0, got {decisions_per_edit}")
        self.base, self.reference, self.kl_coef = base, reference_policy, float(kl_coef)
        self.current_policy, self.decisions_per_edit = current_policy, float(decisions_per_edit)

    def __call__(self, episodes: FinishedEpisodes) -> EpisodeRewards:
        base = as_episode_rewards(self.base(episodes), len(episodes))
        kl = episode_kl(self.current_policy(), self.reference, episodes)
        decisions = np.array([max(len(d), 1) for d in episodes.decisions], dtype=np.float64)
        penalty = self.kl_coef * self.decisions_per_edit * kl.sampled_log_ratio / decisions
        terms = {
            **base.terms,
            "kl": kl.exact_kl,
            "kl_sampled": kl.sampled_log_ratio,
            "kl_penalty": penalty,
            "entropy": kl.entropy,
        }
        return EpisodeRewards(base.total - penalty, terms)


__all__ = [
    "EpisodeRewardFn",
    "EpisodeRewards",
    "FinishedEpisodes",
    "KLRegularizedReward",
    "KLTerms",
    "as_episode_rewards",
    "episode_kl",
]

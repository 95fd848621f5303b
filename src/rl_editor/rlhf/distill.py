"""Best-of-N distillation: teach the policy the edits the learned reward ranks best among its own samples.

PPO credits a whole edit's learned reward to every phrase decision of one
sampled edit; a confident policy samples nearly the same edit every time, so
which sections go barely varies and the reward's view of *material* never
reaches the policy. Distillation (expert iteration; "RAFT", Dong et al. 2023;
best-of-N sampling as the improvement operator) looks wider first:

1. For every training song and every target of the fine-tuning window, sample
   ``best_of`` edits at temperature 1, half as the policy is and half with a
   random preference for cutting each section (``content_noise``,
   :meth:`~rl_editor.policy.trainer.PPOTrainer.rollout`), so they remove different
   sections at the same length.
2. Score them with the reward ensemble (pessimistic: mean less ``uncertainty_coef``
   spreads) and keep the ``top`` best of each (song, target), when they beat the
   policy's own samples there.
3. Fit the policy to the kept edits' phrase decisions (cross-entropy on the
   observations and masks it saw), a few epochs per round.

Each round samples from the policy the last one made. What is learned is a
mapping from a phrase's features (energy, structure, repetition, position) to
keep or cut, so it carries to songs the policy never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis


@dataclass
class DistillResult:
    """What distillation did: per round, the mean predicted gain of the kept edits over the policy's own
    samples (in the ensemble's units) and how many phrase decisions it was fitted to."""

    gains: list[float]
    decisions: list[int]

    def record(self) -> dict[str, Any]:
        return {"gains": [round(g, 4) for g in self.gains], "decisions": self.decisions}


def _fit_decisions(
    policy: Any,
    observations: np.ndarray,
    masks: np.ndarray,
    actions: np.ndarray,
    epochs: int,
    learning_rate: float,
    seed: int,
    batch_size: int = 256,
) -> None:
    """A few epochs of cross-entropy of ``policy`` (an SB3 maskable policy) on (observation, mask, action) rows."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    obs = torch.as_tensor(observations, dtype=torch.float32)
    acts = torch.as_tensor(actions, dtype=torch.int64)
    allowed = torch.as_tensor(masks, dtype=torch.bool)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = torch.randperm(len(acts), generator=generator)
        for start in range(0, len(acts), batch_size):
            rows = order[start : start + batch_size]
            _, log_prob, _ = policy.evaluate_actions(obs[rows], acts[rows], action_masks=allowed[rows])
            loss = -log_prob.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    policy.set_training_mode(False)


def distill_best_of_n(
    trainer: Any,
    ensemble: Any,
    analyses: Sequence[SongAnalysis],
    targets: Sequence[float],
    *,
    best_of: int = 32,
    top: int = 2,
    rounds: int = 2,
    epochs: int = 8,
    content_noise: float = 2.0,
    uncertainty_coef: float = 1.0,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> DistillResult:
    """Move ``trainer``'s policy toward the best of its own samples under the learned reward (module docstring).

    Parameters
    ----------
    trainer : PPOTrainer
        Its policy is trained in place.
    ensemble : RewardEnsemble
    analyses : sequence of SongAnalysis
        Training songs.
    targets : sequence of float
        Lengths (shares of the song) to sample at; every song at every one.
    best_of, top : int
        Samples per (song, target), and how many of the best are kept.
    rounds, epochs : int
        Sample-and-fit rounds, and passes over the kept decisions per round.
    content_noise : float
        Spread (nats) of the random preference for cutting a section, for half the samples.
    uncertainty_coef : float
        Samples are ranked by the ensemble's mean less this many standard deviations.
    learning_rate : float
    seed : int

    Returns
    -------
    DistillResult
    """
    from rl_editor.reward.pessimism import pessimistic_reward
    from rl_editor.rlhf.finetune import song_seeds

    plain = best_of // 2
    noise = [0.0] * plain + [content_noise] * (best_of - plain)
    result = DistillResult([], [])
    for round_index in range(rounds):
        observations, masks, actions, gains = [], [], [], []
        for a in analyses:
            for target in targets:
                seeds = song_seeds(f"distill|{round_index}|{target:.3f}|{a.song_id}", best_of, seed)
                rollout = trainer.rollout(a, [1.0] * best_of, seeds, [float(target)] * best_of, noise, record=True)
                reward = pessimistic_reward(ensemble, a, np.stack(rollout.edits), uncertainty_coef).reward
                own = float(np.mean(reward[:plain])) if plain else float(np.mean(reward))
                for k in np.argsort(-reward, kind="stable")[:top]:
                    if reward[k] <= own:
                        continue
                    gains.append(float(reward[k]) - own)
                    observations.append(rollout.observations[k])
                    masks.append(rollout.masks[k])
                    actions.append(rollout.decisions[k])
        n_decisions = int(sum(len(x) for x in actions))
        result.gains.append(float(np.mean(gains)) if gains else 0.0)
        result.decisions.append(n_decisions)
        if not n_decisions:
            break
        _fit_decisions(
            trainer.model.policy,
            np.concatenate(observations),
            np.concatenate(masks),
            np.concatenate(actions),
            epochs,
            learning_rate,
            seed + round_index,
        )
    return result


__all__ = ["DistillResult", "distill_best_of_n"]

"""The KL-regularized episode reward: the KL from a reference policy, per edit, on the reward's scale."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.policy.env import EditVecEnv
from rl_editor.policy.episode_reward import EpisodeRewards, FinishedEpisodes, KLRegularizedReward, episode_kl
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.trainer import PolicyConfig, PPOTrainer


def _untrained(analyses, seed: int) -> PPOTrainer:
    trainer = PPOTrainer(PolicyConfig(seed=seed, n_envs=3))
    trainer.reset_model(analyses)
    return trainer


def _episodes(analyses, seed: int = 0) -> FinishedEpisodes:
    """Every episode the environment hands its episode reward over 60 random steps, in one batch."""
    handed: list[FinishedEpisodes] = []

    def record(episodes: FinishedEpisodes) -> np.ndarray:
        handed.append(episodes)
        return np.zeros(len(episodes))

    env = EditVecEnv(analyses, n_envs=3, episode_reward_fn=record, seed=seed)
    env.reset()
    rng = np.random.default_rng(seed)
    for _ in range(60):
        env.step(np.array([rng.choice(np.flatnonzero(row)) for row in env.action_masks()]))
    fields = ("analyses", "actions", "decisions", "observations", "action_masks")
    joined = {name: [item for e in handed for item in getattr(e, name)] for name in fields}
    return FinishedEpisodes(**joined, targets=np.concatenate([e.targets for e in handed]))


def _twice_as_long(episodes: FinishedEpisodes) -> FinishedEpisodes:
    """The same decisions made twice over: the same KL per decision, twice the decisions."""
    return FinishedEpisodes(
        analyses=episodes.analyses,
        actions=episodes.actions,
        decisions=[np.concatenate([d, d]) for d in episodes.decisions],
        observations=[np.concatenate([o, o]) for o in episodes.observations],
        action_masks=[np.concatenate([m, m]) for m in episodes.action_masks],
        targets=episodes.targets,
    )


def _base(episodes: FinishedEpisodes) -> EpisodeRewards:
    return EpisodeRewards(np.full(len(episodes), 2.0), {"learned_reward": np.full(len(episodes), 2.0)})


def test_a_policy_pays_nothing_for_being_its_own_reference(synthetic_analyses):
    policy = _untrained(synthetic_analyses, seed=0).model.policy
    episodes = _episodes(synthetic_analyses)
    reward = KLRegularizedReward(_base, policy, kl_coef=1.0, current_policy=lambda: policy, decisions_per_edit=10)
    paid = reward(episodes)
    np.testing.assert_allclose(paid.total, 2.0, atol=1e-6)
    np.testing.assert_allclose(paid.terms["kl"], 0.0, atol=1e-6)
    np.testing.assert_allclose(paid.terms["learned_reward"], 2.0)


def test_drifting_from_the_reference_costs_kl_coef_times_the_kl_per_typical_edit(synthetic_analyses):
    current = _untrained(synthetic_analyses, seed=1).model.policy
    reference = _untrained(synthetic_analyses, seed=2).model.policy
    episodes = _episodes(synthetic_analyses)
    kl = episode_kl(current, reference, episodes)
    assert np.all(kl.exact_kl > 0) and np.all(np.isfinite(kl.sampled_log_ratio))
    reward = KLRegularizedReward(_base, reference, kl_coef=0.5, current_policy=lambda: current, decisions_per_edit=7)
    paid = reward(episodes)
    decisions = np.array([len(d) for d in episodes.decisions])
    np.testing.assert_allclose(paid.terms["kl_penalty"], 0.5 * 7 * kl.sampled_log_ratio / decisions, rtol=1e-6)
    np.testing.assert_allclose(paid.total, 2.0 - paid.terms["kl_penalty"], rtol=1e-6)


def test_a_longer_edit_pays_no_more_for_drifting_as_far_per_decision(synthetic_analyses):
    current = _untrained(synthetic_analyses, seed=1).model.policy
    reference = _untrained(synthetic_analyses, seed=2).model.policy
    episodes = _episodes(synthetic_analyses)
    reward = KLRegularizedReward(_base, reference, kl_coef=0.5, current_policy=lambda: current, decisions_per_edit=7)
    short, long = reward(episodes), reward(_twice_as_long(episodes))
    np.testing.assert_allclose(long.terms["kl_penalty"], short.terms["kl_penalty"], rtol=1e-5)
    # the KL of the whole edit (what the curves show) does add up over its decisions
    np.testing.assert_allclose(long.terms["kl"], 2 * short.terms["kl"], rtol=1e-5)


def test_a_negative_kl_coef_is_refused(synthetic_analyses):
    policy = _untrained(synthetic_analyses, seed=0).model.policy
    with pytest.raises(PolicyError, match="kl_coef"):
        KLRegularizedReward(_base, policy, kl_coef=-1.0, current_policy=lambda: policy, decisions_per_edit=10)

"""The batched editing environment: masks, auto-reset, rewards that match ``score_edit``."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnv

from rl_editor.edit import CUT, KEEP, REPEAT
from rl_editor.policy.dense_reward import score_edit
from rl_editor.policy.env import EditVecEnv, EnvConfig, PolicyError


def _random_episodes(env: EditVecEnv, n_steps: int, seed: int = 0, cut_bias: float = 1.0) -> list[dict]:
    """Step with random allowed actions (cuts weighted by ``cut_bias``); return finished episodes' infos."""
    rng = np.random.default_rng(seed)
    env.reset()
    finished = []
    weights = np.array([1.0, cut_bias, 1.0])
    for _ in range(n_steps):
        masks = env.action_masks()
        p = masks * weights
        p /= p.sum(axis=1, keepdims=True)
        actions = np.array([rng.choice(3, p=row) for row in p])
        _, _, _, infos = env.step(actions)
        finished += [info for info in infos if "episode_actions" in info]
    return finished


def _runs(actions: np.ndarray, value: int) -> list[int]:
    runs, current = [], 0
    for a in actions:
        if a == value:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs + ([current] if current else [])


def test_env_is_a_vecenv_with_masks_for_every_slot(synthetic_analyses):
    env = EditVecEnv(synthetic_analyses, EnvConfig(n_envs=3), seed=0)
    assert isinstance(env, VecEnv)
    obs = env.reset()
    assert obs.shape == (3, env.observation_space.shape[0]) and obs.dtype == np.float32
    assert np.all(np.isfinite(obs))
    masks = np.stack(env.env_method("action_masks"))
    assert masks.shape == (3, 3) and masks[:, KEEP].all()
    assert not masks[:, CUT].any() and not masks[:, REPEAT].any()  # the first beat is always kept


def test_masks_enforce_the_edit_constraints(synthetic_analyses):
    config = EnvConfig(n_envs=4, max_cut_run=6)
    env = EditVecEnv(synthetic_analyses, config, seed=1)
    episodes = _random_episodes(env, 1500, cut_bias=4.0)
    assert len(episodes) >= 8
    for info in episodes:
        actions = info["episode_actions"]
        assert actions[0] == KEEP and actions[-1] == KEEP
        assert max(_runs(actions, CUT), default=0) <= config.max_cut_run
        assert max(_runs(actions, REPEAT), default=0) <= 4
        after_cut = np.flatnonzero(actions[:-1] == CUT) + 1
        assert not np.any(actions[after_cut] == REPEAT)
    all_actions = np.concatenate([info["episode_actions"] for info in episodes])
    assert max(_runs(all_actions, CUT)) == config.max_cut_run  # the limit is reached, not just respected


def test_episodes_auto_reset_onto_every_song(synthetic_analyses):
    env = EditVecEnv(synthetic_analyses, EnvConfig(n_envs=2), seed=3)
    episodes = _random_episodes(env, 600)
    seen = [info["song_id"] for info in episodes]
    assert set(seen) == {a.song_id for a in synthetic_analyses}
    for info in episodes:
        song = next(a for a in synthetic_analyses if a.song_id == info["song_id"])
        assert len(info["episode_actions"]) == song.n_beats == info["episode"]["l"]


def test_step_rewards_sum_to_score_edit(synthetic_analyses):
    env = EditVecEnv(synthetic_analyses, EnvConfig(n_envs=3, dense_reward_scale=0.5), seed=2)
    episodes = _random_episodes(env, 500)
    assert episodes
    for info in episodes:
        song = env.analyses[info["song_index"]]
        expected = score_edit(song, info["episode_actions"], env.config.reward)
        assert info["dense_terms"] == pytest.approx(expected, abs=1e-9)
        assert info["episode"]["r"] == pytest.approx(0.5 * expected["total"], abs=1e-4)


def test_episode_reward_fn_is_added_once_per_finished_episode(synthetic_analyses):
    calls = []

    def learned(analyses, actions):
        calls.append(len(analyses))
        return np.array([10.0 + float(np.mean(a == CUT)) for a in actions])

    env = EditVecEnv(synthetic_analyses, EnvConfig(n_envs=3, dense_reward_scale=0.0),
                     episode_reward_fn=learned, seed=0)
    episodes = _random_episodes(env, 400)
    assert sum(calls) == len(episodes) > 0
    for info in episodes:
        expected = 10.0 + float(np.mean(info["episode_actions"] == CUT))
        assert info["learned_reward"] == pytest.approx(expected)
        assert info["episode"]["r"] == pytest.approx(expected, abs=1e-4)  # dense terms switched off


def test_too_short_songs_are_refused_with_their_path(song_factory):
    short = song_factory(9, n_bars=1)
    short.beat_times_s, short.beat_in_bar, short.features = (
        short.beat_times_s[:2], short.beat_in_bar[:2], short.features[:2])
    with pytest.raises(PolicyError, match="synthetic-9.wav"):
        EditVecEnv([short])
    with pytest.raises(PolicyError, match="no songs"):
        EditVecEnv([])

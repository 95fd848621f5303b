"""The batched phrase-level editing environment: masks, targets, auto-reset, rewards that match ``score_edit``."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecEnv

from rl_editor.audio.structure import song_structure
from rl_editor.edit import CUT, KEEP, REPEAT, repeat_runs, splice_pairs
from rl_editor.policy.config import EnvConfig
from rl_editor.policy.dense_reward import GUARD_TERMS, LENGTH_TERMS, QUALITY_TERMS, score_edit
from rl_editor.policy.env import EditVecEnv
from rl_editor.policy.episode_reward import EpisodeRewards
from rl_editor.policy.errors import PolicyError


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


def _cut_runs(actions: np.ndarray) -> np.ndarray:
    cut = np.concatenate([[False], actions == CUT, [False]])
    return np.flatnonzero(cut[1:] != cut[:-1]).reshape(-1, 2)


def test_env_is_a_vecenv_with_masks_for_every_slot(synthetic_analyses):
    env = EditVecEnv(synthetic_analyses, EnvConfig(), n_envs=3, seed=0)
    assert isinstance(env, VecEnv)
    obs = env.reset()
    assert obs.shape == (3, env.observation_space.shape[0]) and obs.dtype == np.float32
    assert np.all(np.isfinite(obs))
    masks = np.stack(env.env_method("action_masks"))
    assert masks.shape == (3, 3) and masks[:, KEEP].all()
    assert not masks[:, CUT].any() and not masks[:, REPEAT].any()  # the first phrase is always kept


def test_edits_cut_and_repeat_whole_phrases_within_the_limits(synthetic_analyses):
    config = EnvConfig(max_cut_phrases=3)
    env = EditVecEnv(synthetic_analyses, config, n_envs=4, seed=1)
    episodes = _random_episodes(env, 800, cut_bias=4.0)
    assert len(episodes) >= 8
    longest = 0
    for info in episodes:
        song = env.analyses[info["song_index"]]
        phrase_starts = set(song_structure(song).phrase_bounds_beats.tolist())
        actions = info["episode_actions"]
        assert actions.shape == (song.n_beats,)
        assert actions[0] == KEEP and actions[-1] == KEEP
        for start, end in _cut_runs(actions):
            assert start in phrase_starts and end in phrase_starts  # whole phrases only
            longest = max(longest, int(np.sum([start <= p < end for p in phrase_starts])))
        for first, last in repeat_runs(actions):
            assert first in phrase_starts and last + 1 in phrase_starts
            assert actions[first - 1] == KEEP  # never right after a cut or another repeat
    assert longest == config.max_cut_phrases  # the limit is reached, not just respected


def test_episodes_auto_reset_onto_every_song_with_sampled_targets(synthetic_analyses):
    config = EnvConfig(target_range=(0.4, 0.6), free_share=0.3)
    env = EditVecEnv(synthetic_analyses, config, n_envs=2, seed=3)
    episodes = _random_episodes(env, 600)
    seen = [info["song_id"] for info in episodes]
    assert set(seen) == {a.song_id for a in synthetic_analyses}
    targets = np.array([info["target"] for info in episodes])
    free = np.isnan(targets)
    assert 0.1 < free.mean() < 0.5
    assert np.all((targets[~free] >= 0.4) & (targets[~free] <= 0.6))
    for info in episodes:
        song = env.analyses[info["song_index"]]
        assert len(info["episode_actions"]) == song.n_beats
        assert info["episode"]["l"] == song_structure(song).n_phrases


def test_step_rewards_sum_to_score_edit(synthetic_analyses):
    env = EditVecEnv(synthetic_analyses, EnvConfig(dense_reward_scale=0.5), n_envs=3, seed=2)
    episodes = _random_episodes(env, 400)
    assert episodes
    for info in episodes:
        song = env.analyses[info["song_index"]]
        target = None if np.isnan(info["target"]) else info["target"]
        expected = score_edit(song, info["episode_actions"], env.config.reward, target=target)
        assert info["dense_terms"] == pytest.approx(expected, abs=1e-9)
        scaled = (
            0.5 * sum(expected[k] for k in QUALITY_TERMS)
            + sum(expected[k] for k in LENGTH_TERMS)
            + sum(expected[k] for k in GUARD_TERMS)
        )
        assert info["episode"]["r"] == pytest.approx(scaled, abs=1e-4)


def test_free_episodes_leave_the_length_to_a_learned_reward(synthetic_analyses):
    config = EnvConfig(dense_reward_scale=0.0, free_length_scale=0.0, free_share=1.0)
    env = EditVecEnv(
        synthetic_analyses, config, n_envs=3, seed=4, episode_reward_fn=lambda episodes: np.zeros(len(episodes))
    )
    episodes = _random_episodes(env, 200)
    assert episodes and all(np.isnan(info["target"]) for info in episodes)
    # only the guard against keeping everything (or almost nothing) remains
    assert all(info["episode"]["r"] == pytest.approx(info["dense_terms"]["degenerate"], abs=1e-6) for info in episodes)


def test_episode_reward_fn_is_added_once_per_finished_episode(synthetic_analyses):
    calls = []

    def learned(episodes):
        calls.append(len(episodes))
        return np.array([10.0 + float(np.mean(a == CUT)) for a in episodes.actions])

    config = EnvConfig(dense_reward_scale=0.0, target_length_scale=0.0, free_length_scale=0.0)
    env = EditVecEnv(synthetic_analyses, config, n_envs=3, episode_reward_fn=learned, seed=0)
    episodes = _random_episodes(env, 300)
    assert sum(calls) == len(episodes) > 0
    for info in episodes:
        expected = 10.0 + float(np.mean(info["episode_actions"] == CUT))
        assert info["learned_reward"] == pytest.approx(expected)
        # dense terms switched off but for the guard against keeping everything or almost nothing
        assert info["episode"]["r"] == pytest.approx(expected + info["dense_terms"]["degenerate"], abs=1e-4)


def test_the_episode_reward_sees_what_the_policy_saw_and_chose_at_each_decision(synthetic_analyses):
    handed_over = []

    def learned(episodes):
        handed_over.extend(zip(episodes.observations, episodes.action_masks, episodes.decisions, episodes.actions))
        return EpisodeRewards(np.arange(len(episodes), dtype=float), {"twice": 2 * np.arange(len(episodes))})

    env = EditVecEnv(synthetic_analyses, EnvConfig(), n_envs=3, episode_reward_fn=learned, seed=2)
    obs = env.reset()
    rng = np.random.default_rng(0)
    slot_steps: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(3)]
    replayed = []
    for _ in range(120):
        masks = env.action_masks()
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in masks])
        for k in range(3):
            slot_steps[k].append((obs[k].copy(), masks[k].copy(), int(actions[k])))
        obs, _, dones, infos = env.step(actions)
        for k in np.flatnonzero(dones):
            replayed.append(slot_steps[k])
            slot_steps[k] = []
            assert infos[k]["episode_reward_terms"]["twice"] == 2 * infos[k]["learned_reward"]
    assert len(replayed) == len(handed_over) > 3
    for steps, (observations, action_masks, decisions, beat_actions) in zip(replayed, handed_over):
        np.testing.assert_array_equal(observations, np.stack([o for o, _, _ in steps]))
        np.testing.assert_array_equal(action_masks, np.stack([m for _, m, _ in steps]))
        np.testing.assert_array_equal(decisions, [a for _, _, a in steps])
        assert len(beat_actions) >= len(decisions)


def test_a_whole_section_goes_with_one_splice(song_factory):
    song = song_factory(11, n_bars=24)  # six sections of four bars
    structure = song_structure(song)
    env = EditVecEnv([song], EnvConfig(allow_repeat=False), n_envs=1, seed=0)
    env.reset()
    section = structure.section_bounds_beats
    assert structure.n_sections >= 3
    start, end = int(section[1]), int(section[2])
    phrase_bounds = structure.phrase_bounds_beats
    for k in range(structure.n_phrases):
        in_section = start <= phrase_bounds[k] < end
        _, _, _, infos = env.step(np.array([CUT if in_section else KEEP]))
    actions = infos[0]["episode_actions"]
    assert np.all(actions[start:end] == CUT) and np.sum(actions == CUT) == end - start
    assert splice_pairs(actions).tolist() == [[start - 1, end]]
    assert infos[0]["dense_terms"]["section"] > 0


def test_bad_songs_and_settings_are_refused(song_factory):
    short = song_factory(9, n_bars=1)
    short.beat_times_s, short.beat_in_bar, short.features = (
        short.beat_times_s[:2],
        short.beat_in_bar[:2],
        short.features[:2],
    )
    with pytest.raises(PolicyError, match="synthetic-9.wav"):
        EditVecEnv([short])
    with pytest.raises(PolicyError, match="no songs"):
        EditVecEnv([])
    with pytest.raises(PolicyError, match="target_range"):
        EditVecEnv([song_factory(1)], EnvConfig(target_range=(0.5, 1.2)))


def test_cuts_span_four_bar_multiples_or_end_on_a_section(long_analyses):
    """Phrases of these songs are two bars and sections four: many phrase runs would be ragged cuts."""
    from rl_editor.audio.structure import cut_alignment

    shares = {}
    for editorial in (True, False):
        env = EditVecEnv(long_analyses, EnvConfig(editorial_cuts=editorial), n_envs=4, seed=2)
        episodes = _random_episodes(env, 600, cut_bias=3.0)
        alignments = [
            cut_alignment(song_structure(env.analyses[info["song_index"]]), info["episode_actions"])
            for info in episodes
        ]
        cut_counts = [a["n_cuts"] for a in alignments]
        shares[editorial] = np.average(
            [a["four_bar_or_section_share"] for a in alignments if a["n_cuts"]], weights=[c for c in cut_counts if c]
        )
        assert sum(cut_counts) >= 20
    assert shares[True] == 1.0
    assert shares[False] < 0.7  # without the mask the same random policy cuts raggedly


def test_the_observation_offers_only_editorial_resume_points(long_analyses):
    from rl_editor.policy.observation import IMPOSSIBLE_JUMP, N_UNIT_FEATURES

    env = EditVecEnv(long_analyses[:1], EnvConfig(n_jump_options=8), n_envs=1, seed=0)
    env.reset()
    env.step(np.array([KEEP]))  # now at phrase 1, nothing cut yet
    layout = env.bank.layout
    obs = env.batch.observe()[0]
    jumps_at = layout.window * N_UNIT_FEATURES
    costs = obs[jumps_at : jumps_at + layout.n_jumps] * 4.0
    table = env.bank.editorial_cuts[1, 1 : layout.n_jumps]  # cuts that start at phrase 1, of 1-7 phrases
    assert table.any() and not table.all()
    np.testing.assert_array_equal(costs[1:] == IMPOSSIBLE_JUMP, ~table)


def test_a_song_too_short_for_phrase_edits_may_cut_any_run_of_whole_phrases(synthetic_analyses):
    """A 16-28 bar song is cut bar by bar: every run of phrases is offered, not only 4-bar multiples."""
    from rl_editor.policy.observation import offered_cuts

    for song in synthetic_analyses:
        table = offered_cuts(song, max_phrases=24, resume_options=4)
        n, width = table.shape
        d = np.arange(width)[None, :]
        np.testing.assert_array_equal(table, (d >= 1) & (d <= 24) & (np.arange(n)[:, None] + d < n))

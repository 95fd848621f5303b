"""The editing environment: one episode edits one song, one step decides one phrase.

The song is cut into phrases (groups of 2-4 bars inside labelled sections,
:mod:`rl_editor.audio.structure`). Each step keeps, cuts or repeats one whole
phrase; the edit is then expanded to the design's per-beat actions (0 keep,
1 cut, 2 repeat, one per beat), so every later stage sees the usual
representation. A run of cut phrases is removed with one splice, so a verse,
a repeated chorus or a whole bridge goes with a single jump, and every splice
falls on a phrase boundary. Many songs step together in numpy arrays
(:class:`EditBatch`); :class:`EditVecEnv` exposes that batch as a
Stable-Baselines3 ``VecEnv`` that moves each slot onto the next song (a
seeded shuffle of the song list, reshuffled each pass) when its episode ends.

**Length targets.** Every episode has a target length (a share of the song's
duration) drawn from ``target_range``, or, with probability ``free_share``
(0 by default), no target: then the policy picks the length itself (the dense
reward aims at ``reward.target_keep_share``; a learned reward, at what raters
prefer). The target is part of the observation, so one policy makes edits of
any requested length.

Constraints, enforced by ``action_masks()`` (keep is always allowed):

- the first and the last phrase are kept (they carry the pickup and the tail);
- at most ``max_cut_phrases`` phrases are cut in a row;
- with ``editorial_cuts`` (the default) a cut ends only where an editor's
  would: after a multiple of 4 bars, or on a section boundary
  (:func:`rl_editor.audio.structure.phrase_cut_table`), and of those only at
  the ``resume_options`` whose seam sounds smoothest and whose jump most like
  what would have followed (:func:`rl_editor.audio.jumps.splice_point_cost`,
  after Wenner et al. 2013). A cut starts
  only where such an end is within reach, goes on until it reaches one, and
  playback resumes only there;
- a phrase is repeated only after a kept phrase (never right after a cut, whose
  splice back in would be followed at once by the repeat's splice, nor right
  after another repeat, which would merge the two into one longer repeat).

Observation: :mod:`rl_editor.policy.observation`. Rewards: the dense terms of
:mod:`rl_editor.policy.dense_reward`: the quality terms times
``dense_reward_scale``, the length terms times ``target_length_scale`` (episodes
with a target) or ``free_length_scale`` (without), the ``degenerate`` term
always (an edit that keeps everything, or almost nothing, is no edit, whatever
a learned reward makes of it); plus, at the last step of an episode,
``episode_reward_fn(episodes)`` (a learned reward, :mod:`rl_editor.policy.episode_reward`),
unscaled. With both scales at 1 the per-step dense rewards of an episode sum to
``score_edit(analysis, actions, target=...)["total"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import CUT, KEEP, REPEAT
from rl_editor.policy.config import EnvConfig
from rl_editor.policy.dense_reward import (
    GUARD_TERMS,
    LENGTH_TERMS,
    SPLICE_TERMS,
    TERM_NAMES,
    length_potential,
    terminal_terms,
)
from rl_editor.policy.episode_reward import EpisodeRewardFn, FinishedEpisodes, as_episode_rewards
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.observation import ObservationLayout, song_tables

_LENGTH_COLUMNS = np.array([name in LENGTH_TERMS for name in TERM_NAMES])
_GUARD_COLUMNS = np.array([name in GUARD_TERMS for name in TERM_NAMES])
_TERM = {name: k for k, name in enumerate(TERM_NAMES)}


def check_analyses(analyses: Sequence[SongAnalysis], min_beats: int = 3) -> list[SongAnalysis]:
    """Return the analyses as a list, refusing empty lists and songs too short to edit."""
    analyses = list(analyses)
    if not analyses:
        raise PolicyError("no songs given: pass at least one analysed song (--songs DIR with audio files)")
    for a in analyses:
        if a.n_beats < min_beats:
            raise PolicyError(f"{a.path}: only {a.n_beats} beats detected; a song needs at least {min_beats} to edit")
    return analyses


def check_target(target: float | None, what: str = "target") -> float | None:
    """A target length share in (0, 1], or None; anything else is a one-line error."""
    if target is None:
        return None
    value = float(target)
    if not np.isfinite(value) or value <= 0:
        raise PolicyError(f"{what} must be a share of the song above 0, got {target}")
    if value > 1.0:
        raise PolicyError(f"{what} {value:g} is longer than the song; give a share up to 1 (or a time within it)")
    return value


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """Start of each block when blocks of ``sizes`` are concatenated."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


class SongBank:
    """Per-song phrase tables of many songs, concatenated so slots can gather from them in one go."""

    def __init__(self, analyses: Sequence[SongAnalysis], config: EnvConfig) -> None:
        self.analyses = check_analyses(analyses)
        self.layout = ObservationLayout.from_config(config)
        lb, la, pad = config.lookback, config.lookahead, config.n_jump_options
        tables = [song_tables(a, config) for a in self.analyses]
        self.n_units = np.array([t["unit_share"].size for t in tables], dtype=np.int64)
        nf = tables[0]["features"].shape[1]
        feats = []
        for t in tables:
            feats += [np.zeros((lb, nf), np.float32), t["features"], np.zeros((la, nf), np.float32)]
        self.features = np.concatenate(feats)
        self.feat_offset = _offsets(self.n_units + lb + la) + lb
        self.unit_offset = _offsets(self.n_units)
        self.unit_share = np.concatenate([t["unit_share"] for t in tables])
        # unit shares with zeros after each song, so a look-ahead past a song's end reads 0
        self.unit_share_padded = np.concatenate([np.append(t["unit_share"], np.zeros(pad)) for t in tables])
        self.padded_offset = _offsets(self.n_units + pad)
        self.jump_terms = np.concatenate([t["jump_terms"] for t in tables])
        self.jump_cost = self.jump_terms.sum(axis=2)
        self.editorial_cuts = np.concatenate([t["editorial_cuts"] for t in tables])
        # [s, d]: a cut that started at phrase s and has removed d phrases can still end editorially later
        later = np.logical_or.accumulate(self.editorial_cuts[:, ::-1], axis=1)[:, ::-1]
        self.editorial_end_ahead = np.concatenate([later[:, 1:], np.zeros((later.shape[0], 1), bool)], axis=1)
        self.bounds = [t["bounds"] for t in tables]
        self.mean_unit_share = 1.0 / np.maximum(self.n_units, 1)
        self.max_units = int(self.n_units.max())

    def __len__(self) -> int:
        return len(self.analyses)

    def beat_actions(self, song: int, unit_actions: np.ndarray) -> np.ndarray:
        """Per-beat actions (int8, shape (n_beats,)) of per-phrase actions of one song."""
        bounds = self.bounds[song]
        return np.repeat(np.asarray(unit_actions, dtype=np.int8), np.diff(bounds))


class EditBatch:
    """``n_slots`` edits in progress, stepped together with numpy.

    Each slot edits one song of the bank; :meth:`load` puts songs into slots
    (each with a target length share, NaN for none), :meth:`observe` /
    :meth:`action_masks` describe the current phrase of every slot and
    :meth:`step` applies one action per slot.
    """

    def __init__(self, bank: SongBank, config: EnvConfig, n_slots: int) -> None:
        self.bank, self.config, self.n_slots = bank, config, n_slots
        self.layout = bank.layout
        self.reward = config.reward

        def z(dtype: Any = np.int64) -> np.ndarray:
            return np.zeros(n_slots, dtype=dtype)

        self.song, self.n, self.t, self.last = z(), z(), z(), z()
        self.cut_run, self.prev_action, self.n_splices = z(), z(), z()
        self.played, self.elapsed = z(np.float64), z(np.float64)
        self.target = z(np.float64)
        self.has_target = z(bool)
        self.terms = np.zeros((n_slots, len(TERM_NAMES)), dtype=np.float64)
        self.episode_return = np.zeros(n_slots, dtype=np.float64)
        self.actions = np.zeros((n_slots, bank.max_units), dtype=np.int8)

    def load(self, slots: np.ndarray, songs: np.ndarray, targets: np.ndarray | None = None) -> None:
        """Start editing ``songs[k]`` (bank indices) in ``slots[k]`` aiming at ``targets[k]`` (NaN: none)."""
        slots = np.asarray(slots, dtype=np.int64)
        songs = np.asarray(songs, dtype=np.int64)
        targets = np.full(slots.size, np.nan) if targets is None else np.asarray(targets, dtype=np.float64)
        self.song[slots] = songs
        self.n[slots] = self.bank.n_units[songs]
        for arr in (self.t, self.cut_run, self.n_splices):
            arr[slots] = 0
        self.played[slots] = 0.0
        self.elapsed[slots] = 0.0
        self.last[slots] = -1
        self.prev_action[slots] = KEEP
        self.has_target[slots] = np.isfinite(targets)
        self.target[slots] = np.where(np.isfinite(targets), targets, self.reward.target_keep_share)
        self.terms[slots] = 0.0
        self.episode_return[slots] = 0.0
        self.actions[slots] = 0

    def action_masks(self) -> np.ndarray:
        """Shape (n_slots, 3) bool: which actions are allowed at each slot's current phrase."""
        inner = (self.t > 0) & (self.t < self.n - 1)
        masks = np.ones((self.n_slots, 3), dtype=bool)
        masks[:, CUT] = inner & (self.cut_run + 2 <= self.config.max_cut_phrases + 1)
        masks[:, REPEAT] = self.config.allow_repeat & inner & (self.prev_action == KEEP)
        if self.config.editorial_cuts:
            bank = self.bank
            row = bank.unit_offset[self.song] + np.clip(self.t - self.cut_run, 0, self.n - 1)
            run = np.minimum(self.cut_run, bank.editorial_cuts.shape[1] - 1)
            may_resume = (self.cut_run == 0) | bank.editorial_cuts[row, run]
            masks[:, CUT] &= bank.editorial_end_ahead[row, run]
            masks[:, KEEP] = may_resume | ~masks[:, CUT]  # never leave a slot without an action
            masks[:, REPEAT] &= may_resume
        return masks

    def observe(self) -> np.ndarray:
        """Shape (n_slots, obs_dim) float32 observation of each slot's current phrase."""
        return self.layout.build(self)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply one action per slot.

        Returns
        -------
        rewards : ndarray, shape (n_slots,)
            Dense reward of the step (quality terms times ``dense_reward_scale``,
            length terms times the slot's length scale).
        done : ndarray of bool, shape (n_slots,)
            Slots whose song just ended (their ``terms`` hold the episode's terms).
        """
        a = np.asarray(actions, dtype=np.int64).reshape(self.n_slots)
        bank, cfg = self.bank, self.reward
        t, last = self.t, self.last
        is_cut, is_rep = a == CUT, a == REPEAT
        row0 = bank.unit_offset[self.song]
        width = bank.jump_cost.shape[1]
        resume = ~is_cut & (t > 0) & (last != t - 1)
        jump = bank.jump_terms[row0 + np.maximum(last, 0), np.clip(t - last, 0, width - 1)]
        here = row0 + np.minimum(t, self.n - 1)
        repeat_splice = bank.jump_terms[here, 0]
        step_terms = np.zeros((self.n_slots, len(TERM_NAMES)), dtype=np.float64)
        for k, name in enumerate(SPLICE_TERMS):
            step_terms[:, _TERM[name]] = np.where(resume, jump[:, k], 0.0) + np.where(is_rep, repeat_splice[:, k], 0.0)
        step_terms[:, _TERM["repeat"]] = -cfg.w_repeat * is_rep
        share = bank.unit_share[here]
        played_new = self.played + share * np.where(is_cut, 0, np.where(is_rep, 2, 1))
        elapsed_new = self.elapsed + share
        unit = bank.mean_unit_share[self.song]
        step_terms[:, _TERM["length"]] = length_potential(
            played_new, elapsed_new, self.target, unit, cfg.w_length
        ) - length_potential(self.played, self.elapsed, self.target, unit, cfg.w_length)
        done = t + 1 >= self.n
        if done.any():
            ends = terminal_terms(played_new, self.target, cfg)
            for name in ("length_hit", "degenerate"):
                step_terms[:, _TERM[name]] = np.where(done, ends[name], 0.0)
        self.terms += step_terms
        length_scale = np.where(self.has_target, self.config.target_length_scale, self.config.free_length_scale)
        scales = np.where(_LENGTH_COLUMNS[None, :], length_scale[:, None], self.config.dense_reward_scale)
        scales = np.where(_GUARD_COLUMNS[None, :], 1.0, scales)
        rewards = (scales * step_terms).sum(axis=1)
        self.episode_return += rewards
        self.actions[np.arange(self.n_slots), np.minimum(t, self.bank.max_units - 1)] = a
        self.n_splices += resume.astype(np.int64) + is_rep.astype(np.int64)
        self.last = np.where(is_cut, last, t)
        self.played, self.elapsed = played_new, elapsed_new
        self.cut_run = np.where(is_cut, self.cut_run + 1, 0)
        self.prev_action = a
        self.t = t + 1
        return rewards, done

    def episode_actions(self, slot: int) -> np.ndarray:
        """Per-beat actions of the slot's edit."""
        return self.bank.beat_actions(int(self.song[slot]), self.actions[slot, : self.n[slot]])

    def episode_terms(self, slot: int) -> dict[str, float]:
        terms = {name: float(v) for name, v in zip(TERM_NAMES, self.terms[slot])}
        terms["total"] = float(self.terms[slot].sum())
        return terms


class EditVecEnv(VecEnv):
    """Batched editing environment with the Stable-Baselines3 ``VecEnv`` interface.

    Parameters
    ----------
    analyses : sequence of SongAnalysis
        Songs to edit; slots cycle through them in a seeded shuffled order.
    config : EnvConfig
        Constraints, observation window, targets and reward weights.
    n_envs : int
        Songs edited side by side.
    episode_reward_fn : callable, optional
        ``fn(FinishedEpisodes) -> ndarray or EpisodeRewards`` called once per step for all
        episodes that end in it; each value is added to that episode's last reward.
    seed : int
        Seeds the song order and the targets (``VecEnv.seed`` re-seeds them at the next reset).

    Notes
    -----
    ``infos[k]`` of an episode's last step holds ``episode`` (``{"r", "l"}``, as
    SB3's ``Monitor`` writes), ``episode_actions``, ``dense_terms`` (the dense
    terms, unscaled, and their ``total``), ``song_id``, ``target`` (NaN without
    one), ``learned_reward`` and ``episode_reward_terms`` (when
    ``episode_reward_fn`` is set: its reward and its named terms). Episodes end by termination, never by a time
    limit, so no ``terminal_observation`` is needed for bootstrapping.
    """

    def __init__(
        self,
        analyses: Sequence[SongAnalysis],
        config: EnvConfig | None = None,
        *,
        n_envs: int = 8,
        episode_reward_fn: EpisodeRewardFn | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or EnvConfig()
        low, high = self.config.target_range
        if not 0 < low <= high <= 1:
            raise PolicyError(f"target_range must satisfy 0 < low <= high <= 1, got {self.config.target_range}")
        self.bank = SongBank(analyses, self.config)
        self.episode_reward_fn = episode_reward_fn
        self.render_mode = None
        self.batch = EditBatch(self.bank, self.config, n_envs)
        dim = self.bank.layout.dim
        obs_space = gym.spaces.Box(low=-np.inf, high=np.inf, shape=(dim,), dtype=np.float32)
        super().__init__(n_envs, obs_space, gym.spaces.Discrete(3))
        self._rng = np.random.default_rng(seed)
        self._queue: list[int] = []
        self._actions: np.ndarray | None = None
        # what the policy saw at each decision of the running episodes, for the episode reward
        self._seen = np.zeros((n_envs, self.bank.max_units, dim), dtype=np.float32)
        self._seen_masks = np.ones((n_envs, self.bank.max_units, 3), dtype=bool)
        self._masks = np.ones((n_envs, 3), dtype=bool)  # set by reset() and every step (_remember)

    @property
    def analyses(self) -> list[SongAnalysis]:
        return self.bank.analyses

    def _next_songs(self, k: int) -> np.ndarray:
        out = []
        for _ in range(k):
            if not self._queue:
                self._queue = list(self._rng.permutation(len(self.bank)))
            out.append(self._queue.pop(0))
        return np.array(out, dtype=np.int64)

    def _next_targets(self, k: int) -> np.ndarray:
        low, high = self.config.target_range
        targets = self._rng.uniform(low, high, size=k)
        return np.where(self._rng.random(k) < self.config.free_share, np.nan, targets)

    def _load(self, slots: np.ndarray) -> None:
        self.batch.load(slots, self._next_songs(slots.size), self._next_targets(slots.size))

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._queue = []
        return [seed] * self.num_envs

    def _remember(self, obs: np.ndarray) -> np.ndarray:
        """Work out the current decisions' action masks once (``action_masks`` hands them out), and keep each
        slot's observation and mask of its current decision when an episode reward needs them."""
        self._masks = self.batch.action_masks()
        if self.episode_reward_fn is not None:
            slots, t = np.arange(self.num_envs), np.minimum(self.batch.t, self.bank.max_units - 1)
            self._seen[slots, t] = obs
            self._seen_masks[slots, t] = self._masks
        return obs

    def _finished_episodes(
        self, finished: np.ndarray, actions: list[np.ndarray], songs: list[SongAnalysis]
    ) -> FinishedEpisodes:
        lengths = [int(self.batch.n[k]) for k in finished]
        return FinishedEpisodes(
            analyses=songs,
            actions=actions,
            decisions=[self.batch.actions[k, :n].astype(np.int64) for k, n in zip(finished, lengths)],
            observations=[self._seen[k, :n].copy() for k, n in zip(finished, lengths)],
            action_masks=[self._seen_masks[k, :n].copy() for k, n in zip(finished, lengths)],
            targets=np.where(self.batch.has_target[finished], self.batch.target[finished], np.nan),
        )

    def reset(self) -> np.ndarray:
        self._load(np.arange(self.num_envs))
        return self._remember(self.batch.observe())

    def action_masks(self) -> np.ndarray:
        """Shape (n_envs, 3) bool, for sb3-contrib ``MaskablePPO`` (of the decisions since the last reset or step)."""
        return self._masks

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None, "step_async() gives the actions before step_wait()"
        rewards, done = self.batch.step(self._actions)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        finished = np.flatnonzero(done)
        if finished.size:
            actions = [self.batch.episode_actions(int(k)) for k in finished]
            songs = [self.bank.analyses[self.batch.song[k]] for k in finished]
            if self.episode_reward_fn is not None:
                paid = as_episode_rewards(
                    self.episode_reward_fn(self._finished_episodes(finished, actions, songs)), finished.size
                )
                learned = paid.total
                rewards[finished] += learned
                self.batch.episode_return[finished] += learned
            for pos, k in enumerate(finished):
                infos[k] = {
                    "episode": {"r": float(self.batch.episode_return[k]), "l": int(self.batch.n[k])},
                    "episode_actions": actions[pos],
                    "dense_terms": self.batch.episode_terms(int(k)),
                    "song_id": songs[pos].song_id,
                    "song_index": int(self.batch.song[k]),
                    "target": float(self.batch.target[k]) if self.batch.has_target[k] else float("nan"),
                }
                if self.episode_reward_fn is not None:
                    infos[k]["learned_reward"] = float(learned[pos])
                    infos[k]["episode_reward_terms"] = {name: float(v[pos]) for name, v in paid.terms.items()}
            self._load(finished)
        obs = self._remember(self.batch.observe())
        return obs, rewards.astype(np.float32), done, infos

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        if method_name == "action_masks":
            return list(result)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

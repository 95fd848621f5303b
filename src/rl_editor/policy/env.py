"""The editing environment: one episode edits one song, one step decides one beat.

Actions: 0 keep, 1 cut, 2 repeat (``rl_editor.edit``). Many songs step together
in numpy arrays (:class:`EditBatch`); :class:`EditVecEnv` exposes that batch as
a Stable-Baselines3 ``VecEnv`` that moves each slot onto the next song (a
seeded shuffle of the song list, reshuffled each pass) when its episode ends.

Constraints, enforced by ``action_masks()`` (keep is always allowed):

- the first and the last beat are kept (they carry the pickup and the tail);
- at most ``max_cut_run`` cuts in a row (default 8 = two bars of 4/4): longer
  gaps drop whole sections, which the edit length term cannot tell from a
  good edit;
- at most ``beats_per_bar`` repeats in a row (no loops longer than a bar);
- no repeat right after a cut: the splice back in would be followed at once by
  a second splice (the stutter), which is never musical.

Observation (float32, see :mod:`rl_editor.policy.observation`): compact
z-scored features of the beats around the current one, its position in the
bar, how resuming playback at this and the next few beats would sound, and the
state of the edit (keep share vs target, beats since the last splice, runs,
progress).

Rewards: the dense terms of :mod:`rl_editor.policy.dense_reward`, times
``dense_reward_scale``, plus, at the last step of an episode,
``episode_reward_fn(analyses, actions)`` (for a learned reward), unscaled.
The per-step dense rewards of an episode sum to ``score_edit(...)["total"]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import CUT, KEEP, REPEAT
from rl_editor.errors import RlEditorError
from rl_editor.policy.dense_reward import TERM_NAMES, DenseRewardConfig, length_potential, terminal_terms
from rl_editor.policy.observation import ObservationLayout, song_tables

EpisodeRewardFn = Callable[[list[SongAnalysis], list[np.ndarray]], np.ndarray]


class PolicyError(RlEditorError):
    """Bad input to the policy stage (songs, checkpoints, configuration)."""


@dataclass
class EnvConfig:
    """Everything that shapes the environment.

    Attributes
    ----------
    n_envs : int
        Songs stepping together.
    max_cut_run : int
        Most cuts allowed in a row (beats).
    allow_repeat : bool
        Whether the repeat action is available at all.
    lookback, lookahead : int
        Beats before / after the current one whose features are observed. A
        narrow window generalises better from a few training songs to new
        music (with 2 / 4, policies trained on 6 demo songs put about half of
        their splices on bar lines in real songs; with 0 / 1, 78-100%).
    dense_reward_scale : float
        Multiplies the dense terms; 0 trains on ``episode_reward_fn`` alone.
    reward : DenseRewardConfig
        Weights of the dense terms (includes the target keep share).
    """

    n_envs: int = 8
    max_cut_run: int = 8
    allow_repeat: bool = True
    lookback: int = 0
    lookahead: int = 1
    dense_reward_scale: float = 1.0
    reward: DenseRewardConfig = field(default_factory=DenseRewardConfig)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "EnvConfig":
        data = dict(data)
        data["reward"] = DenseRewardConfig(**data.get("reward", {}))
        return cls(**data)


def check_analyses(analyses: Sequence[SongAnalysis], min_beats: int = 3) -> list[SongAnalysis]:
    """Return the analyses as a list, refusing empty lists and songs too short to edit."""
    analyses = list(analyses)
    if not analyses:
        raise PolicyError("no songs given: pass at least one analysed song (--songs DIR with audio files)")
    for a in analyses:
        if a.n_beats < min_beats:
            raise PolicyError(f"{a.path}: only {a.n_beats} beats detected; a song needs at least {min_beats} to edit")
    return analyses


class SongBank:
    """Per-song tables of many songs, concatenated so slots can gather from them in one go."""

    def __init__(self, analyses: Sequence[SongAnalysis], config: EnvConfig) -> None:
        self.analyses = check_analyses(analyses)
        self.layout = ObservationLayout.from_config(config)
        lb, la = config.lookback, config.lookahead
        feats, bib, q, onbar, splice, bar = [], [], [], [], [], []
        self.n_beats = np.array([a.n_beats for a in self.analyses], dtype=np.int64)
        self.beats_per_bar = np.array([max(int(a.beats_per_bar), 1) for a in self.analyses], dtype=np.int64)
        self.feat_offset = np.zeros(len(self.analyses), dtype=np.int64)
        self.band_offset = np.zeros(len(self.analyses), dtype=np.int64)
        feat_pos = band_pos = 0
        for s, a in enumerate(self.analyses):
            t = song_tables(a, config)
            nf = t["features"].shape[1]
            feats += [np.zeros((lb, nf), np.float32), t["features"], np.zeros((la, nf), np.float32)]
            self.feat_offset[s] = feat_pos + lb
            feat_pos += lb + a.n_beats + la
            self.band_offset[s] = band_pos
            band_pos += a.n_beats
            bib.append(t["beat_in_bar"])
            q.append(t["q_band"])
            onbar.append(t["on_bar_band"])
            splice.append(t["splice_band"])
            bar.append(t["bar_line_band"])
        self.features = np.concatenate(feats)
        self.beat_in_bar = np.concatenate(bib)
        self.q_band = np.concatenate(q)
        self.on_bar_band = np.concatenate(onbar)
        self.splice_band = np.concatenate(splice)
        self.bar_line_band = np.concatenate(bar)
        self.max_beats = int(self.n_beats.max())

    def __len__(self) -> int:
        return len(self.analyses)


class EditBatch:
    """``n_slots`` edits in progress, stepped together with numpy.

    Each slot edits one song of the bank; :meth:`load` puts songs into slots,
    :meth:`observe` / :meth:`action_masks` describe the current beat of every
    slot and :meth:`step` applies one action per slot.
    """

    def __init__(self, bank: SongBank, config: EnvConfig, n_slots: int) -> None:
        self.bank, self.config, self.n_slots = bank, config, n_slots
        self.layout = bank.layout
        self.reward = config.reward
        z = lambda dtype=np.int64: np.zeros(n_slots, dtype=dtype)  # noqa: E731
        self.song, self.n, self.bpb, self.t, self.last = z(), z(), z(), z(), z()
        self.played, self.cut_run, self.repeat_run, self.since_splice = z(), z(), z(), z()
        self.prev_action, self.n_cuts = z(), z()
        self.terms = np.zeros((n_slots, len(TERM_NAMES)), dtype=np.float64)
        self.episode_return = np.zeros(n_slots, dtype=np.float64)
        self.actions = np.zeros((n_slots, bank.max_beats), dtype=np.int8)
        self._rows = np.arange(n_slots)

    def load(self, slots: np.ndarray, songs: np.ndarray) -> None:
        """Start editing ``songs[k]`` (bank indices) in ``slots[k]``."""
        slots = np.asarray(slots, dtype=np.int64)
        songs = np.asarray(songs, dtype=np.int64)
        self.song[slots] = songs
        self.n[slots] = self.bank.n_beats[songs]
        self.bpb[slots] = self.bank.beats_per_bar[songs]
        for arr in (self.t, self.played, self.cut_run, self.repeat_run, self.since_splice, self.n_cuts):
            arr[slots] = 0
        self.last[slots] = -1
        self.prev_action[slots] = KEEP
        self.terms[slots] = 0.0
        self.episode_return[slots] = 0.0
        self.actions[slots] = 0

    def action_masks(self) -> np.ndarray:
        """Shape (n_slots, 3) bool: which actions are allowed at each slot's current beat."""
        inner = (self.t > 0) & (self.t < self.n - 1)
        masks = np.ones((self.n_slots, 3), dtype=bool)
        masks[:, CUT] = inner & (self.cut_run < self.config.max_cut_run)
        masks[:, REPEAT] = (
            self.config.allow_repeat & inner & (self.repeat_run < self.bpb) & (self.prev_action != CUT)
        )
        return masks

    def observe(self) -> np.ndarray:
        """Shape (n_slots, obs_dim) float32 observation of each slot's current beat."""
        return self.layout.build(self)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply one action per slot.

        Returns
        -------
        rewards : ndarray, shape (n_slots,)
            Dense reward of the step times ``dense_reward_scale``.
        done : ndarray of bool, shape (n_slots,)
            Slots whose song just ended (their ``terms`` hold the episode's terms).
        """
        a = np.asarray(actions, dtype=np.int64).reshape(self.n_slots)
        bank, cfg = self.bank, self.reward
        t, last = self.t, self.last
        is_cut, is_rep = a == CUT, a == REPEAT
        resume = ~is_cut & (t > 0) & (last != t - 1)
        row = bank.band_offset[self.song] + np.maximum(last, 0)
        d = np.clip(t - last, 0, bank.q_band.shape[1] - 1)
        step_terms = np.zeros((self.n_slots, len(TERM_NAMES)), dtype=np.float64)
        step_terms[:, 0] = np.where(resume, bank.splice_band[row, d], 0.0)
        step_terms[:, 1] = np.where(resume, bank.bar_line_band[row, d], 0.0)
        here = bank.band_offset[self.song] + np.minimum(t, self.n - 1)
        step_terms[:, 0] += np.where(is_rep, bank.splice_band[here, 0], 0.0)
        step_terms[:, 1] += np.where(is_rep, bank.bar_line_band[here, 0], 0.0)
        step_terms[:, 2] = -cfg.w_repeat * is_rep
        played_new = self.played + np.where(is_cut, 0, np.where(is_rep, 2, 1))
        step_terms[:, 3] = length_potential(played_new, t + 1, self.bpb, cfg) - length_potential(
            self.played, t, self.bpb, cfg
        )
        done = t + 1 >= self.n
        n_cuts = self.n_cuts + is_cut
        if done.any():
            ends = terminal_terms(played_new / self.n, n_cuts, cfg)
            step_terms[:, 4] = np.where(done, ends["length_hit"], 0.0)
            step_terms[:, 5] = np.where(done, ends["degenerate"], 0.0)
        self.terms += step_terms
        rewards = self.config.dense_reward_scale * step_terms.sum(axis=1)
        self.episode_return += rewards
        self.actions[self._rows, np.minimum(t, self.bank.max_beats - 1)] = a
        self.since_splice = np.where(resume | is_rep, 0, self.since_splice + 1)
        self.last = np.where(is_cut, last, t)
        self.played = played_new
        self.n_cuts = n_cuts
        self.cut_run = np.where(is_cut, self.cut_run + 1, 0)
        self.repeat_run = np.where(is_rep, self.repeat_run + 1, 0)
        self.prev_action = a
        self.t = t + 1
        return rewards, done

    def episode_actions(self, slot: int) -> np.ndarray:
        return self.actions[slot, : self.n[slot]].copy()

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
        Constraints, observation window, reward weights and ``n_envs``.
    episode_reward_fn : callable, optional
        ``fn(analyses, actions) -> ndarray`` called once per step for all episodes
        that end in it; each value is added to that episode's last reward.
    seed : int
        Seeds the song order (``VecEnv.seed`` re-seeds it at the next reset).

    Notes
    -----
    ``infos[k]`` of an episode's last step holds ``episode`` (``{"r", "l"}``, as
    SB3's ``Monitor`` writes), ``episode_actions``, ``dense_terms`` (the dense
    terms, unscaled, and their ``total``), ``song_id``, ``learned_reward`` (when
    ``episode_reward_fn`` is set). Episodes end by termination, never by a time
    limit, so no ``terminal_observation`` is needed for bootstrapping.
    """

    def __init__(
        self,
        analyses: Sequence[SongAnalysis],
        config: EnvConfig | None = None,
        *,
        episode_reward_fn: EpisodeRewardFn | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config or EnvConfig()
        self.bank = SongBank(analyses, self.config)
        self.episode_reward_fn = episode_reward_fn
        self.render_mode = None
        self.batch = EditBatch(self.bank, self.config, self.config.n_envs)
        dim = self.bank.layout.dim
        obs_space = gym.spaces.Box(low=-np.inf, high=np.inf, shape=(dim,), dtype=np.float32)
        super().__init__(self.config.n_envs, obs_space, gym.spaces.Discrete(3))
        self._rng = np.random.default_rng(seed)
        self._queue: list[int] = []
        self._actions: np.ndarray | None = None

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

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._queue = []
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        slots = np.arange(self.num_envs)
        self.batch.load(slots, self._next_songs(self.num_envs))
        return self.batch.observe()

    def action_masks(self) -> np.ndarray:
        """Shape (n_envs, 3) bool, for sb3-contrib ``MaskablePPO``."""
        return self.batch.action_masks()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        rewards, done = self.batch.step(self._actions)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        finished = np.flatnonzero(done)
        if finished.size:
            actions = [self.batch.episode_actions(k) for k in finished]
            songs = [self.bank.analyses[self.batch.song[k]] for k in finished]
            if self.episode_reward_fn is not None:
                learned = np.asarray(self.episode_reward_fn(songs, actions), dtype=np.float64).reshape(-1)
                rewards[finished] += learned
                self.batch.episode_return[finished] += learned
            for pos, k in enumerate(finished):
                infos[k] = {
                    "episode": {"r": float(self.batch.episode_return[k]), "l": int(self.batch.n[k])},
                    "episode_actions": actions[pos],
                    "dense_terms": self.batch.episode_terms(k),
                    "song_id": songs[pos].song_id,
                    "song_index": int(self.batch.song[k]),
                }
                if self.episode_reward_fn is not None:
                    infos[k]["learned_reward"] = float(learned[pos])
            self.batch.load(finished, self._next_songs(finished.size))
        obs = self.batch.observe()
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

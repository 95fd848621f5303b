"""PPO on the editing environment: sb3-contrib's ``MaskablePPO`` plus the glue around it.

``PPOTrainer`` trains a policy on songs (dense reward, or a reward of whole
edits that the environment pays at each edit's end, as fine-tuning does), saves
and loads it as one model file (``rl_editor.registry``), and rolls out edits at
a chosen temperature. :meth:`PPOTrainer.continued` carries a trained policy on
with other PPO settings (a new model built with them, the same weights).

One step decides one phrase (keep, cut or repeat it), with the target length
as an input (``generate_edit(song, target=0.55)``); without a target an edit
gets the policy's own length (``PolicyConfig.preferred_target``, or the dense
reward's ``target_keep_share`` before fine-tuning set one).

Temperature divides the policy's logits before sampling (masked actions stay
impossible); 0 picks the most likely action at every phrase (greedy). Higher
temperatures change which phrases go; the length follows the target, so ask
for shorter or longer edits with ``target``, not the temperature.
``benchmarks/bench_policy_train.py`` measures lengths, splices and diversity.

Example
-------
>>> trainer = PPOTrainer(PolicyConfig(seed=0))
>>> trainer.train(episodes=3000, songs_dir="songs/")
>>> trainer.save_checkpoint("models/policy.pt")
>>> actions = trainer.generate_edit(analysis, temperature=0.5, seed=1, target=0.6)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.load import load_songs
from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_from_json, config_to_json
from rl_editor.edit import CUT
from rl_editor.policy.checkpoint import copy_policy_state, policy_state, restore_policy_model, state_from_sb3_zip
from rl_editor.policy.config import PolicyConfig
from rl_editor.policy.dense_reward import edit_stats
from rl_editor.policy.env import EditBatch, EditVecEnv, SongBank, check_target
from rl_editor.policy.episode_log import EpisodeLogger
from rl_editor.policy.episode_reward import EpisodeRewardFn
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.length import fit_to_target, slide_cuts_to_smooth_seams, target_share, warn_if_far_from_target
from rl_editor.policy.songs import analysis_from_features, songs_fingerprint
from rl_editor.registry import ModelMeta, load_model_file, new_version, save_model_file


class PPOTrainer:
    """Train, save, load and sample the editing policy.

    Attributes
    ----------
    config : PolicyConfig
    model : sb3_contrib.MaskablePPO or None
        The SB3 model (None until trained or loaded).
    meta : ModelMeta or None
        Of the last checkpoint saved or loaded.
    history : list of dict
        One row per finished training episode (also written to ``learning_curve.csv``).
    """

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self.model: Any = None  # a MaskablePPO once trained or loaded
        self.meta: ModelMeta | None = None
        self.temperature = self.config.temperature
        self.history: list[dict[str, Any]] = []
        self.finetune_history: list[dict[str, Any]] = []  # per-episode log of RLHF fine-tuning
        self._trained_on: dict[str, Any] = {}
        self._metrics: dict[str, Any] = {}
        self._dirty = False
        self._banks: dict[str, SongBank] = {}

    # ---------------------------------------------------------------- training
    def reset_model(self, analyses: Sequence[SongAnalysis]) -> None:
        """Start from a fresh, untrained policy (seeded by ``config.seed``)."""
        self._seed_everything()
        env = EditVecEnv(analyses, self.config.env, n_envs=self.config.n_envs, seed=self.config.seed)
        self.model = self._new_model(env, None)
        self.meta, self._trained_on, self._metrics, self._dirty = None, {}, {}, True
        self._banks.clear()

    def _new_model(self, env: EditVecEnv | None, tensorboard_log: str | None, **extra: Any):
        from sb3_contrib import MaskablePPO

        c = self.config
        return MaskablePPO(
            "MlpPolicy",
            env,  # type: ignore[arg-type]  # None only with _init_setup_model=False, as SB3's own load() passes
            learning_rate=c.learning_rate,
            n_steps=c.n_steps,
            batch_size=c.batch_size,
            n_epochs=c.n_epochs,
            gamma=c.gamma,
            gae_lambda=c.gae_lambda,
            clip_range=c.clip_range,
            ent_coef=c.ent_coef,
            vf_coef=c.vf_coef,
            max_grad_norm=c.max_grad_norm,
            policy_kwargs={"net_arch": {"pi": list(c.net_arch), "vf": list(c.net_arch)}},
            tensorboard_log=tensorboard_log,
            seed=c.seed,
            device="cpu",
            verbose=0,
            **extra,
        )

    def _seed_everything(self) -> None:
        import torch
        from stable_baselines3.common.utils import set_random_seed

        torch.set_num_threads(self.config.torch_threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
        set_random_seed(self.config.seed)

    def train(
        self,
        episodes: int,
        analyses: Sequence[SongAnalysis] | None = None,
        songs_dir: str | Path | None = None,
        callback: Any = None,
        progress: bool = True,
        *,
        episode_reward_fn: EpisodeRewardFn | None = None,
        env_overrides: dict[str, Any] | None = None,
        reward_source: str = "dense",
        log_dir: str | Path | None = None,
    ) -> PPOTrainer:
        """Train for about ``episodes`` episodes (one episode = one song edited once).

        Training stops at the end of the PPO rollout in which the count is reached.

        Parameters
        ----------
        episodes : int
            Episodes to train for.
        analyses : sequence of SongAnalysis, optional
            Songs to train on; else every audio file in ``songs_dir`` is analysed.
        songs_dir : str or Path, optional
        callback : BaseCallback or list, optional
            Extra Stable-Baselines3 callbacks.
        progress : bool
            Show a tqdm bar over episodes.
        episode_reward_fn : callable, optional
            Reward of whole edits, added at each episode's last step: called with the
            :class:`~rl_editor.policy.episode_reward.FinishedEpisodes` of each step (fine-tuning
            passes the learned reward with its KL penalty, :class:`~rl_editor.policy.episode_reward.KLRegularizedReward`).
        env_overrides : dict, optional
            :class:`EnvConfig` fields to change for this run only (fine-tuning
            sets ``dense_reward_scale``, ``free_length_scale``, ``free_share``).
        reward_source : str
            Recorded in the checkpoint: ``"dense"`` or the reward model's version.
        log_dir : str or Path, optional
            Where ``learning_curve.csv`` and TensorBoard logs go.
        """
        from stable_baselines3.common.callbacks import CallbackList

        if episodes < 1:
            raise PolicyError(f"episodes must be at least 1, got {episodes}")
        if analyses is None:
            if songs_dir is None:
                raise PolicyError("train needs songs: pass analyses or songs_dir")
            analyses = load_songs(songs_dir, progress=progress)
        analyses = list(analyses)
        self._seed_everything()
        env_config = self.config.env if env_overrides is None else replace(self.config.env, **env_overrides)
        env = EditVecEnv(
            analyses, env_config, n_envs=self.config.n_envs, episode_reward_fn=episode_reward_fn, seed=self.config.seed
        )
        tb_dir = str(Path(log_dir) / "tensorboard") if log_dir else None
        previous = self.model
        first_run = previous is None or previous.num_timesteps == 0
        if previous is not None and previous.observation_space.shape != env.observation_space.shape:
            raise PolicyError("the checkpoint's observation size does not match this configuration")
        # a model built with this config's PPO settings; a trained or loaded policy carries on in it
        self.model = self._new_model(env, tb_dir)
        if previous is not None:
            copy_policy_state(previous, self.model)
            self.model.set_random_seed(self.config.seed)
        if tb_dir is None:
            self.model.set_logger(_silent_logger())  # SB3's default logger makes an empty temp dir per run
        logger = EpisodeLogger(episodes, env, log_dir=log_dir, progress=progress)
        extra = callback if isinstance(callback, list) else ([callback] if callback is not None else [])
        callbacks = [logger, *extra]
        rollout = self.config.n_envs * self.config.n_steps
        budget = episodes * env.bank.max_units + self.config.n_envs * env.bank.max_units + 2 * rollout
        self.model.learn(
            total_timesteps=budget,
            callback=CallbackList(callbacks),
            reset_num_timesteps=first_run,
            tb_log_name="ppo",
            progress_bar=False,
        )
        self.history.extend(logger.rows)
        previous = self._trained_on.get("episodes", 0) if self._trained_on else 0
        self._trained_on = {
            "source": f"{len(analyses)} songs",
            "sha256": songs_fingerprint(analyses),
            "count": len(analyses),
            "song_ids": [a.song_id for a in analyses][:200],
            "reward_source": reward_source,
            "episodes": previous + logger.n_episodes,
        }
        recent = logger.rows[-min(len(logger.rows), 100) :]
        self._metrics = (
            {
                f"train_mean_{k}": float(np.mean([r[k] for r in recent]))
                for k in ("episode_reward", "dense_total", "duration_share", "splices_per_minute")
            }
            if recent
            else {}
        )
        self._dirty = True
        return self

    def record_lineage(self, trained_on: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> None:
        """Add facts about what the policy was trained on, and measured figures, to its next checkpoint."""
        self._trained_on.update(trained_on or {})
        self._metrics.update(metrics or {})
        self._dirty = True

    def continued(self, **settings: Any) -> PPOTrainer:
        """A trainer that carries this policy on with other :class:`PolicyConfig` settings.

        Fine-tuning uses this: it continues a trained policy with its own
        learning rate, entropy bonus and rollout length. The new trainer's
        model is built with those settings when it trains, from this policy's
        weights and optimizer state; this trainer's policy stays as it is.
        The new trainer's checkpoints name this one's as their parent and
        record the settings used.

        Parameters
        ----------
        **settings
            :class:`PolicyConfig` fields to change (unknown names are refused).
        """
        if self.model is None:
            raise PolicyError("no policy: train or load a checkpoint first")
        config = config_from_json(
            PolicyConfig, {**config_to_json(self.config), **settings}, what="policy settings", error=PolicyError
        )
        child = PPOTrainer(config)
        child.model = self.model  # only read: train() builds the child's own model from it
        child.meta = self.meta
        child._trained_on, child._metrics = dict(self._trained_on), dict(self._metrics)
        child._dirty = True
        return child

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the policy, its config and its lineage to one model file."""
        if self.model is None:
            raise PolicyError("nothing to save: train or load a policy first")
        parent = self.meta.version if self.meta is not None else None
        if self.meta is not None and not self._dirty:
            meta = replace(self.meta)
        else:
            meta = ModelMeta(
                kind="policy",
                version=new_version("policy"),
                parent=parent,
                trained_on=dict(self._trained_on),
                metrics=dict(self._metrics),
                config=config_to_json(self.config),
            )
        save_model_file(path, policy_state(self.model, config_to_json(self.config)), meta)
        self.meta, self._dirty = meta, False
        return Path(path)

    def load_checkpoint(self, path: str | Path) -> PPOTrainer:
        """Restore a policy saved by :meth:`save_checkpoint` (config, model and meta)."""
        state, meta = load_model_file(path, kind="policy")
        if "policy_config" not in state or not ("policy_weights" in state or "sb3_zip" in state):
            raise PolicyError(f"{path}: policy file lacks the model or its config; re-train it")
        if "sb3_zip" in state:
            state = state_from_sb3_zip(state["sb3_zip"], state["policy_config"], path)
        self.config = config_from_json(PolicyConfig, state["policy_config"], what="policy config", error=PolicyError)
        self._seed_everything()
        self.model = restore_policy_model(self._new_model(None, None, _init_setup_model=False), state, path)
        self.meta = meta
        self.temperature = self.config.temperature
        self._trained_on = dict(meta.trained_on)
        self._metrics = dict(meta.metrics)
        self._dirty = False
        self._banks.clear()
        return self

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> PPOTrainer:
        """A trainer holding the policy saved at ``path`` (ready to generate or keep training)."""
        return cls().load_checkpoint(path)

    # -------------------------------------------------------------- sampling
    def set_temperature(self, temperature: float) -> None:
        """Default temperature of later ``generate_edit`` calls (0 = greedy)."""
        if temperature < 0 or not math.isfinite(temperature):
            raise PolicyError(f"temperature must be >= 0, got {temperature}")
        self.temperature = float(temperature)

    def _analysis(self, song: SongAnalysis | str | Path | np.ndarray) -> SongAnalysis:
        if isinstance(song, SongAnalysis):
            return song
        if isinstance(song, (str, Path)):
            from rl_editor.audio import analyze_song

            if not Path(song).is_file():
                raise PolicyError(f"{song}: no such audio file")
            return analyze_song(song)
        return analysis_from_features(np.asarray(song))

    def _bank(self, analysis: SongAnalysis) -> SongBank:
        key = analysis.content_sha256
        bank = self._banks.get(key)
        if bank is None or bank.analyses[0] is not analysis:
            bank = SongBank([analysis], self.config.env)
            if len(self._banks) > 64:
                self._banks.clear()
            self._banks[key] = bank
        return bank

    def action_logits(self, observations: np.ndarray) -> np.ndarray:
        """Raw policy logits, shape (n, 3), for observations of shape (n, obs_dim)."""
        import torch

        policy = self.model.policy
        with torch.no_grad():
            obs = torch.as_tensor(observations, dtype=torch.float32)
            features = policy.extract_features(obs, policy.pi_features_extractor)
            logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
        return logits.numpy().astype(np.float64)

    @property
    def own_length(self) -> float:
        """Length (share of the song) of edits asked for without a target."""
        c = self.config
        return c.preferred_target if c.preferred_target is not None else c.target_keep_share

    def generate_edits(
        self,
        analysis: SongAnalysis,
        temperatures: Sequence[float],
        seeds: Sequence[int | None],
        targets: Sequence[float | None] | None = None,
        content_noise: float | Sequence[float] = 0.0,
    ) -> list[np.ndarray]:
        """Roll out one edit per ``(temperature, seed, target)`` of one song, all in one batched pass.

        Parameters
        ----------
        analysis : SongAnalysis
        temperatures : sequence of float
            0 is greedy.
        seeds : sequence of int or None
            Seed each candidate's sampling.
        targets : sequence of float or None, optional
            Wanted length of each candidate as a share of the song (0-1]; None
            means the policy's own length: ``config.preferred_target``, or the
            dense reward's ``target_keep_share`` before fine-tuning set one. All
            None when omitted. Edits with a target
            are trimmed by whole bars onto it (:func:`rl_editor.policy.length.fit_to_target`).
        content_noise : float or sequence of float
            Per candidate (or one for all), the spread in nats of a random preference for cutting
            each section (and, at half that, each phrase), seeded like the sampling: at the same
            length, candidates with content noise remove different sections, where a confident
            policy samples nearly the same edit every time. 0 samples the policy as it is.

        Returns
        -------
        list of ndarray of int8, shape (n_beats,)
            Actions (0 keep, 1 cut, 2 repeat) per candidate, in the order given.
        """
        return self.rollout(analysis, temperatures, seeds, targets, content_noise).edits

    def rollout(
        self,
        analysis: SongAnalysis,
        temperatures: Sequence[float],
        seeds: Sequence[int | None],
        targets: Sequence[float | None] | None = None,
        content_noise: float | Sequence[float] = 0.0,
        record: bool = False,
    ) -> Rollout:
        """:meth:`generate_edits`, also returning each candidate's phrase decisions (and, with ``record``,
        the observations and action masks the policy saw at each phrase, for training on chosen edits)."""
        if self.model is None:
            raise PolicyError("no policy: train or load a checkpoint first")
        if len(temperatures) != len(seeds):
            raise PolicyError(f"{len(temperatures)} temperatures but {len(seeds)} seeds")
        targets = [None] * len(seeds) if targets is None else list(targets)
        if len(targets) != len(seeds):
            raise PolicyError(f"{len(targets)} targets but {len(seeds)} seeds")
        targets = [self.own_length if t is None else t for t in targets]
        target_values = np.array([np.nan if t is None else check_target(t) for t in targets], dtype=np.float64)
        temps = np.asarray(temperatures, dtype=np.float64)
        if np.any(temps < 0) or not np.all(np.isfinite(temps)):
            raise PolicyError(f"temperatures must be >= 0, got {list(temperatures)}")
        k = len(temps)
        noise_spread = np.broadcast_to(np.asarray(content_noise, dtype=np.float64), (k,))
        if np.any(noise_spread < 0) or not np.all(np.isfinite(noise_spread)):
            raise PolicyError(f"content_noise must be >= 0, got {content_noise}")
        if k == 0:
            return Rollout([], np.zeros((0, 0), np.int64))
        bank = self._bank(analysis)
        batch = EditBatch(bank, self.config.env, k)
        batch.load(np.arange(k), np.zeros(k, dtype=np.int64), target_values)
        n = int(bank.n_units[0])
        rngs = [np.random.default_rng(s) for s in seeds]
        noise = np.stack([rng.gumbel(size=(n, 3)) for rng in rngs])
        cut_bias = np.stack(
            [_cut_preference(rng, bank.bounds[0], analysis, spread) for rng, spread in zip(rngs, noise_spread)]
        )
        greedy = temps == 0
        scale = np.where(greedy, 1.0, temps)[:, None]
        decisions = np.zeros((k, n), dtype=np.int64)
        observations, masks_seen = [], []
        for t in range(n):
            obs = batch.observe()
            logits = self.action_logits(obs)
            masks = batch.action_masks()
            if record:
                observations.append(obs.copy())
                masks_seen.append(masks.copy())
            logits[:, CUT] += cut_bias[:, t]
            scores = np.where(greedy[:, None], logits, logits / scale + noise[:, t])
            actions = np.argmax(np.where(masks, scores, -np.inf), axis=1)
            decisions[:, t] = actions
            batch.step(actions)
        edits = [batch.episode_actions(i).astype(np.int8) for i in range(k)]
        edits = [slide_cuts_to_smooth_seams(analysis, edit) for edit in edits]
        # fitting moves cut ends to reach the length; sliding again puts the moved seams where they sound smoothest
        edits = [
            edit if target is None else slide_cuts_to_smooth_seams(analysis, fit_to_target(analysis, edit, target))
            for edit, target in zip(edits, targets)
        ]
        if not record:
            return Rollout(edits, decisions)
        return Rollout(edits, decisions, np.stack(observations, axis=1), np.stack(masks_seen, axis=1))

    def generate_edit(
        self,
        song_or_beat_features: SongAnalysis | str | Path | np.ndarray,
        temperature: float | None = None,
        seed: int | None = None,
        render: bool = False,
        target: float | str | None = None,
    ):
        """One edit of one song.

        Parameters
        ----------
        song_or_beat_features : SongAnalysis, audio path, or ndarray of shape (n_beats, 125)
        temperature : float, optional
            Defaults to :meth:`set_temperature`'s value; 0 is greedy.
        seed : int, optional
            Seeds the sampling (same seed, same edit).
        render : bool
            Also render the edit's audio (needs a SongAnalysis or path of a real file).
        target : float or str, optional
            Wanted length: a share of the song in (0, 1], or a time ``"2:30"`` /
            ``"150s"`` (read by :func:`target_share`); without it the policy chooses.

        Returns
        -------
        ndarray of int8, shape (n_beats,), or (actions, AudioClip) when ``render``.
        """
        analysis = self._analysis(song_or_beat_features)
        if target is not None:
            target = target_share(target, analysis.duration_seconds, what="target")
        temp = self.temperature if temperature is None else float(temperature)
        actions = self.generate_edits(analysis, [temp], [seed], [target])[0]
        if target is not None:
            warn_if_far_from_target(analysis, actions, target)
        if not render:
            return actions
        if not analysis.path or not Path(analysis.path).is_file():
            raise PolicyError("render=True needs a song analysed from an audio file")
        from rl_editor.audio import render_edit

        return actions, render_edit(analysis.path, analysis, actions)

    def evaluate(
        self, analyses: Sequence[SongAnalysis], temperature: float = 0.0, seed: int = 0, target: float | None = None
    ) -> dict[str, float]:
        """Mean dense reward terms and edit figures of one edit per song (at ``target``, or the policy's choice)."""
        from rl_editor.policy.dense_reward import score_edit

        rows = []
        for a in analyses:
            actions = self.generate_edits(a, [temperature], [seed], [target])[0]
            rows.append({**score_edit(a, actions, self.config.env.reward, target=target), **edit_stats(a, actions)})
        return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]} if rows else {}


# PolicyConfig is defined in policy/config.py; the system description imports it from here with PPOTrainer
__all__ = ["PPOTrainer", "PolicyConfig", "Rollout"]


@dataclass
class Rollout:
    """Edits of one song rolled out together, with the phrase decisions that made them.

    Attributes
    ----------
    edits : list of ndarray of int8, shape (n_beats,)
        The finished per-beat actions (slid and trimmed to their targets).
    decisions : ndarray of int, shape (n_edits, n_phrases)
        The policy's action at every phrase (0 keep, 1 cut, 2 repeat).
    observations, masks : ndarray, shapes (n_edits, n_phrases, obs_dim) and (n_edits, n_phrases, 3), optional
        What the policy saw at every phrase (only when asked to record).
    """

    edits: list[np.ndarray]
    decisions: np.ndarray
    observations: np.ndarray | None = None
    masks: np.ndarray | None = None


def _cut_preference(
    rng: np.random.Generator, unit_bounds: np.ndarray, analysis: SongAnalysis, spread: float
) -> np.ndarray:
    """Shape (n_phrases,): a random bias (nats) toward cutting each phrase: one draw per section plus half
    as much per phrase, so whole sections tend to go together. Zeros when ``spread`` is 0."""
    n_units = len(unit_bounds) - 1
    if spread <= 0:
        return np.zeros(n_units)
    from rl_editor.audio.structure import song_structure

    sections = np.searchsorted(song_structure(analysis).section_start_beats, unit_bounds[:-1], side="right") - 1
    per_section = rng.normal(0.0, spread, size=int(sections.max()) + 1)
    return per_section[sections] + rng.normal(0.0, spread / 2.0, size=n_units)


def _silent_logger() -> Any:
    """A Stable-Baselines3 logger that writes nowhere (PPO still records its statistics into it)."""
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])

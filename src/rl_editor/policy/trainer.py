"""PPO on the editing environment: sb3-contrib's ``MaskablePPO`` plus the glue around it.

``PPOTrainer`` trains a policy on songs (dense reward, or a learned episode
reward for fine-tuning), saves and loads it as one model file
(``rl_editor.registry``), and rolls out edits at a chosen temperature.

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

import csv
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
from rl_editor.audio.io import find_songs
from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_from_json, config_to_json
from rl_editor.policy.checkpoint import policy_state, restore_policy_model, state_from_sb3_zip
from rl_editor.policy.dense_reward import TERM_NAMES, edit_stats
from rl_editor.policy.env import EditBatch, EditVecEnv, EnvConfig, EpisodeRewardFn, PolicyError, SongBank, check_target
from rl_editor.policy.length import fit_to_target, slide_cuts_to_smooth_seams, target_share, warn_if_far_from_target
from rl_editor.registry import ModelMeta, load_model_file, new_version, save_model_file, sha256_of_json


@dataclass
class PolicyConfig:
    """Every knob of policy training, with defaults that work on a laptop.

    Attributes
    ----------
    n_envs, n_steps : int
        Songs stepping together, and steps (phrase decisions) per song per PPO rollout.
    batch_size, n_epochs : int
        PPO minibatch size and passes over each rollout.
    learning_rate, gamma, gae_lambda, clip_range, ent_coef, vf_coef, max_grad_norm : float
        The usual PPO hyperparameters.
    net_arch : list of int
        Hidden layer sizes of the policy and value networks (separate networks).
    seed : int
        Seeds torch, numpy, the song order and the training targets.
    temperature : float
        Default sampling temperature of ``generate_edit`` (0 = greedy).
    preferred_target : float or None
        The length (share of the song) edits get when none is asked for; None
        means the dense reward's ``env.reward.target_keep_share``. Fine-tuning
        sets it to the length the learned reward prefers
        (:func:`rl_editor.rlhf.finetune.preferred_length`).
    torch_threads : int
        Threads torch may use (1 keeps runs reproducible and polite on shared machines).
    env : EnvConfig
        The environment: phrase-level constraints, observation, target lengths,
        dense reward weights (``env.reward.target_keep_share`` is the length
        aimed at when no target is given).
    """

    n_envs: int = 16
    n_steps: int = 64
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.05
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: list[int] = field(default_factory=lambda: [128, 128])
    seed: int = 0
    temperature: float = 0.5
    preferred_target: float | None = None
    torch_threads: int = 1
    env: EnvConfig = field(default_factory=EnvConfig)

    @property
    def target_keep_share(self) -> float:
        """The length aimed at when no target is given (``env.reward.target_keep_share``)."""
        return self.env.reward.target_keep_share

    def to_json(self) -> dict:
        return config_to_json(self)

    @classmethod
    def from_json(cls, data: dict) -> PolicyConfig:
        return config_from_json(cls, data, what="policy config", error=PolicyError)


def analyze_songs(songs: Sequence[str | Path | tuple[str, Path]], progress: bool = False) -> list[SongAnalysis]:
    """Analyse audio files (cached by ``rl_editor.audio.analyze_song``).

    ``(song_id, path)`` pairs (what :func:`rl_editor.audio.io.find_songs` returns) keep their ids;
    plain paths are known by their stem.
    """
    from tqdm.auto import tqdm

    from rl_editor.audio import analyze_song

    pairs = [s if isinstance(s, tuple) else (None, s) for s in songs]
    return [analyze_song(path, song_id=song_id)
            for song_id, path in tqdm(pairs, desc="analysing songs", unit="song", disable=not progress)]


def analysis_from_features(beat_features: np.ndarray, song_id: str = "features") -> SongAnalysis:
    """A ``SongAnalysis`` holding only per-beat features (beats from their duration, bars from the one-hot)."""
    features = np.asarray(beat_features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM:
        raise PolicyError(f"beat features must have shape (n_beats, {FEATURE_DIM}), got {features.shape}")
    beat_in_bar = np.argmax(features[:, GROUP_SLICES["beat_in_bar_onehot"]], axis=1)
    durations = features[:, feature_index("beat_duration_s")].astype(np.float64)
    if not np.all(durations > 0):
        durations = np.full(len(features), 0.5)
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    return SongAnalysis(
        song_id=song_id,
        path="",
        content_sha256=hashlib.sha256(features.tobytes()).hexdigest(),
        sample_rate=22050,
        source_sample_rate=22050,
        channels=1,
        duration_seconds=float(durations.sum()),
        tempo_bpm=float(60.0 / np.median(durations)),
        beat_times_s=starts,
        beat_in_bar=beat_in_bar,
        beats_per_bar=int(beat_in_bar.max()) + 1 if len(beat_in_bar) else 4,
        features=features,
    )


def songs_fingerprint(analyses: Sequence[SongAnalysis]) -> str:
    """Hash identifying a set of songs (order-independent)."""
    return sha256_of_json(sorted(a.content_sha256 for a in analyses))


LEARNING_CURVE_FIELDS = (
    "episode", "timesteps", "song_id", "episode_reward", *[f"dense_{k}" for k in TERM_NAMES], "dense_total",
    "learned_reward", "target", "keep_share", "duration_share", "cut_share", "repeat_share", "n_splices",
    "splices_per_minute", "bar_line_share", "mean_splice_quality", "entropy", "approx_kl",
)


class EpisodeLogger(BaseCallback):
    """Counts finished episodes, writes the learning curve, shows progress, stops training.

    Stops at the first step of the rollout after the one in which ``episodes`` was reached,
    so the last full rollout is still trained on.
    """

    def __init__(self, episodes: int, env: EditVecEnv, log_dir: str | Path | None, progress: bool) -> None:
        super().__init__()
        self.episodes, self.env_ref, self.progress = episodes, env, progress
        self.rows: list[dict[str, Any]] = []
        self.n_episodes = 0
        self._stop = False
        self._csv_path = Path(log_dir) / "learning_curve.csv" if log_dir else None
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._bar: Any = None

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.episodes, desc="training policy", unit="episode", disable=not self.progress)
        if self._csv_path is not None:
            self._csv_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=LEARNING_CURVE_FIELDS)
            self._writer.writeheader()

    def _on_rollout_start(self) -> None:
        if self.n_episodes >= self.episodes:
            self._stop = True

    def _on_step(self) -> bool:
        if self._stop:
            return False
        values = self.model.logger.name_to_value
        entropy = -values["train/entropy_loss"] if "train/entropy_loss" in values else float("nan")
        approx_kl = values.get("train/approx_kl", float("nan"))
        for info in self.locals["infos"]:
            if "dense_terms" not in info:
                continue
            self.n_episodes += 1
            terms = info["dense_terms"]
            stats = edit_stats(self.env_ref.analyses[info["song_index"]], info["episode_actions"])
            row = {
                "episode": self.n_episodes,
                "timesteps": self.num_timesteps,
                "song_id": info["song_id"],
                "episode_reward": info["episode"]["r"],
                **{f"dense_{k}": terms[k] for k in TERM_NAMES},
                "dense_total": terms["total"],
                "learned_reward": info.get("learned_reward", float("nan")),
                "target": info.get("target", float("nan")),
                **{k: stats[k] for k in ("keep_share", "duration_share", "cut_share", "repeat_share", "n_splices",
                                         "splices_per_minute", "bar_line_share", "mean_splice_quality")},
                "entropy": entropy,
                "approx_kl": approx_kl,
            }
            self.rows.append(row)
            if self._writer is not None:
                self._writer.writerow(row)
            if self._bar is not None and self.n_episodes <= self.episodes:
                self._bar.update(1)
        if self._bar is not None and self.rows:
            recent = self.rows[-20:]
            self._bar.set_postfix(reward=f"{np.mean([r['episode_reward'] for r in recent]):.2f}",
                                  keep=f"{np.mean([r['duration_share'] for r in recent]):.2f}", refresh=False)
        return True

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._file is not None:
            self._file.close()



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
            Learned reward of whole edits, added at each episode's last step (fine-tuning).
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
            analyses = analyze_songs(find_songs(songs_dir), progress=progress)
        analyses = list(analyses)
        self._seed_everything()
        env_config = self.config.env if env_overrides is None else replace(self.config.env, **env_overrides)
        env = EditVecEnv(analyses, env_config, n_envs=self.config.n_envs,
                         episode_reward_fn=episode_reward_fn, seed=self.config.seed)
        tb_dir = str(Path(log_dir) / "tensorboard") if log_dir else None
        first_run = self.model is None or self.model.num_timesteps == 0
        if self.model is None:
            self.model = self._new_model(env, tb_dir)
        else:
            if self.model.observation_space.shape != env.observation_space.shape:
                raise PolicyError("the checkpoint's observation size does not match this configuration")
            self.model.set_env(env)
            self.model.tensorboard_log = tb_dir
            self.model.set_random_seed(self.config.seed)
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
        recent = logger.rows[-min(len(logger.rows), 100):]
        self._metrics = {
            f"train_mean_{k}": float(np.mean([r[k] for r in recent]))
            for k in ("episode_reward", "dense_total", "duration_share", "splices_per_minute")
        } if recent else {}
        self._dirty = True
        return self

    def record_lineage(self, trained_on: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> None:
        """Add facts about what the policy was trained on, and measured figures, to its next checkpoint."""
        self._trained_on.update(trained_on or {})
        self._metrics.update(metrics or {})
        self._dirty = True

    # ------------------------------------------------------------ checkpoints
    def update_ppo_settings(self, *, learning_rate: float | None = None, ent_coef: float | None = None,
                            gamma: float | None = None, gae_lambda: float | None = None,
                            batch_size: int | None = None, n_epochs: int | None = None,
                            n_steps: int | None = None) -> None:
        """Change PPO settings of the (loaded) model before more training; ``None`` keeps a setting.

        Fine-tuning uses this: it continues a trained policy with its own
        learning rate, entropy bonus and rollout length. The config follows, so
        checkpoints record what was used.
        """
        from stable_baselines3.common.utils import FloatSchedule

        if self.model is None:
            raise PolicyError("no policy: train or load a checkpoint first")
        given = dict(learning_rate=learning_rate, ent_coef=ent_coef, gamma=gamma, gae_lambda=gae_lambda,
                     batch_size=batch_size, n_epochs=n_epochs, n_steps=n_steps)
        new = {k: type(getattr(self.config, k))(v) for k, v in given.items() if v is not None}
        model = self.model
        if "learning_rate" in new:
            model.learning_rate = new["learning_rate"]
            model.lr_schedule = FloatSchedule(new["learning_rate"])
        for name in ("ent_coef", "batch_size", "n_epochs"):
            if name in new:
                setattr(model, name, new[name])
        for name in ("gamma", "gae_lambda"):
            if name in new:
                setattr(model, name, new[name])
                setattr(model.rollout_buffer, name, new[name])
        if new.get("n_steps", model.n_steps) != model.n_steps:
            model.n_steps = new["n_steps"]
            model.rollout_buffer = model.rollout_buffer_class(
                model.n_steps, model.observation_space, model.action_space, device=model.device,
                gamma=model.gamma, gae_lambda=model.gae_lambda, n_envs=model.n_envs, **model.rollout_buffer_kwargs,
            )
        self.config = replace(self.config, **new)

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
                config=self.config.to_json(),
            )
        save_model_file(path, policy_state(self.model, self.config.to_json()), meta)
        self.meta, self._dirty = meta, False
        return Path(path)

    def load_checkpoint(self, path: str | Path) -> PPOTrainer:
        """Restore a policy saved by :meth:`save_checkpoint` (config, model and meta)."""
        state, meta = load_model_file(path, kind="policy")
        if "policy_config" not in state or not ("policy_weights" in state or "sb3_zip" in state):
            raise PolicyError(f"{path}: policy file lacks the model or its config; re-train it")
        if "sb3_zip" in state:
            state = state_from_sb3_zip(state["sb3_zip"], state["policy_config"], path)
        self.config = PolicyConfig.from_json(state["policy_config"])
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

    def generate_edits(
        self,
        analysis: SongAnalysis,
        temperatures: Sequence[float],
        seeds: Sequence[int | None],
        targets: Sequence[float | None] | None = None,
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

        Returns
        -------
        list of ndarray of int8, shape (n_beats,)
            Actions (0 keep, 1 cut, 2 repeat) per candidate, in the order given.
        """
        if self.model is None:
            raise PolicyError("no policy: train or load a checkpoint first")
        if len(temperatures) != len(seeds):
            raise PolicyError(f"{len(temperatures)} temperatures but {len(seeds)} seeds")
        targets = [None] * len(seeds) if targets is None else list(targets)
        if len(targets) != len(seeds):
            raise PolicyError(f"{len(targets)} targets but {len(seeds)} seeds")
        own_length = (self.config.preferred_target if self.config.preferred_target is not None
                      else self.config.env.reward.target_keep_share)
        targets = [own_length if t is None else t for t in targets]
        target_values = np.array([np.nan if t is None else check_target(t) for t in targets], dtype=np.float64)
        temps = np.asarray(temperatures, dtype=np.float64)
        if np.any(temps < 0) or not np.all(np.isfinite(temps)):
            raise PolicyError(f"temperatures must be >= 0, got {list(temperatures)}")
        k = len(temps)
        if k == 0:
            return []
        bank = self._bank(analysis)
        batch = EditBatch(bank, self.config.env, k)
        batch.load(np.arange(k), np.zeros(k, dtype=np.int64), target_values)
        n = int(bank.n_units[0])
        noise = np.stack([np.random.default_rng(s).gumbel(size=(n, 3)) for s in seeds])
        greedy = temps == 0
        scale = np.where(greedy, 1.0, temps)[:, None]
        for t in range(n):
            logits = self.action_logits(batch.observe())
            masks = batch.action_masks()
            scores = np.where(greedy[:, None], logits, logits / scale + noise[:, t])
            actions = np.argmax(np.where(masks, scores, -np.inf), axis=1)
            batch.step(actions)
        edits = [batch.episode_actions(i).astype(np.int8) for i in range(k)]
        edits = [slide_cuts_to_smooth_seams(analysis, edit) for edit in edits]
        return [edit if target is None else fit_to_target(analysis, edit, target)
                for edit, target in zip(edits, targets)]

    def generate_edit(
        self,
        song_or_beat_features: SongAnalysis | str | Path | np.ndarray,
        temperature: float | None = None,
        seed: int | None = None,
        render: bool = False,
        target: float | None = None,
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
        target : float, optional
            Wanted length as a share of the song, in (0, 1]; without it the
            policy chooses. Use :func:`target_share` to turn "3:30" into a share.

        Returns
        -------
        ndarray of int8, shape (n_beats,), or (actions, AudioClip) when ``render``.
        """
        analysis = self._analysis(song_or_beat_features)
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

    def evaluate(self, analyses: Sequence[SongAnalysis], temperature: float = 0.0, seed: int = 0,
                 target: float | None = None) -> dict[str, float]:
        """Mean dense reward terms and edit figures of one edit per song (at ``target``, or the policy's choice)."""
        from rl_editor.policy.dense_reward import score_edit

        rows = []
        for a in analyses:
            actions = self.generate_edits(a, [temperature], [seed], [target])[0]
            rows.append({**score_edit(a, actions, self.config.env.reward, target=target), **edit_stats(a, actions)})
        return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]} if rows else {}


__all__ = ["PPOTrainer", "PolicyConfig", "analysis_from_features", "find_songs", "songs_fingerprint", "target_share",
           "TERM_NAMES"]

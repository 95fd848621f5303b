"""Fine-tune the editing policy with PPO on a learned reward, kept near where it started.

The recipe of Ziegler et al. (2019), "Fine-Tuning Language Models from Human
Preferences", on beat-level edits:

1. Load the policy to fine-tune and a frozen copy of it, the *reference*.
2. The learned reward (a :class:`~rl_editor.reward.RewardEnsemble`) scores each
   finished edit once, at its last step (``EditVecEnv``'s ``episode_reward_fn``).
   Scores are z-scored with statistics of the reference policy's own edits of
   each song (per-song mean, pooled standard deviation), so one unit of reward
   means "one typical spread of the reference's edits" on every song; with
   ``uncertainty_coef`` > 0 the ensemble's spread is subtracted (a pessimistic
   reward that discourages edits the reward model has not seen).
3. Every step pays ``kl_coef * (log pi(a|s) - log pi_ref(a|s))``, the sampled
   estimate of the KL divergence from the reference, so the policy cannot drift
   into edits the reward model scores wrongly. This is done the
   Stable-Baselines3 way, in a callback: ``MaskablePPO.collect_rollouts`` calls
   ``callback.on_step()`` after ``env.step`` and before
   ``rollout_buffer.add(..., rewards, ...)``, and ``self.locals["rewards"]`` is
   that very numpy array, so changing it in place changes what PPO learns from.
   ``self.locals`` also holds ``obs_tensor``, ``actions``, ``log_probs`` and
   ``action_masks`` of the step (sb3-contrib 2.x ``ppo_mask.py``).
4. The dense quality terms are kept at a small scale (``dense_reward_scale``,
   0.3 by default; 0 switches them off). Episodes with a target length keep the
   dense length terms; episodes without one (``free_share``) leave the length
   to the learned reward.

Learned reward, KL, entropy and the dense terms are logged side by side per
episode (``finetune_curve.csv``) and per rollout (TensorBoard, ``rlhf/*``), so
reward hacking, a learned reward rising while the quality terms fall, shows.

Example
-------
>>> trainer = finetune_policy("policy.pt", "reward.pt", FinetuneConfig(episodes=500), songs_dir="songs")  # doctest: +SKIP
>>> trainer.save_checkpoint("policy_v2.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rl_editor.audio.song import SongAnalysis
from rl_editor.errors import RlEditorError
from rl_editor.policy.dense_reward import TERM_NAMES, edit_stats


class RLHFError(RlEditorError):
    """Bad input to fine-tuning, evaluation or the loop (files, songs, settings)."""


@dataclass
class FinetuneConfig:
    """Every knob of fine-tuning on a learned reward; CLI flags map one to one.

    Attributes
    ----------
    episodes : int
        Episodes (one song edited once) to train for.
    kl_coef : float
        Weight of the per-step KL penalty towards the reference policy.
    uncertainty_coef : float
        Reward is ``mean - uncertainty_coef * std`` over the ensemble (before z-scoring;
        :func:`rl_editor.reward.pessimism.pessimistic_reward`). 1 by default: at fixed lengths the
        learned reward barely rises during fine-tuning while the policy drifts, and a drift the
        members disagree on is not paid for.
    reward_scale : float
        Multiplies the z-scored learned reward.
    dense_reward_scale : float
        Scale of the dense quality terms during fine-tuning (0 = learned reward only). 0.3 by
        default: they hold splice quality and splice count where the learned reward does not
        see them (on demo songs, fine-tuning without them added splices that held-out raters
        then disliked).
    length_grid : tuple of float
        Lengths (shares of the song) among which the learned reward picks the
        policy's preferred length after fine-tuning (:func:`preferred_length`).
    free_share : float
        Share of episodes without a target length (0 by default). In those the
        learned reward alone decides the length (the dense length terms are
        off); episodes with a target keep the dense length terms, so requested
        lengths stay honoured. The policy's own length is set after training
        from ``length_grid`` instead, which moves it reliably.
    reference_edits_per_song : int
        Edits of each song sampled from the reference policy to set the z-score statistics.
    n_steps, batch_size, n_epochs : int or None
        PPO rollout length per song slot (phrase decisions), minibatch size and
        passes per rollout. An edit takes one step per phrase (15-40 for songs
        of 0.5-7 minutes), so 32 steps per slot hold about one finished edit
        per slot: enough for the once-per-edit learned reward to carry signal,
        and short enough for 2000 episodes to make a few dozen PPO updates.
    learning_rate, ent_coef, gamma, gae_lambda : float or None
        Override the policy's PPO settings for fine-tuning (None keeps them).
        ``gamma`` = ``gae_lambda`` = 1 suit a reward paid only at an edit's end:
        every step's advantage is then the edit's return minus the value estimate.
    seed : int
    log_dir : str or None
        Where ``finetune_curve.csv``, ``learning_curve.csv`` and TensorBoard logs go.
    progress : bool
        Show tqdm bars.
    """

    episodes: int = 2000
    kl_coef: float = 0.05
    uncertainty_coef: float = 1.0
    reward_scale: float = 1.0
    dense_reward_scale: float = 0.3
    free_share: float = 0.0
    length_grid: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    reference_edits_per_song: int = 16
    n_steps: int | None = 32
    batch_size: int | None = 128
    n_epochs: int | None = 4
    learning_rate: float | None = 1e-3
    ent_coef: float | None = 0.05
    gamma: float | None = 1.0
    gae_lambda: float | None = 1.0
    seed: int = 0
    log_dir: str | None = None
    progress: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RewardStatistics:
    """Per-song mean and pooled std of the reference policy's learned rewards."""

    song_mean: dict[str, float] = field(default_factory=dict)
    std: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _reward_of(ensemble: Any, analysis: SongAnalysis, actions_batch: np.ndarray,
               uncertainty_coef: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from rl_editor.reward.pessimism import pessimistic_reward

    score = pessimistic_reward(ensemble, analysis, actions_batch, uncertainty_coef)
    return score.reward, score.mean, score.std


def reference_statistics(reference: Any, ensemble: Any, analyses: Sequence[SongAnalysis],
                         edits_per_song: int = 16, uncertainty_coef: float = 0.0,
                         seed: int = 0) -> RewardStatistics:
    """Z-score statistics of the learned reward over the reference policy's own edits.

    Edits are sampled at temperature 1 (how PPO samples during training), half
    at the policy's own length and half at lengths spread over the policy's
    target range, so the spread measures how much the reward tells genuinely
    different edits apart. Measured on the policy's own lengths alone, a
    near-deterministic policy's edits barely differ, the spread is tiny, and the
    z-scored reward dwarfs every other term (a learned reward that liked
    keeping the whole song then outweighed the guard against it).
    """
    stats = RewardStatistics()
    spreads = []
    low, high = reference.config.env.target_range
    for a in analyses:
        base = zlib.crc32(a.song_id.encode()) + 7919 * seed
        seeds = [int(base + k) & 0x7FFFFFFF for k in range(edits_per_song)]
        n_free = edits_per_song // 2
        targets = [None] * n_free + list(np.linspace(low, high, edits_per_song - n_free))
        actions = np.stack(reference.generate_edits(a, [1.0] * edits_per_song, seeds, targets))
        reward, _, _ = _reward_of(ensemble, a, actions, uncertainty_coef)
        stats.song_mean[a.song_id] = float(reward[:n_free].mean()) if n_free else float(reward.mean())
        spreads.append(float(reward.var()))
    stats.std = float(max(np.sqrt(np.mean(spreads)), 1e-3)) if spreads else 1.0
    return stats


class LearnedEpisodeReward:
    """``episode_reward_fn`` of :class:`~rl_editor.policy.env.EditVecEnv`: normalised learned reward.

    ``last`` holds ``(raw mean, ensemble std, normalised reward)`` of the episodes
    of the latest call, in the order given (the callback reads it for logging).
    """

    def __init__(self, ensemble: Any, statistics: RewardStatistics, uncertainty_coef: float = 0.0,
                 reward_scale: float = 1.0) -> None:
        self.ensemble, self.statistics = ensemble, statistics
        self.uncertainty_coef, self.reward_scale = uncertainty_coef, reward_scale
        self.last: list[tuple[float, float, float]] = []

    def __call__(self, analyses: list[SongAnalysis], actions: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(len(actions), dtype=np.float64)
        self.last = []
        for k, (a, acts) in enumerate(zip(analyses, actions)):
            reward, mean, std = _reward_of(self.ensemble, a, np.asarray(acts)[None, :], self.uncertainty_coef)
            centre = self.statistics.song_mean.get(a.song_id, 0.0)
            out[k] = self.reward_scale * (reward[0] - centre) / self.statistics.std
            self.last.append((float(mean[0]), float(std[0]), float(out[k])))
        return out


FINETUNE_CURVE_FIELDS = (
    "episode", "timesteps", "song_id", "learned_reward", "learned_reward_raw", "reward_std", "kl", "kl_penalty",
    "entropy", *[f"dense_{k}" for k in TERM_NAMES], "dense_total", "keep_share", "duration_share", "splices_per_minute",
    "repeat_share", "bar_line_share", "mean_splice_quality", "target",
)


class KLPenaltyCallback(BaseCallback):
    """Subtracts ``kl_coef * (log pi - log pi_ref)`` from each step's reward; logs the RLHF figures.

    Parameters
    ----------
    reference_policy : MaskableActorCriticPolicy
        The frozen policy fine-tuning started from.
    kl_coef : float
    reward_fn : LearnedEpisodeReward, optional
        Read for per-episode raw scores.
    csv_path : path, optional
        Per-episode log (``FINETUNE_CURVE_FIELDS``).
    """

    def __init__(self, reference_policy: Any, kl_coef: float, reward_fn: LearnedEpisodeReward | None = None,
                 csv_path: str | Path | None = None) -> None:
        super().__init__()
        self.reference, self.kl_coef, self.reward_fn = reference_policy, float(kl_coef), reward_fn
        self.csv_path = Path(csv_path) if csv_path else None
        self.rows: list[dict[str, Any]] = []
        self._kl_sum: np.ndarray | None = None
        self._kl_exact_sum: np.ndarray | None = None
        self._entropy_sum: np.ndarray | None = None
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._rollout_rows = 0
        self._analyses: list[SongAnalysis] = []

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._analyses = self.training_env.get_attr("analyses")[0]
        self._kl_sum, self._kl_exact_sum, self._entropy_sum = np.zeros(n), np.zeros(n), np.zeros(n)
        if self.csv_path is not None:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.csv_path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=FINETUNE_CURVE_FIELDS)
            self._writer.writeheader()

    def _on_step(self) -> bool:
        import torch

        loc = self.locals
        obs, masks = loc["obs_tensor"], loc.get("action_masks")
        actions = torch.as_tensor(np.asarray(loc["actions"]).reshape(-1))
        current: Any = self.model.policy  # a MaskableActorCriticPolicy
        with torch.no_grad():
            ref_dist = self.reference.get_distribution(obs, action_masks=masks)
            ref_logp = ref_dist.log_prob(actions)
            cur_dist = current.get_distribution(obs, action_masks=masks)
            p = cur_dist.distribution.probs
            exact = torch.sum(p * (cur_dist.distribution.logits - ref_dist.distribution.logits), dim=-1)
            entropy = cur_dist.entropy()
        sampled = (loc["log_probs"].reshape(-1) - ref_logp).numpy().astype(np.float64)
        rewards = loc["rewards"]
        rewards -= (self.kl_coef * sampled).astype(rewards.dtype)
        self._kl_sum += sampled
        self._kl_exact_sum += exact.numpy()
        self._entropy_sum += entropy.numpy()
        done = np.flatnonzero(loc["dones"])
        learned = list(self.reward_fn.last) if self.reward_fn is not None else []
        for pos, k in enumerate(done):
            info = loc["infos"][k]
            if "dense_terms" not in info:
                continue
            length = max(int(info["episode"]["l"]), 1)
            raw, spread, normalised = learned[pos] if pos < len(learned) else (np.nan, np.nan, np.nan)
            stats = edit_stats(self._analyses[info["song_index"]], info["episode_actions"])
            row = {
                "episode": len(self.rows) + 1,
                "timesteps": self.num_timesteps,
                "song_id": info["song_id"],
                "learned_reward": info.get("learned_reward", normalised),
                "learned_reward_raw": raw,
                "reward_std": spread,
                "kl": float(self._kl_exact_sum[k]),
                "kl_penalty": float(self.kl_coef * self._kl_sum[k]),
                "entropy": float(self._entropy_sum[k] / length),
                **{f"dense_{t}": info["dense_terms"][t] for t in TERM_NAMES},
                "dense_total": info["dense_terms"]["total"],
                **{s: stats[s] for s in ("keep_share", "duration_share", "splices_per_minute", "repeat_share",
                                         "bar_line_share", "mean_splice_quality")},
                "target": info.get("target", float("nan")),
            }
            self.rows.append(row)
            self._rollout_rows += 1
            if self._writer is not None:
                self._writer.writerow(row)
            self._kl_sum[k] = self._kl_exact_sum[k] = self._entropy_sum[k] = 0.0
        return True

    def _on_rollout_end(self) -> None:
        recent = self.rows[-self._rollout_rows:] if self._rollout_rows else []
        self._rollout_rows = 0
        if not recent:
            return
        for key in ("learned_reward", "learned_reward_raw", "reward_std", "kl", "kl_penalty", "entropy",
                    "dense_total", "keep_share"):
            self.logger.record(f"rlhf/{key}", float(np.nanmean([r[key] for r in recent])))
        if self._file is not None:
            self._file.flush()

    def _on_training_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def preferred_length(trainer: Any, ensemble: Any, analyses: Sequence[SongAnalysis],
                     grid: Sequence[float], seed: int = 0, edits_per_length: int = 4) -> dict[float, float]:
    """Mean learned reward of a policy's edits at each length of ``grid`` (shares of the song).

    Per song, ``edits_per_length`` edits are sampled at temperature 0.5 at every
    length, scored by the ensemble and z-scored within the song (so every song
    weighs the same); the result averages over songs. Its best length is the
    one the raters' judgments prefer, as far as the reward model learned them.
    Fine-tuning scores the edits of the policy it started from (whose
    candidates the raters judged, so the model is on familiar ground) and
    makes the best length the new policy's ``preferred_target``, the length of the
    edits asked for without one. One decision that sets the length directly is
    learned more reliably than the same preference spread over every phrase's
    keep-or-cut decision of PPO's episodes, whose per-step credit is weak.
    """
    grid = [float(g) for g in grid]
    totals = np.zeros(len(grid))
    for a in analyses:
        base = zlib.crc32(f"length|{a.song_id}".encode()) + 7919 * seed
        targets = [g for g in grid for _ in range(edits_per_length)]
        seeds = [int(base + k) & 0x7FFFFFFF for k in range(len(targets))]
        edits = np.stack(trainer.generate_edits(a, [0.5] * len(targets), seeds, targets))
        mean, _ = ensemble.score(a, edits)
        per_length = np.asarray(mean, dtype=np.float64).reshape(len(grid), edits_per_length).mean(axis=1)
        totals += (per_length - per_length.mean()) / (per_length.std() + 1e-9)
    return {g: float(t / max(len(analyses), 1)) for g, t in zip(grid, totals)}


def _load_songs(analyses: Sequence[SongAnalysis] | None, songs_dir: str | Path | None,
                progress: bool) -> list[SongAnalysis]:
    if analyses is not None:
        analyses = list(analyses)
    elif songs_dir is not None:
        from rl_editor.audio.io import find_songs
        from rl_editor.policy.trainer import analyze_songs

        analyses = analyze_songs(find_songs(songs_dir), progress=progress)
    else:
        raise RLHFError("fine-tuning needs songs: pass analyses or songs_dir (--songs DIR)")
    if not analyses:
        raise RLHFError("fine-tuning needs at least one song")
    return analyses


def finetune_policy(
    init_checkpoint: str | Path,
    reward_model_path: str | Path,
    config: FinetuneConfig | None = None,
    *,
    analyses: Sequence[SongAnalysis] | None = None,
    songs_dir: str | Path | None = None,
) -> Any:
    """Fine-tune a policy on a learned reward with a KL penalty towards where it started.

    Parameters
    ----------
    init_checkpoint : path
        Policy file to start from (also the frozen reference).
    reward_model_path : path
        Reward model file (``rl-editor train-reward``).
    config : FinetuneConfig
    analyses : sequence of SongAnalysis, optional
        Songs to train on; else every audio file in ``songs_dir`` is analysed.
    songs_dir : path, optional

    Returns
    -------
    PPOTrainer
        Trained, not yet saved; its checkpoint records ``parent`` = the initial
        policy's version and ``trained_on["reward_model"]`` = the reward model's version.
        ``trainer.finetune_history`` holds the per-episode RLHF log.
    """
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.reward import load_reward_model

    config = config or FinetuneConfig()
    if config.episodes < 1:
        raise RLHFError(f"episodes must be at least 1, got {config.episodes}")
    if config.kl_coef < 0 or config.uncertainty_coef < 0:
        raise RLHFError("kl_coef and uncertainty_coef must be >= 0")
    init_checkpoint, reward_model_path = Path(init_checkpoint), Path(reward_model_path)
    trainer = PPOTrainer.from_checkpoint(init_checkpoint)
    reference = PPOTrainer.from_checkpoint(init_checkpoint)
    reference.model.policy.set_training_mode(False)
    for param in reference.model.policy.parameters():
        param.requires_grad_(False)
    ensemble = load_reward_model(reward_model_path)
    songs = _load_songs(analyses, songs_dir, config.progress)

    trainer.config.seed = config.seed
    trainer.update_ppo_settings(learning_rate=config.learning_rate, ent_coef=config.ent_coef, gamma=config.gamma,
                                gae_lambda=config.gae_lambda, batch_size=config.batch_size,
                                n_epochs=config.n_epochs, n_steps=config.n_steps)
    stats = reference_statistics(reference, ensemble, songs, config.reference_edits_per_song,
                                 config.uncertainty_coef, config.seed)
    reward_fn = LearnedEpisodeReward(ensemble, stats, config.uncertainty_coef, config.reward_scale)
    log_dir = Path(config.log_dir) if config.log_dir else None
    callback = KLPenaltyCallback(reference.model.policy, config.kl_coef, reward_fn,
                                 log_dir / "finetune_curve.csv" if log_dir else None)
    reward_version = ensemble.version or reward_model_path.name
    trainer.train(
        config.episodes,
        analyses=songs,
        callback=callback,
        progress=config.progress,
        episode_reward_fn=reward_fn,
        env_overrides={"dense_reward_scale": config.dense_reward_scale, "free_length_scale": 0.0,
                       "free_share": config.free_share},
        reward_source=reward_version,
        log_dir=log_dir,
    )
    # the reference's edits are what the reward model was trained on (the candidates came from it); the
    # fine-tuned policy's edits at some lengths can score high only because they exploit the model
    length_scores = preferred_length(reference, ensemble, songs, config.length_grid, seed=config.seed)
    trainer.config.preferred_target = max(length_scores, key=lambda length: length_scores[length])
    recent = callback.rows[-min(len(callback.rows), 100):]
    metrics: dict[str, Any] = {
        f"finetune_mean_{k}": float(np.nanmean([r[k] for r in recent]))
        for k in ("learned_reward", "learned_reward_raw", "kl", "entropy", "dense_total")
    } if recent else {}
    metrics["preferred_target"] = trainer.config.preferred_target
    metrics["learned_reward_by_length"] = {f"{k:g}": v for k, v in length_scores.items()}
    metrics["finetune_config"] = config.to_json()
    metrics["reward_statistics"] = stats.to_json()
    trainer.record_lineage(
        trained_on={
            "reward_model": reward_version,
            "reward_model_path": str(reward_model_path),
            "init_policy": reference.meta.version if reference.meta else None,
        },
        metrics=metrics,
    )
    trainer.finetune_history = callback.rows
    return trainer


__all__ = ["FinetuneConfig", "KLPenaltyCallback", "LearnedEpisodeReward", "RLHFError", "RewardStatistics",
           "finetune_policy", "preferred_length", "reference_statistics"]

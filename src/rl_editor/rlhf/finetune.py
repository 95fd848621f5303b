"""Fine-tune the editing policy with PPO on a learned reward, kept near where it started.

The recipe of Ziegler et al. (2019), "Fine-Tuning Language Models from Human
Preferences", on beat-level edits:

1. Load the policy to fine-tune and a frozen copy of it, the *reference*. Ask
   the reward model which length it prefers, scoring the reference's edits at
   ``length_grid`` (:func:`preferred_length`, :func:`best_length`); episodes then
   draw their target lengths within ``target_window`` of it.
2. The learned reward (a :class:`~rl_editor.reward.RewardEnsemble`) scores each
   finished edit once, at its last step (``EditVecEnv``'s ``episode_reward_fn``).
   Scores are z-scored with statistics of the reference policy's own edits of
   each song (the mean at the episode's song and target, pooled standard
   deviation), so one unit of reward means "one typical spread of the
   reference's edits" on every song and the length a target imposes is not
   credited to the policy; with
   ``uncertainty_coef`` > 0 the ensemble's spread is subtracted (a pessimistic
   reward that discourages edits the reward model has not seen).
3. Each finished edit also pays ``kl_coef`` times its KL divergence from
   the reference (the distilled policy when step 4 ran), estimated from the log-ratio ``log pi(a|s) - log pi_ref(a|s)``
   of the actions taken and taken per decision, times the typical number of
   decisions of an edit, so the penalty sits on the learned reward's per-edit
   scale whatever the song's length. The policy cannot drift into edits the
   reward model scores wrongly. Both terms live in the reward object the
   environment calls (:class:`~rl_editor.policy.episode_reward.KLRegularizedReward`
   over :class:`LearnedEpisodeReward`), and the trainer continues the policy
   with fine-tuning's PPO settings (:meth:`~rl_editor.policy.trainer.PPOTrainer.continued`):
   nothing reaches into Stable-Baselines3's rollouts.
4. Before PPO, best-of-N distillation (``best_of``, :mod:`rl_editor.rlhf.distill`): the
   policy is fitted to the best of its own samples (half of them with a random
   preference for cutting each section) at the window's lengths, as ranked by the
   reward model, so which material goes can change where PPO's per-edit credit
   cannot move a confident policy.
5. The dense quality terms are kept at a small scale (``dense_reward_scale``,
   0.3 by default; 0 switches them off). Episodes with a target length keep the
   dense length terms; episodes without one (``free_share``) leave the length
   to the learned reward.
6. Keep only what the reward model is sure of (``safe_improvement``,
   :func:`rl_editor.rlhf.acceptance.choose_improvement`): the weights after PPO, the
   distilled weights before it, and the new length each stay only when the ensemble's
   lower confidence bound of their gain over the reference is above zero (the best
   bound wins); otherwise the reference's stay.

Learned reward, KL, entropy and the dense terms are logged side by side per
episode (``finetune_curve.csv``, :mod:`rl_editor.rlhf.finetune_log`) and per
rollout (TensorBoard, ``rlhf/*``), so reward hacking, a learned reward rising
while the quality terms fall, shows.

Example
-------
>>> trainer = finetune_policy("policy.pt", "reward.pt", FinetuneConfig(episodes=500), songs_dir="songs",  # doctest: +SKIP
...                           log_dir="policy_v2_logs")
>>> trainer.save_checkpoint("policy_v2.pt")  # doctest: +SKIP
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_to_json
from rl_editor.policy.episode_reward import EpisodeRewards, FinishedEpisodes
from rl_editor.rlhf.errors import RLHFError

LENGTH_CURVE_POINTS = 8  # targets at which the reference's mean reward is measured (the episodes' baseline)


def song_seeds(key: str, n: int, seed: int) -> list[int]:
    """``n`` sampling seeds for one song, a pure function of ``key`` (say ``"length|<song id>"``) and ``seed``."""
    base = zlib.crc32(key.encode()) + 7919 * seed
    return [int(base + k) & 0x7FFFFFFF for k in range(n)]


@dataclass
class FinetuneConfig:
    """Every knob of fine-tuning on a learned reward; CLI flags map one to one.

    Attributes
    ----------
    episodes : int
        Episodes (one song edited once) to train for.
    kl_coef : float
        Weight of the KL penalty towards the reference policy (nats per typical edit;
        :class:`~rl_editor.policy.episode_reward.KLRegularizedReward`).
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
        policy's preferred length (:func:`preferred_length`, refined between grid points
        by :func:`best_length`); up to the 95 % the policy is trained to reach, so a
        taste for nearly the whole song is not stopped at 90 %.
    free_share : float
        Share of episodes without a target length (0 by default). In those the
        learned reward alone decides the length (the dense length terms are
        off); episodes with a target keep the dense length terms, so requested
        lengths stay honoured. The policy's own length is set after training
        from ``length_grid`` instead, which moves it reliably.
    target_window : float or None
        Fine-tuning episodes draw their target lengths within this distance of the
        length the reward model prefers (:func:`best_length`, measured on the starting
        policy's edits before training), so PPO learns which material goes at the
        lengths the policy will be asked for. None keeps the policy's whole target range.
    safe_improvement : bool
        Keep the fine-tuned weights and the new length only where the reward ensemble
        is confident they beat the starting policy on the training songs
        (:func:`rl_editor.rlhf.acceptance.choose_improvement`); else the starting
        policy's weights or length stay. On by default: once a first iteration has
        moved the length, later ones often have nothing sure to gain, and a change
        the model only guesses at loses with people as often as it wins.
    accept_confidence : float
        Standard errors below the mean predicted gain that must still be above zero. 0.5 by
        default: at 1, a first iteration that held-out raters went on to prefer can be
        thrown away whole on the demo songs.
    best_of : int
        Before PPO, best-of-N distillation (:mod:`rl_editor.rlhf.distill`): per training song and
        target of the window, this many samples, the reward model's best fitted by the policy.
        0 skips it. PPO alone barely changes which material a confident policy keeps.
    distill_top, distill_rounds, distill_epochs : int
        Best samples kept per (song, target), sample-and-fit rounds, and fitting passes per round.
    content_noise : float
        Spread (nats) of the random preference for cutting a section given to half the samples.
    reference_edits_per_song : int
        Edits of each song sampled from the reference policy to set the z-score statistics.
    n_steps, batch_size, n_epochs : int or None
        PPO rollout length per song slot (phrase decisions), minibatch size and
        passes per rollout. An edit takes one step per phrase, so a rollout of
        about one edit's decisions per slot holds about one finished edit per
        slot: enough for the once-per-edit learned reward to carry signal, and
        short enough for a few thousand episodes to make a few dozen PPO updates.
    learning_rate, ent_coef, gamma, gae_lambda : float or None
        Override the policy's PPO settings for fine-tuning (None keeps them).
        ``gamma`` = ``gae_lambda`` = 1 suit a reward paid only at an edit's end:
        every step's advantage is then the edit's return minus the value estimate.
    seed : int
    """

    episodes: int = 2000
    kl_coef: float = 0.05
    uncertainty_coef: float = 1.0
    reward_scale: float = 1.0
    dense_reward_scale: float = 0.3
    free_share: float = 0.0
    length_grid: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    target_window: float | None = 0.1
    safe_improvement: bool = True
    accept_confidence: float = 0.5
    best_of: int = 64
    distill_top: int = 1
    distill_rounds: int = 3
    distill_epochs: int = 16
    content_noise: float = 2.0
    reference_edits_per_song: int = 16
    n_steps: int | None = 32
    batch_size: int | None = 128
    n_epochs: int | None = 4
    learning_rate: float | None = 1e-3
    ent_coef: float | None = 0.05
    gamma: float | None = 1.0
    gae_lambda: float | None = 1.0
    seed: int = 0

    def ppo_settings(self) -> dict[str, Any]:
        """The :class:`~rl_editor.policy.config.PolicyConfig` settings fine-tuning changes (``None`` keeps one)."""
        given = dict(
            learning_rate=self.learning_rate,
            ent_coef=self.ent_coef,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            batch_size=self.batch_size,
            n_epochs=self.n_epochs,
            n_steps=self.n_steps,
        )
        return {"seed": self.seed, **{k: v for k, v in given.items() if v is not None}}


@dataclass
class RewardStatistics:
    """Per-song baselines and the pooled std of the reference policy's learned rewards.

    Attributes
    ----------
    song_mean : dict
        Mean reward of the reference's edits of each song at its own length.
    std : float
        Pooled spread of the reference's rewards (the unit of the z-scored reward).
    length_curve : dict
        Per song, ``[[target, mean reward], ...]`` of the reference's edits at targets
        across its target range: the baseline of an episode with a target.
    """

    song_mean: dict[str, float] = field(default_factory=dict)
    std: float = 1.0
    length_curve: dict[str, list[list[float]]] = field(default_factory=dict)

    def baseline(self, song_id: str, target: float) -> float:
        """The reference's mean reward on this song at this target (NaN target: at its own length)."""
        curve = self.length_curve.get(song_id)
        if not curve or not np.isfinite(target):
            return self.song_mean.get(song_id, 0.0)
        xs, ys = zip(*curve)
        return float(np.interp(target, xs, ys))


def reference_statistics(
    reference: Any,
    ensemble: Any,
    analyses: Sequence[SongAnalysis],
    edits_per_song: int = 16,
    uncertainty_coef: float = 0.0,
    seed: int = 0,
) -> RewardStatistics:
    """Baselines and z-score unit of the learned reward over the reference policy's own edits.

    Each episode's learned reward is centred on the reference's mean at the same
    song and target (``length_curve``, interpolated between
    :data:`LENGTH_CURVE_POINTS` targets): how much of a song an episode keeps is
    set by its target, not by the policy, and for a taste with a strong length
    preference that part of the reward outweighs everything the policy decides
    (which material goes). Centred on the song alone, the policy's returns were
    mostly the luck of the draw of targets and the learned reward stayed flat.

    Edits are sampled at temperature 1 (how PPO samples during training), half
    at the policy's own length and half at lengths spread over the policy's
    target range, so the spread measures how much the reward tells genuinely
    different edits apart. Measured on the policy's own lengths alone, a
    near-deterministic policy's edits barely differ, the spread is tiny, and the
    z-scored reward dwarfs every other term (a learned reward that liked
    keeping the whole song then outweighed the guard against it).
    """
    from rl_editor.reward.pessimism import pessimistic_reward

    stats = RewardStatistics()
    spreads = []
    low, high = reference.config.env.target_range
    grid = np.linspace(low, high, LENGTH_CURVE_POINTS)
    per_point = max(2, edits_per_song // LENGTH_CURVE_POINTS)
    for a in analyses:
        n_free = edits_per_song // 2
        n_curve = per_point * len(grid)
        seeds = song_seeds(a.song_id, n_free + n_curve, seed)
        targets = [None] * n_free + [float(t) for t in grid for _ in range(per_point)]
        actions = np.stack(reference.generate_edits(a, [1.0] * len(seeds), seeds, targets))
        reward = pessimistic_reward(ensemble, a, actions, uncertainty_coef).reward
        stats.song_mean[a.song_id] = float(reward[:n_free].mean()) if n_free else float(reward.mean())
        curve = reward[n_free:].reshape(len(grid), per_point).mean(axis=1)
        stats.length_curve[a.song_id] = [[float(t), float(m)] for t, m in zip(grid, curve)]
        spreads.append(float(np.concatenate([reward[:n_free], reward[n_free::per_point]]).var()))
    stats.std = float(max(np.sqrt(np.mean(spreads)), 1e-3)) if spreads else 1.0
    return stats


class LearnedEpisodeReward:
    """``episode_reward_fn`` of :class:`~rl_editor.policy.env.EditVecEnv`: normalised learned reward.

    Returns each edit's z-scored reward, with the terms ``learned_reward`` (the same),
    ``learned_reward_raw`` (the ensemble's mean) and ``reward_std`` (its spread) for logging.
    """

    def __init__(
        self, ensemble: Any, statistics: RewardStatistics, uncertainty_coef: float = 0.0, reward_scale: float = 1.0
    ) -> None:
        self.ensemble, self.statistics = ensemble, statistics
        self.uncertainty_coef, self.reward_scale = uncertainty_coef, reward_scale

    def __call__(self, episodes: FinishedEpisodes) -> EpisodeRewards:
        from rl_editor.reward.pessimism import pessimistic_reward

        n = len(episodes)
        out, raw, spread = np.zeros(n), np.zeros(n), np.zeros(n)
        for k, (a, acts) in enumerate(zip(episodes.analyses, episodes.actions)):
            score = pessimistic_reward(self.ensemble, a, np.asarray(acts)[None, :], self.uncertainty_coef)
            reward, mean, std = score.reward, score.mean, score.std
            centre = self.statistics.baseline(a.song_id, float(episodes.targets[k]))
            out[k] = self.reward_scale * (reward[0] - centre) / self.statistics.std
            raw[k], spread[k] = float(mean[0]), float(std[0])
        return EpisodeRewards(out, {"learned_reward": out.copy(), "learned_reward_raw": raw, "reward_std": spread})


def preferred_length(
    trainer: Any,
    ensemble: Any,
    analyses: Sequence[SongAnalysis],
    grid: Sequence[float],
    seed: int = 0,
    edits_per_length: int = 4,
) -> dict[float, float]:
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
        targets = [g for g in grid for _ in range(edits_per_length)]
        seeds = song_seeds(f"length|{a.song_id}", len(targets), seed)
        edits = np.stack(trainer.generate_edits(a, [0.5] * len(targets), seeds, targets))
        mean, _ = ensemble.score(a, edits)
        per_length = np.asarray(mean, dtype=np.float64).reshape(len(grid), edits_per_length).mean(axis=1)
        totals += (per_length - per_length.mean()) / (per_length.std() + 1e-9)
    return {g: float(t / max(len(analyses), 1)) for g, t in zip(grid, totals)}


def best_length(scores: dict[float, float]) -> float:
    """The length of highest score, refined between grid points by a parabola through the best and its neighbours.

    A coarse grid's argmax cannot land between two lengths the raters like
    equally (0.4 and 0.5 for a taste of 0.45), and noise picks either; the
    vertex of the parabola through the three best-placed scores can (the usual
    sub-grid peak estimate). At an end of the grid, or where the three scores do
    not curve downwards, the grid's best stays. Rounded to 0.01.
    """
    grid = sorted(scores)
    values = np.array([scores[g] for g in grid], dtype=np.float64)
    k = int(np.argmax(values))
    if k == 0 or k == len(grid) - 1:
        return grid[k]
    (x0, x1, x2), (y0, y1, y2) = grid[k - 1 : k + 2], values[k - 1 : k + 2]
    curvature = (y2 - y1) / (x2 - x1) - (y1 - y0) / (x1 - x0)
    if curvature >= 0:
        return grid[k]
    a, b, _ = np.polyfit([x0, x1, x2], [y0, y1, y2], 2)
    vertex = float(np.clip(-b / (2 * a), (x0 + x1) / 2, (x1 + x2) / 2))
    return round(vertex, 2)


def _load_songs(
    analyses: Sequence[SongAnalysis] | None, songs_dir: str | Path | None, progress: bool
) -> list[SongAnalysis]:
    if analyses is not None:
        analyses = list(analyses)
    elif songs_dir is not None:
        from rl_editor.audio.load import load_songs

        analyses = load_songs(songs_dir, progress=progress)
    else:
        raise RLHFError("fine-tuning needs songs: pass analyses or songs_dir (--songs DIR)")
    if not analyses:
        raise RLHFError("fine-tuning needs at least one song")
    return analyses


def decisions_per_edit(analyses: Sequence[SongAnalysis], env_config: Any) -> float:
    """Mean number of decisions (phrases) of an edit of these songs."""
    from rl_editor.policy.env import SongBank

    return float(SongBank(analyses, env_config).n_units.mean())


def finetune_policy(
    init_checkpoint: str | Path,
    reward_model_path: str | Path,
    config: FinetuneConfig | None = None,
    *,
    analyses: Sequence[SongAnalysis] | None = None,
    songs_dir: str | Path | None = None,
    log_dir: str | Path | None = None,
    progress: bool = True,
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
    log_dir : path, optional
        Where ``finetune_curve.csv``, ``learning_curve.csv`` and TensorBoard logs go.
    progress : bool
        Show tqdm bars.

    Returns
    -------
    PPOTrainer
        Trained, not yet saved; its checkpoint records ``parent`` = the initial
        policy's version and ``trained_on["reward_model"]`` = the reward model's version.
        ``trainer.finetune_history`` holds the per-episode RLHF log.
    """
    from rl_editor.policy.checkpoint import copy_policy_state
    from rl_editor.policy.episode_reward import KLRegularizedReward
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.reward import load_reward_model
    from rl_editor.rlhf.acceptance import choose_improvement
    from rl_editor.rlhf.distill import distill_best_of_n
    from rl_editor.rlhf.finetune_log import FinetuneCurveLogger
    from rl_editor.rlhf.layout import FINETUNE_CURVE

    config = config or FinetuneConfig()
    if config.episodes < 1:
        raise RLHFError(f"episodes must be at least 1, got {config.episodes}")
    if config.kl_coef < 0 or config.uncertainty_coef < 0:
        raise RLHFError("kl_coef and uncertainty_coef must be >= 0")
    reward_model_path = Path(reward_model_path)
    reference = PPOTrainer.from_checkpoint(init_checkpoint)
    reference.model.policy.set_training_mode(False)
    for param in reference.model.policy.parameters():
        param.requires_grad_(False)
    ensemble = load_reward_model(reward_model_path)
    songs = _load_songs(analyses, songs_dir, progress)

    stats = reference_statistics(
        reference, ensemble, songs, config.reference_edits_per_song, config.uncertainty_coef, config.seed
    )
    # the reference's edits are what the reward model was trained on (the candidates came from it); the
    # fine-tuned policy's edits at some lengths can score high only because they exploit the model
    length_scores = preferred_length(reference, ensemble, songs, config.length_grid, seed=config.seed)
    new_target = best_length(length_scores)
    start, distilled = reference, None
    if config.best_of > 0:  # on a copy of its own: the reference stays frozen as the KL anchor and baseline
        start = PPOTrainer.from_checkpoint(init_checkpoint)
        low, high = start.config.env.target_range
        half = (config.target_window or 0.0) / 2
        window = sorted({round(float(np.clip(new_target + d, low, high)), 3) for d in (-half, 0.0, half)})
        distilled = distill_best_of_n(
            start,
            ensemble,
            songs,
            window,
            best_of=config.best_of,
            top=config.distill_top,
            rounds=config.distill_rounds,
            epochs=config.distill_epochs,
            content_noise=config.content_noise,
            uncertainty_coef=config.uncertainty_coef,
            seed=config.seed,
        )
    trainer = start.continued(**config.ppo_settings())
    learned = LearnedEpisodeReward(ensemble, stats, config.uncertainty_coef, config.reward_scale)
    # PPO refines where distillation got to: a KL pull toward the reference undid the distilled policy's gain
    anchor = start.model.policy
    for param in anchor.parameters():
        param.requires_grad_(False)
    reward = KLRegularizedReward(
        learned,
        anchor,
        config.kl_coef,
        current_policy=lambda: trainer.model.policy,
        decisions_per_edit=decisions_per_edit(songs, trainer.config.env),
    )
    env_overrides: dict[str, Any] = {
        "dense_reward_scale": config.dense_reward_scale,
        "free_length_scale": 0.0,
        "free_share": config.free_share,
    }
    if config.target_window is not None:
        low, high = trainer.config.env.target_range
        env_overrides["target_range"] = (
            max(low, new_target - config.target_window),
            min(high, new_target + config.target_window),
        )
    logger = FinetuneCurveLogger(Path(log_dir) / FINETUNE_CURVE if log_dir else None)
    reward_version = ensemble.version or reward_model_path.name
    trainer.train(
        config.episodes,
        analyses=songs,
        callback=logger,
        progress=progress,
        episode_reward_fn=reward,
        env_overrides=env_overrides,
        reward_source=reward_version,
        log_dir=log_dir,
    )
    acceptance = None
    if config.safe_improvement:
        acceptance = choose_improvement(
            reference,
            trainer,
            ensemble,
            songs,
            previous_target=reference.own_length,
            new_target=new_target,
            confidence=config.accept_confidence,
            seed=config.seed,
            others={"distilled": start} if distilled else None,
        )
        kept = {"previous": reference, "distilled": start}.get(acceptance.weights)
        if kept is not None:
            copy_policy_state(kept.model, trainer.model)
        new_target = acceptance.target
    trainer.config.preferred_target = new_target
    recent = logger.rows[-min(len(logger.rows), 100) :]
    metrics: dict[str, Any] = (
        {
            f"finetune_mean_{k}": float(np.nanmean([r[k] for r in recent]))
            for k in ("learned_reward", "learned_reward_raw", "kl", "entropy", "dense_total")
        }
        if recent
        else {}
    )
    metrics["preferred_target"] = trainer.config.preferred_target
    metrics["learned_reward_by_length"] = {f"{k:g}": v for k, v in length_scores.items()}
    if acceptance is not None:
        metrics["acceptance"] = acceptance.record()
    if distilled is not None:
        metrics["distillation"] = distilled.record()
    metrics["finetune_config"] = config_to_json(config)
    metrics["reward_statistics"] = config_to_json(stats)
    trainer.record_lineage(
        trained_on={
            "reward_model": reward_version,
            "reward_model_path": str(reward_model_path),
            "init_policy": reference.meta.version if reference.meta else None,
        },
        metrics=metrics,
    )
    trainer.finetune_history = logger.rows
    return trainer


__all__ = [
    "FinetuneConfig",
    "LearnedEpisodeReward",
    "RewardStatistics",
    "best_length",
    "decisions_per_edit",
    "finetune_policy",
    "preferred_length",
    "reference_statistics",
    "song_seeds",
]

"""Settings of a feedback-loop run (:class:`LoopConfig`) and what a run did (:class:`LoopResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.generate.diversity import MIN_DIFFERING_SECONDS
from rl_editor.rlhf.finetune import FinetuneConfig

DEFAULT_CANDIDATE_TEMPERATURES: tuple[float, ...] = (0.3, 0.6, 1.0, 1.5)
DEFAULT_CANDIDATE_TARGETS: tuple[float | None, ...] = (None, 0.3, 0.45, 0.6, 0.75, 0.9)
PAIR_SELECTIONS = ("disagreement", "bald", "random")


@dataclass
class LoopConfig:
    """Settings of a feedback-loop run; ``rl-editor loop`` flags map to these.

    Attributes
    ----------
    songs_dir : str
        Folder of songs; the last ``heldout_songs`` (by name) are held out for evaluation.
    run_dir : str
        Where every model and data set of the run goes.
    iterations : int
        Feedback iterations.
    pairs : int
        Judged pairs per iteration.
    rater : str
        Rater spec (:func:`rl_editor.raters.load_rater`) that makes the training preferences.
    eval_rater : str or None
        Rater spec of the held-out raters (default: ``rater``), as fresh instances.
    policy : str or None
        Policy to start from; None trains one on the dense reward (``bootstrap/policy.pt``).
    bootstrap_reward : str or None
        Reward model to start from; None trains one on ``bootstrap_rater``'s judgments.
    bootstrap_rater : str
        Rater spec of the bootstrap preferences (the dense reward as a taste).
    heldout_songs : int
        Songs held out for evaluation.
    policy_episodes : int
        Episodes of the dense-reward bootstrap policy.
    policy_n_envs : int
        Songs stepping together when training the bootstrap policy.
    temperatures, per_temperature :
        Candidate generation settings.
    targets : tuple of float or None
        Candidate lengths as shares of each song (None: the policy's own choice);
        every temperature is combined with every target, so candidates differ
        in length and structure, not only in which phrases go.
    content_variants : int
        Candidates per song at the policy's own length sampled with a random preference for
        cutting each section (:attr:`rl_editor.generate.GenerateConfig.content_variants`): pairs
        of them differ in which material goes, not in length, so tastes about material reach
        the reward model.
    pair_selection : str
        ``"disagreement"`` (default) or ``"bald"``: ask about the pairs the
        current reward ensemble is least sure of, songs taking turns
        (:func:`rl_editor.reward.select.choose_informative_pairs`);
        ``"random"``: random pairs, songs taking turns.
    min_differing_s : float
        Pairs whose audio differs for this many seconds or less are never asked.
    reward_epochs, reward_members : int
        Reward training settings.
    reward_val_frac : float
        Share of training songs set aside to stop reward training early (0: train every epoch).
        0 by default: with ten songs the validation split is one or two songs, whose noisy
        likelihood stopped members after an epoch or two, still holding the previous model's taste.
    finetune : FinetuneConfig
        Fine-tuning settings (``log_dir`` and ``seed`` are set per iteration).
    eval_raters, eval_edits_per_song : int
        Held-out raters, and edit pairs per held-out song.
    eval_temperature : float
        Sampling temperature of both policies in the evaluation.
    eval_best_of : int
        The evaluation's third arm: the previous policy's best of this many samples, ranked by the
        iteration's reward model, against the previous policy (0 leaves it out).
    seed : int
    db : str or None
        Feedback database: collect each iteration's preferences from people (module docstring).
    wait_timeout_s : float or None
        Longest wait for people's judgments (None waits for ever).
    poll_seconds : float
        How often the database is checked while waiting.
    votes_per_pair : int
        With ``db``: people judging each pair of the iteration's campaign (its stop rule).
    rater_quota : int or None
        With ``db``: most judgments one person is asked for in an iteration's campaign.
    """

    songs_dir: str
    run_dir: str = "run"
    iterations: int = 1
    pairs: int = 500
    rater: str = "musician:mistake=0.1"
    eval_rater: str | None = None
    policy: str | None = None
    bootstrap_reward: str | None = None
    bootstrap_rater: str = "dense"
    heldout_songs: int = 3
    policy_episodes: int = 3000
    policy_n_envs: int = 16
    temperatures: tuple[float, ...] = DEFAULT_CANDIDATE_TEMPERATURES
    per_temperature: int = 2
    targets: tuple[float | None, ...] = DEFAULT_CANDIDATE_TARGETS
    content_variants: int = 12
    pair_selection: str = "disagreement"
    min_differing_s: float = MIN_DIFFERING_SECONDS
    reward_epochs: int = 30
    reward_members: int = 3
    reward_val_frac: float = 0.0
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval_raters: int = 5
    eval_edits_per_song: int = 8
    eval_temperature: float = 0.5
    eval_best_of: int = 4
    seed: int = 0
    db: str | None = None
    wait_timeout_s: float | None = None
    poll_seconds: float = 5.0
    votes_per_pair: int = 1
    rater_quota: int | None = None


@dataclass
class LoopResult:
    """What a run did: the steps run now (others were already done), why each was redone, and each
    iteration's figures. ``redone`` maps a step that had been completed before to the changes that redid it."""

    run_dir: Path
    steps_run: list[str]
    steps_skipped: list[str]
    redone: dict[str, list[str]] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    reward_evaluations: list[dict[str, Any]] = field(default_factory=list)
    final_policy: Path | None = None


__all__ = ["DEFAULT_CANDIDATE_TARGETS", "DEFAULT_CANDIDATE_TEMPERATURES", "PAIR_SELECTIONS", "LoopConfig", "LoopResult"]
